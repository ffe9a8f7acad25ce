//! What an index holds, for `zhsearch stats` and `zhsearch list`: counted from the last commit
//! (its file list and its passages), never from the corpus.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Result;
use tantivy::schema::IndexRecordOption;
use tantivy::{DocSet, TERMINATED, Term};

use super::{Content, IndexStore};

/// Counts of one commit of an index.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IndexStats {
    /// The corpus folder the index remembers.
    pub corpus: PathBuf,
    /// The index folder.
    pub index: PathBuf,
    /// File name extensions read as documents.
    pub extensions: Vec<String>,
    /// Documents indexed.
    pub documents: usize,
    /// Files read but not indexed (not text), or not readable.
    pub skipped: usize,
    /// Passages (paragraphs and lines) of the indexed documents.
    pub passages: u64,
    /// Bytes of the indexed documents, as on disk.
    pub text_bytes: u64,
    /// Bytes of the index folder.
    pub index_bytes: u64,
    /// When the last commit was written (seconds since the Unix epoch).
    pub last_update: Option<u64>,
}

/// The counts of `store`'s commit.
pub fn stats(store: &IndexStore) -> Result<IndexStats> {
    let indexed = |f: &&super::FileState| matches!(f.content, Content::Indexed { .. });
    let files = store.files();
    let by_source = passages_by_source(store.index())?;
    let meta = std::fs::metadata(store.dir().join("meta.json"))?;
    Ok(IndexStats {
        corpus: store.head().corpus.clone(),
        index: store.dir().to_path_buf(),
        extensions: store.head().extensions.clone(),
        documents: files.iter().filter(indexed).count(),
        skipped: files.iter().filter(|f| !indexed(f)).count(),
        passages: by_source.values().sum(),
        text_bytes: files.iter().filter(indexed).map(|f| f.size).sum(),
        index_bytes: folder_bytes(store.dir()),
        last_update: meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map(|d| d.as_secs()),
    })
}

/// Passages per document source, in one pass over the `source` column of every live
/// passage (each document's own entry, `file = 1`, is not a passage).
pub fn passages_by_source(index: &tantivy::Index) -> Result<HashMap<String, u64>> {
    let schema = index.schema();
    let (source, file) = (schema.get_field("source")?, schema.get_field("file")?);
    let searcher = index.reader()?.searcher();
    let mut counts: HashMap<String, u64> = HashMap::new();
    for reader in searcher.segment_readers() {
        let Some(column) = reader.fast_fields().str(schema.get_field_name(source))? else {
            continue;
        };
        let mut entries = reader
            .inverted_index(file)?
            .read_postings(&Term::from_field_u64(file, 1), IndexRecordOption::Basic)?;
        let mut next_entry = entries.as_mut().map_or(TERMINATED, |p| p.doc());
        let mut per_ord: HashMap<u64, u64> = HashMap::new();
        for doc in reader.doc_ids_alive() {
            while next_entry < doc {
                next_entry = entries.as_mut().map_or(TERMINATED, |p| p.advance());
            }
            if next_entry == doc {
                continue;
            }
            if let Some(ord) = column.term_ords(doc).next() {
                *per_ord.entry(ord).or_default() += 1;
            }
        }
        let mut name = String::new();
        for (ord, n) in per_ord {
            name.clear();
            column.ord_to_str(ord, &mut name)?;
            *counts.entry(name.clone()).or_default() += n;
        }
    }
    Ok(counts)
}

/// Bytes of the files under `dir` (links not followed).
fn folder_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter_map(|e| Some((e.path(), e.file_type().ok()?, e.metadata().ok()?)))
        .map(|(path, kind, meta)| {
            if kind.is_dir() {
                folder_bytes(&path)
            } else if kind.is_file() {
                meta.len()
            } else {
                0
            }
        })
        .sum()
}

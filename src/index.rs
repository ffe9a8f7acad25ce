//! The Tantivy index: its schema, how passages become index documents, and keeping the index
//! in step with the corpus (only added, changed and removed files are touched).
//!
//! The list of indexed files (with size, mtime and content hash) and the corpus folder travel in
//! the commit payload of `meta.json`, so they change atomically with the index they describe.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};
use tantivy::directory::MmapDirectory;
use tantivy::schema::{
    Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{PreTokenizedString, Token};
use tantivy::{Index, IndexWriter, TantivyDocument, Term};

use crate::analysis::{self, Normalized, Piece};
use crate::corpus::{self, Document, Passage, SourceFile};

/// Bumped whenever the schema or the analysis changes in a way that needs a rebuild.
pub const SCHEMA_VERSION: u32 = 3;
const FORMAT: &str = "zhsearch-index";

/// Handles to the fields of the schema.
#[derive(Clone, Copy)]
pub struct Fields {
    pub source: Field,
    pub line_start: Field,
    pub line_end: Field,
    pub paragraph: Field,
    pub text: Field,
    pub visible: Field,
    pub title: Field,
    /// Character tokens of the normalised title, for `title:` filters.
    pub title_chars: Field,
    pub date: Field,
    pub author: Field,
    pub url: Field,
    /// One token per normalised character, position = character index: exact substrings.
    pub chars: Field,
    /// jieba words of the visible text, position = character index: BM25 ranking.
    pub words: Field,
}

impl Fields {
    pub fn new(schema: &Schema) -> Result<Fields> {
        let f = |name: &str| {
            schema
                .get_field(name)
                .map_err(|_| anyhow!("index has no field {name}"))
        };
        Ok(Fields {
            source: f("source")?,
            line_start: f("line_start")?,
            line_end: f("line_end")?,
            paragraph: f("paragraph")?,
            text: f("text")?,
            visible: f("visible")?,
            title: f("title")?,
            title_chars: f("title_chars")?,
            date: f("date")?,
            author: f("author")?,
            url: f("url")?,
            chars: f("chars")?,
            words: f("words")?,
        })
    }
}

pub fn schema() -> Schema {
    let mut b = Schema::builder();
    let positions = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("raw")
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    b.add_text_field("source", STRING | STORED);
    b.add_u64_field("line_start", STORED | INDEXED);
    b.add_u64_field("line_end", STORED);
    b.add_u64_field("paragraph", STORED);
    b.add_text_field("text", STORED);
    b.add_text_field("visible", STORED);
    b.add_text_field("title", STORED);
    b.add_text_field("date", STORED);
    b.add_text_field("author", STORED);
    b.add_text_field("url", STORED);
    b.add_text_field("title_chars", positions.clone());
    b.add_text_field("chars", positions.clone());
    b.add_text_field("words", positions);
    b.build()
}

/// What the index knows about one corpus file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileState {
    pub source: String,
    pub size: u64,
    pub mtime_ns: u64,
    pub hash: String,
    /// The file could not be read as text; it is not indexed until it changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// The commit payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub schema: u32,
    pub corpus: PathBuf,
    pub files: Vec<FileState>,
}

/// Another process holds the index's writer lock.
#[derive(Debug)]
pub struct IndexBusy(pub PathBuf);

impl std::fmt::Display for IndexBusy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "another zhsearch process is writing the index in {}: wait for it to finish and try again",
            self.0.display()
        )
    }
}

impl std::error::Error for IndexBusy {}

/// The manifest of the index in `dir`, if there is a zhsearch index there.
pub fn read_manifest(dir: &Path) -> Option<Manifest> {
    let payload = Index::open_in_dir(dir).ok()?.load_metas().ok()?.payload?;
    serde_json::from_str::<Manifest>(&payload)
        .ok()
        .filter(|m| m.format == FORMAT)
}

/// What an update did.
#[derive(Debug, Default, Clone)]
pub struct UpdateReport {
    pub added: usize,
    pub changed: usize,
    pub removed: usize,
    pub unchanged: usize,
    pub passages_added: usize,
    pub skipped: Vec<(String, String)>,
    /// Why everything was rebuilt, when it was.
    pub rebuilt: Option<String>,
}

impl UpdateReport {
    pub fn is_noop(&self) -> bool {
        self.added + self.changed + self.removed == 0 && self.rebuilt.is_none()
    }
}

impl std::fmt::Display for UpdateReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} added, {} changed, {} removed, {} unchanged ({} passages indexed)",
            self.added, self.changed, self.removed, self.unchanged, self.passages_added
        )
    }
}

/// An opened index with its manifest.
pub struct Opened {
    pub index: Index,
    pub fields: Fields,
    pub manifest: Option<Manifest>,
}

/// Opens the index in `dir`, creating it when the folder is missing or empty. A folder holding
/// something else is refused, so that zhsearch never overwrites what is not its own.
pub fn open_or_create(dir: &Path) -> Result<Opened> {
    std::fs::create_dir_all(dir).with_context(|| {
        format!(
            "cannot create index folder {}: pass a writable folder with --index",
            dir.display()
        )
    })?;
    let has_meta = dir.join("meta.json").exists();
    if !has_meta {
        let mut entries = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read index folder {}", dir.display()))?
            .filter_map(|e| e.ok())
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'));
        if entries.next().is_some() {
            bail!(
                "{} is not a zhsearch index (no meta.json) and is not empty: pass an empty or new folder with --index",
                dir.display()
            );
        }
        let index = Index::create_in_dir(dir, schema())
            .with_context(|| format!("cannot create an index in {}", dir.display()))?;
        let fields = Fields::new(&index.schema())?;
        return Ok(Opened {
            index,
            fields,
            manifest: None,
        });
    }
    let directory = MmapDirectory::open(dir)
        .with_context(|| format!("cannot open index folder {}", dir.display()))?;
    let index = Index::open(directory).with_context(|| {
        format!(
            "index in {} is unreadable or corrupt: run `zhsearch index --rebuild --index {}`",
            dir.display(),
            dir.display()
        )
    })?;
    let metas = index.load_metas()?;
    let manifest = metas
        .payload
        .as_deref()
        .and_then(|p| serde_json::from_str::<Manifest>(p).ok());
    if metas.payload.is_some() && manifest.as_ref().is_none_or(|m| m.format != FORMAT) {
        bail!(
            "{} holds a Tantivy index that zhsearch did not write: pass another folder with --index",
            dir.display()
        );
    }
    let fields = match Fields::new(&index.schema()) {
        Ok(f)
            if manifest
                .as_ref()
                .is_some_and(|m| m.schema == SCHEMA_VERSION) =>
        {
            f
        }
        _ if manifest.is_none() && metas.segments.is_empty() => Fields::new(&index.schema())?,
        _ => {
            // Written by another version of zhsearch: start again in the same folder.
            drop(index);
            clear_dir(dir)?;
            let index = Index::create_in_dir(dir, schema())?;
            let fields = Fields::new(&index.schema())?;
            return Ok(Opened {
                index,
                fields,
                manifest: None,
            });
        }
    };
    Ok(Opened {
        index,
        fields,
        manifest,
    })
}

/// Removes the index files in `dir` (only those Tantivy and zhsearch write).
fn clear_dir(dir: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().to_string();
        let ours = name == "meta.json"
            || name == ".managed.json"
            || name.ends_with(".lock")
            || name.contains('.') && name.split('.').next().is_some_and(|s| s.len() == 32);
        if ours && entry.file_type()?.is_file() {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// Options for an update.
#[derive(Debug, Clone, Copy, Default)]
pub struct UpdateOptions {
    /// Reindex every file even when nothing changed.
    pub rebuild: bool,
}

/// Brings the index in `dir` in step with `corpus`.
pub fn update(corpus_dir: &Path, dir: &Path, opts: UpdateOptions) -> Result<UpdateReport> {
    let corpus_abs = std::fs::canonicalize(corpus_dir).with_context(|| {
        format!(
            "cannot read corpus folder {}: pass an existing folder with --corpus",
            corpus_dir.display()
        )
    })?;
    let files = corpus::list_files(&corpus_abs)?;
    let opened = open_or_create(dir)?;
    let mut report = UpdateReport::default();

    let mut old: Vec<FileState> = Vec::new();
    match &opened.manifest {
        None => report.rebuilt = Some("no index yet".into()),
        Some(m) if m.corpus != corpus_abs => {
            report.rebuilt = Some(format!(
                "the index was built from {}, not {}",
                m.corpus.display(),
                corpus_abs.display()
            ))
        }
        Some(_) if opts.rebuild => report.rebuilt = Some("--rebuild".into()),
        Some(m) => old = m.files.clone(),
    }

    // Decide per file: unchanged (same size and mtime, or same hash), added, changed.
    let mut todo: Vec<(SourceFile, Option<Vec<u8>>)> = Vec::new();
    let mut states: Vec<FileState> = Vec::new();
    for f in &files {
        let prev = old.iter().find(|s| s.source == f.source);
        if let Some(p) = prev
            && p.size == f.size
            && p.mtime_ns == f.mtime_ns
        {
            states.push(p.clone());
            report.unchanged += 1;
            continue;
        }
        let bytes = match std::fs::read(&f.path) {
            Ok(b) => b,
            Err(e) => {
                report
                    .skipped
                    .push((f.source.clone(), format!("cannot read it: {e}")));
                continue;
            }
        };
        let hash = blake3::hash(&bytes).to_hex().to_string();
        if let Some(p) = prev
            && p.hash == hash
        {
            states.push(FileState {
                mtime_ns: f.mtime_ns,
                size: f.size,
                ..p.clone()
            });
            report.unchanged += 1;
            continue;
        }
        if prev.is_some() {
            report.changed += 1;
        } else {
            report.added += 1;
        }
        states.push(FileState {
            source: f.source.clone(),
            size: f.size,
            mtime_ns: f.mtime_ns,
            hash,
            skipped: None,
        });
        todo.push((f.clone(), Some(bytes)));
    }
    let removed: Vec<&FileState> = old
        .iter()
        .filter(|s| !files.iter().any(|f| f.source == s.source))
        .collect();
    report.removed = removed.len();

    let manifest_unchanged = opened
        .manifest
        .as_ref()
        .is_some_and(|m| m.files == states && m.corpus == corpus_abs);
    if report.is_noop() && manifest_unchanged {
        return Ok(report);
    }

    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let mut writer: IndexWriter<TantivyDocument> = opened
        .index
        .writer_with_num_threads(threads, 48_000_000 * threads)
        .map_err(|e| match e {
            tantivy::TantivyError::LockFailure(..) => anyhow!(IndexBusy(dir.to_path_buf())),
            e => anyhow!(e).context(format!("cannot write the index in {}", dir.display())),
        })?;
    let fields = opened.fields;
    if report.rebuilt.is_some() {
        writer.delete_all_documents()?;
    } else {
        for s in removed {
            writer.delete_term(Term::from_field_text(fields.source, &s.source));
        }
        for (f, _) in &todo {
            writer.delete_term(Term::from_field_text(fields.source, &f.source));
        }
    }

    // Read, analyse and add files on every core; the writer is shared.
    let next = AtomicUsize::new(0);
    let outcome: Mutex<(usize, Vec<(String, String)>)> = Mutex::new((0, Vec::new()));
    let todo = Mutex::new(todo);
    let count = todo.lock().map(|t| t.len()).unwrap_or(0);
    std::thread::scope(|scope| -> Result<()> {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= count {
                            return Ok(());
                        }
                        let (file, bytes) = {
                            let mut t = todo.lock().expect("todo lock");
                            (t[i].0.clone(), t[i].1.take())
                        };
                        let bytes = bytes.unwrap_or_default();
                        match corpus::decode(&bytes, &file.path) {
                            Ok(text) => {
                                let doc = corpus::parse_document(&file.source, &text);
                                for p in &doc.passages {
                                    writer.add_document(passage_doc(&fields, &doc, p))?;
                                }
                                outcome.lock().expect("outcome lock").0 += doc.passages.len();
                            }
                            Err(e) => outcome
                                .lock()
                                .expect("outcome lock")
                                .1
                                .push((file.source.clone(), format!("{e:#}"))),
                        }
                    }
                })
            })
            .collect();
        for w in workers {
            w.join()
                .map_err(|_| anyhow!("an indexing thread panicked"))??;
        }
        Ok(())
    })?;
    let (passages, skipped) = outcome.into_inner().expect("outcome lock");
    report.passages_added = passages;
    for (source, why) in skipped {
        if let Some(s) = states.iter_mut().find(|s| s.source == source) {
            s.skipped = Some(why.clone());
        }
        report.skipped.push((source, why));
    }

    let manifest = Manifest {
        format: FORMAT.into(),
        schema: SCHEMA_VERSION,
        corpus: corpus_abs,
        files: states,
    };
    let mut commit = writer.prepare_commit()?;
    commit.set_payload(&serde_json::to_string(&manifest)?);
    commit.commit()?;
    writer.wait_merging_threads()?;
    Ok(report)
}

/// The index document of one passage.
fn passage_doc(f: &Fields, doc: &Document, p: &Passage) -> TantivyDocument {
    let mut d = TantivyDocument::new();
    d.add_text(f.source, &doc.source);
    d.add_u64(f.line_start, p.line_start as u64);
    d.add_u64(f.line_end, p.line_end as u64);
    d.add_u64(f.paragraph, p.paragraph as u64);
    d.add_text(f.text, &p.text);
    d.add_text(f.visible, encode_pieces(&p.visible));
    if let Some(t) = &doc.meta.title {
        d.add_text(f.title, t);
        d.add_pre_tokenized_text(f.title_chars, char_tokens(&analysis::normalize_mapped(t)));
    }
    for (field, value) in [
        (f.date, &doc.meta.date),
        (f.author, &doc.meta.author),
        (f.url, &doc.meta.url),
    ] {
        if let Some(v) = value {
            d.add_text(field, v);
        }
    }
    let visible = analysis::normalize_pieces(&p.visible);
    // The raw line is indexed too (except front matter keys), so that any string of the file
    // can be found; the visible text adds the strings that markup splits in the source.
    if !p.is_front_matter() {
        let raw = analysis::normalize_mapped(&p.text);
        d.add_pre_tokenized_text(f.chars, char_tokens(&raw));
        if raw.text != visible.text {
            d.add_pre_tokenized_text(f.chars, char_tokens(&visible));
        }
        let words = analysis::index_words(&visible.text)
            .into_iter()
            .map(|w| token(w.text, w.chars.start))
            .collect();
        d.add_pre_tokenized_text(f.words, pretokenized(words));
    } else {
        d.add_pre_tokenized_text(f.chars, char_tokens(&visible));
    }
    d
}

fn char_tokens(n: &Normalized) -> PreTokenizedString {
    let tokens = n.chars().map(|(i, c)| token(c.to_string(), i)).collect();
    pretokenized(tokens)
}

fn token(text: String, position: usize) -> Token {
    Token {
        offset_from: 0,
        offset_to: 0,
        position,
        text,
        position_length: 1,
    }
}

/// Tokens without their text: the fields are not stored and offsets are kept by zhsearch.
fn pretokenized(tokens: Vec<Token>) -> PreTokenizedString {
    PreTokenizedString {
        text: String::new(),
        tokens,
    }
}

/// Visible pieces as stored: `[start, end]` for a verbatim slice, `[start, end, text]` else.
fn encode_pieces(pieces: &[Piece]) -> String {
    let v: Vec<serde_json::Value> = pieces
        .iter()
        .map(|p| {
            if p.verbatim {
                serde_json::json!([p.orig.start, p.orig.end])
            } else {
                serde_json::json!([p.orig.start, p.orig.end, p.text])
            }
        })
        .collect();
    serde_json::Value::Array(v).to_string()
}

/// Inverse of [`encode_pieces`] for the passage `text`.
pub fn decode_pieces(text: &str, encoded: &str) -> Vec<Piece> {
    let parsed: Vec<Vec<serde_json::Value>> = serde_json::from_str(encoded).unwrap_or_default();
    parsed
        .into_iter()
        .filter_map(|item| {
            let start = item.first()?.as_u64()? as usize;
            let end = item.get(1)?.as_u64()? as usize;
            let range: Range<usize> = start..end;
            text.get(range.clone())?;
            match item.get(2).and_then(|t| t.as_str()) {
                Some(t) => Some(Piece::mapped(t, range)),
                None => Some(Piece::verbatim(text, range)),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_round_trip_through_storage() {
        let text = "**粗**&amp;x";
        let pieces = vec![Piece::verbatim(text, 2..5), Piece::mapped("&", 7..12)];
        assert_eq!(decode_pieces(text, &encode_pieces(&pieces)), pieces);
        assert!(decode_pieces(text, "not json").is_empty());
        assert!(decode_pieces(text, "[[0,999]]").is_empty());
    }
}

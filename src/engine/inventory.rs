//! What the index holds, for `list`, `stats` and the server's status: its documents, their
//! metadata and passage counts, and the commit's sizes.

use super::*;

/// A document of the index, as `zhsearch list` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Document {
    /// Its path relative to the corpus, with `/`.
    pub source: String,
    /// Title, author, date, address and encoding.
    #[serde(flatten)]
    pub meta: DocMeta,
    /// How many passages of it are indexed.
    pub passages: u64,
    /// Its size in bytes when it was read.
    pub bytes: u64,
    /// Why it is not indexed, when it is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

impl Engine {
    /// The documents of the last commit: the only files the engine reads back.
    pub fn listed(&self) -> Result<Listed> {
        if let Some(r) = &self.remote {
            return r.listed()?.ok_or_else(|| self.no_index());
        }
        Ok(Listed::of_store(&self.snapshot()?.store))
    }

    /// The files of the last commit, as the index recorded them.
    pub fn files(&self) -> Result<Vec<store::FileState>> {
        if let Some(r) = &self.remote {
            return r.files()?.ok_or_else(|| self.no_index());
        }
        Ok(self.snapshot()?.store.files().to_vec())
    }

    /// What the last commit holds: documents, passages, sizes, when it was written.
    pub fn stats(&self) -> Result<IndexStats> {
        let snapshot = self.snapshot()?;
        store::stats::stats(&snapshot.store).map_err(|e| damaged(self.index_dir(), e))
    }

    /// The documents of the last commit with their metadata and passage counts, by path
    /// (files read but not indexed too, with why).
    pub fn documents(&self) -> Result<Vec<Document>> {
        let snapshot = self.snapshot()?;
        let counts = store::stats::passages_by_source(snapshot.store.index())
            .map_err(|e| damaged(self.index_dir(), e))?;
        let backend = snapshot.searcher.backend();
        let mut documents = Vec::new();
        for f in snapshot.store.files() {
            let meta = match f.skipped() {
                Some(_) => DocMeta::default(),
                None => backend
                    .doc_meta(&f.source)
                    .map_err(|e| damaged(self.index_dir(), e))?,
            };
            documents.push(Document {
                source: f.source.clone(),
                passages: counts.get(&f.source).copied().unwrap_or(0),
                bytes: f.size,
                skipped: f.skipped().map(str::to_string),
                meta,
            });
        }
        Ok(documents)
    }

    /// The passages (the searchable pieces of the documents) in the last commit.
    pub fn passages(&self) -> Result<u64> {
        use crate::search::Vocabulary;
        let snapshot = self.snapshot()?;
        // Each indexed file has one entry for its metadata besides its passages.
        let files = snapshot
            .store
            .files()
            .iter()
            .filter(|f| f.skipped().is_none());
        let entries = snapshot.searcher.backend().passages();
        Ok(entries.saturating_sub(files.count() as u64))
    }
}

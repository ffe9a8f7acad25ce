//! The index folder and everything in it: one owner, [`IndexStore`], reads its marker,
//! `meta.json` and file list once per open and hands out what others need; [`update()`]
//! brings it in step with the corpus. Nothing outside this module reads those files.
//!
//! - [`folder`]: which folders are ours, creating, opening and clearing them;
//! - [`marker`]: the marker file; [`manifest`]: the list of indexed files;
//! - [`dir`]: the Tantivy directory (readers write nothing; `meta.json` read once);
//! - [`index`]: the schema; [`update`](mod@update): plan, apply, commit; [`report`]: what an update says;
//! - [`errors`]: what goes wrong, as [`StoreError`].

pub mod clear;
pub mod dir;
pub mod errors;
pub mod folder;
pub mod index;
pub mod manifest;
pub mod marker;
pub mod report;
pub mod update;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::anyhow;

pub use errors::{Setting, StoreError, is_missing_file};
pub use manifest::{Content, FileState, Head};
pub use marker::{MARKER, Marker, holds_marker};
pub use report::{NoReport, Progress, RebuildReason, Reporter, UpdateReport, Warning};
pub use update::{UpdateOptions, parse_extensions, update};

use crate::store::dir::MetaCache;
use crate::store::folder::{Found, MetaBytes};

/// An open index folder: a snapshot of one commit (its head, its file list and the Tantivy
/// index opened on it, tokenizers registered). Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct IndexStore {
    dir: PathBuf,
    head: Head,
    files: Arc<Vec<FileState>>,
    index: tantivy::Index,
    marker: Option<Marker>,
    /// The `meta.json` of this commit, as read or written.
    meta: MetaBytes,
    /// What the index's directory serves as `meta.json` (shared with its readers and writer).
    cache: MetaCache,
    /// The marker, when this user may not read it: the index is searched, never written.
    marker_denied: Option<PathBuf>,
}

impl std::fmt::Debug for IndexStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexStore")
            .field("dir", &self.dir)
            .field("head", &self.head)
            .field("files", &self.files.len())
            .finish_non_exhaustive()
    }
}

impl IndexStore {
    /// Opens the index in `dir` for reading; nothing is written. `Ok(None)`: `dir` holds no
    /// zhsearch index yet (missing or empty folder, or a first build that did not finish).
    pub fn open(dir: &Path) -> Result<Option<IndexStore>, StoreError> {
        let marker_path = dir.join(MARKER);
        let (found, marker_denied) = match folder::inspect(dir).map_err(StoreError::from_anyhow) {
            Err(StoreError::Permission { path, .. }) if path == marker_path => {
                let found = folder::inspect_for_reading(dir).map_err(StoreError::from_anyhow)?;
                (found, Some(path))
            }
            other => (other?, None),
        };
        let (marker, head, meta) = match found {
            Found::Missing | Found::Empty | Found::Unfinished(_) => return Ok(None),
            Found::Ours { marker, head, meta } => (marker, head, meta),
        };
        let Some(head) = head else {
            let why = match meta {
                Some(_) => "its meta.json is not one zhsearch committed",
                None => "it has no meta.json",
            };
            return Err(StoreError::Damaged {
                dir: dir.to_path_buf(),
                why: why.into(),
            });
        };
        let damaged = |e: anyhow::Error| match StoreError::from_anyhow(e) {
            StoreError::Other(e) => StoreError::Damaged {
                dir: dir.to_path_buf(),
                why: errors::short(&format!("{e:#}")),
            },
            typed => typed,
        };
        let meta = meta.ok_or_else(|| damaged(anyhow!("it has no meta.json")))?;
        let (index, cache, files) =
            folder::open_existing(dir, Some(&head), Some(meta.clone())).map_err(damaged)?;
        Ok(Some(IndexStore {
            dir: dir.to_path_buf(),
            head,
            files: Arc::new(files),
            index,
            marker,
            meta,
            cache,
            marker_denied,
        }))
    }

    /// The index folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The head of the commit: corpus folder, extensions, schema.
    pub fn head(&self) -> &Head {
        &self.head
    }

    /// The files of the commit, sorted by source.
    pub fn files(&self) -> &[FileState] {
        &self.files
    }

    /// The Tantivy index, opened for reading, its tokenizers registered.
    pub fn index(&self) -> &tantivy::Index {
        &self.index
    }

    /// The folder as [`folder::inspect`] would find it, from this snapshot.
    fn found(&self) -> Found {
        Found::Ours {
            marker: self.marker.clone(),
            head: Some(self.head.clone()),
            meta: Some(self.meta.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "zhsearch-store-{name}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(dir.join("corpus")).unwrap();
        std::fs::write(dir.join("corpus/a.txt"), "第一篇文章\n").unwrap();
        dir
    }

    fn build(dir: &Path) -> IndexStore {
        let options = UpdateOptions::default();
        let corpus = dir.join("corpus");
        update(&dir.join("index"), Some(&corpus), &options, None, &NoReport)
            .unwrap()
            .1
    }

    #[test]
    fn an_up_to_date_store_is_checked_and_searched_without_reading_the_index_again() {
        let dir = scratch("snapshot");
        let idx = dir.join("index");
        build(&dir);
        assert!(IndexStore::open(&dir.join("nothing")).unwrap().is_none());
        let store = IndexStore::open(&idx).unwrap().unwrap();
        assert_eq!(store.files().len(), 1);
        // Neither the freshness check nor a reader reads meta.json or the list again.
        let list = idx.join(store.head().files_in.as_deref().unwrap());
        std::fs::rename(idx.join("meta.json"), dir.join("meta.json")).unwrap();
        std::fs::rename(&list, dir.join("list.json")).unwrap();
        let options = UpdateOptions::default();
        let (report, same) = update(&idx, None, &options, Some(&store), &()).unwrap();
        assert!(report.is_noop());
        assert!(Arc::ptr_eq(&same.files, &store.files));
        let reader = same.index().reader().unwrap();
        assert_eq!(reader.searcher().num_docs(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_commit_made_since_the_store_was_opened_is_not_overwritten() {
        let dir = scratch("stale");
        let idx = dir.join("index");
        build(&dir);
        let old = IndexStore::open(&idx).unwrap().unwrap();
        // Another process adds b.txt; then this one, from its old snapshot, sees c.txt too.
        std::fs::write(dir.join("corpus/b.txt"), "第二篇\n").unwrap();
        build(&dir);
        std::fs::write(dir.join("corpus/c.txt"), "第三篇\n").unwrap();
        let options = UpdateOptions::default();
        let (report, store) = update(&idx, None, &options, Some(&old), &()).unwrap();
        assert_eq!((report.added, report.unchanged), (1, 2));
        let sources: Vec<&str> = store.files().iter().map(|f| f.source.as_str()).collect();
        assert_eq!(sources, ["a.txt", "b.txt", "c.txt"]);
        let reopened = IndexStore::open(&idx).unwrap().unwrap();
        assert_eq!(reopened.files(), store.files());
        // One meta entry and one passage per file.
        assert_eq!(store.index().reader().unwrap().searcher().num_docs(), 6);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

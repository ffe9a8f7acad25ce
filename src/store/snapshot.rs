//! [`IndexStore`]: an open index folder, the one reader of its marker, `meta.json` and file
//! list.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::anyhow;

use crate::store::dir::MetaCache;
use crate::store::errors::{self, StoreError};
use crate::store::file_list::FileList;
use crate::store::folder::{self, Found, MetaBytes};
use crate::store::manifest::{FileState, Head};
use crate::store::marker::{MARKER, Marker};

/// An open index folder: a snapshot of one commit (its head, its file list and the Tantivy
/// index opened on it, tokenizers registered). Cheap to clone; `Send + Sync`.
///
/// The Tantivy index is served the `meta.json` read when the store was opened, so readers
/// made from it see this commit, whatever another process commits meanwhile. An update made
/// through this store ([`crate::store::update()`] with `current`) commits through the same
/// directory: readers made from any clone afterwards see that commit, which the store it
/// returns describes.
#[derive(Clone)]
pub struct IndexStore {
    pub(crate) dir: PathBuf,
    pub(crate) head: Head,
    pub(crate) files: Arc<FileList>,
    pub(crate) index: tantivy::Index,
    pub(crate) marker: Option<Marker>,
    /// The `meta.json` of this commit, as read or written.
    pub(crate) meta: MetaBytes,
    /// What the index's directory serves as `meta.json` (shared with its readers and writer).
    pub(crate) cache: MetaCache,
    /// The marker, when this user may not read it: the index is searched, never written.
    pub(crate) marker_denied: Option<PathBuf>,
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
            StoreError::Other(e) => errors::unopenable(dir, e),
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
        self.files.all()
    }

    /// The files of the commit, as read (each entry read when it is asked for).
    pub fn file_list(&self) -> &FileList {
        &self.files
    }

    /// The Tantivy index, opened for reading, its tokenizers registered.
    pub fn index(&self) -> &tantivy::Index {
        &self.index
    }

    /// Whether `other` is a snapshot of the same commit (the same `meta.json`).
    pub fn same_commit(&self, other: &IndexStore) -> bool {
        self.dir == other.dir && self.meta == other.meta
    }

    /// The folder as [`folder::inspect`] would find it, from this snapshot.
    pub(crate) fn found(&self) -> Found {
        Found::Ours {
            marker: self.marker.clone(),
            head: Some(self.head.clone()),
            meta: Some(self.meta.clone()),
        }
    }
}

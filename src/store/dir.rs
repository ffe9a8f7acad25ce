//! The Tantivy directory of an index folder.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use anyhow::{Result, anyhow};
use tantivy::directory::error::{
    DeleteError, LockError, OpenDirectoryError, OpenReadError, OpenWriteError,
};
use tantivy::directory::{
    Directory, DirectoryLock, FileHandle, Lock, META_LOCK, MmapDirectory, WatchCallback,
    WatchHandle, WritePtr,
};

use crate::store::clear::is_segment_file;
use crate::store::errors::StoreError;
use crate::store::marker::atomic_write;
use crate::store::ranged::{self, RangedFile};

/// Bytes written to a segment file at a time. The kernel keeps a file's cached pages in
/// pieces ("folios") as large as the writes that made them, and a fault on a mapped file maps
/// the pages around it piece by piece: with Tantivy's 8 KB writes, a search on the ×10 bench
/// index spent a tenth of its time in the kernel walking 4 KB pieces (`next_uptodate_folio`).
/// That index copied with 1 MB writes searched in 8.89 ms instead of 12.90 (838 → 515 page
/// faults; with 8 KB writes 10.68 ms); the 74 MB index built with them, 4.37 instead of 4.80
/// ms (`--no-refresh`, medians over the bench queries, whole process, alternated).
const WRITE_BUFFER: usize = 1 << 20;

/// Tantivy's memory-mapped directory, changed in three ways so that an index can be searched
/// by a user who may only read it, and so that its files are readable by whoever may read the
/// folder:
/// - the lock a reader takes while it opens segments (`META_LOCK`) is never taken, so that a
///   search writes nothing, not even a lock file, whoever runs it. What that lock guarded
///   against, a writer's garbage collection deleting the files of a segment that a new
///   commit replaced while a reader opens it, makes the open fail on a missing file; readers
///   then open the new commit instead (see `cli::open_searcher`);
/// - `.managed.json`, the list of files only a writer's garbage collection needs, counts as
///   absent when it cannot be read;
/// - atomic writes create their files with the default permissions;
/// - `meta.json` is read from disk once: Tantivy reads it again for every reader and writer it
///   makes, and is served this process's copy (the one read, or the last one written);
/// - in a process that searches once, files are read in ranges rather than mapped (see
///   [`ranged`]).
#[derive(Clone, Debug)]
pub struct StoreDir {
    inner: MmapDirectory,
    root: PathBuf,
    meta: MetaCache,
}

/// The copy of `meta.json` a [`StoreDir`] serves, shared by its clones (the index's readers
/// and writer): `None` until it is read or written.
#[derive(Clone, Debug, Default)]
pub struct MetaCache(Arc<RwLock<Option<Arc<Vec<u8>>>>>);

impl MetaCache {
    /// A cache holding `bytes`, the content of `meta.json` just read.
    pub fn holding(bytes: Option<Arc<Vec<u8>>>) -> MetaCache {
        MetaCache(Arc::new(RwLock::new(bytes)))
    }

    /// The copy held.
    pub fn get(&self) -> Option<Arc<Vec<u8>>> {
        self.0.read().map_or(None, |m| m.clone())
    }

    fn set(&self, bytes: Option<Arc<Vec<u8>>>) {
        if let Ok(mut m) = self.0.write() {
            *m = bytes;
        }
    }
}

/// Tantivy's name for the file of the last commit.
const META: &str = "meta.json";

impl StoreDir {
    /// The directory `dir`, serving `meta` as its `meta.json` until a commit writes another.
    pub fn open(dir: &Path, meta: MetaCache) -> Result<StoreDir> {
        let inner = MmapDirectory::open(dir).map_err(|e| match &e {
            OpenDirectoryError::IoError { io_error, .. }
                if io_error.kind() == io::ErrorKind::PermissionDenied =>
            {
                anyhow!(StoreError::Permission {
                    path: dir.to_path_buf(),
                    doing: "reading the index in",
                })
            }
            _ => anyhow!(e),
        })?;
        Ok(StoreDir {
            inner,
            root: dir.to_path_buf(),
            meta,
        })
    }
}

impl Directory for StoreDir {
    fn get_file_handle(&self, path: &Path) -> Result<Arc<dyn FileHandle>, OpenReadError> {
        if ranged::in_ranges() {
            return RangedFile::open(&self.root.join(path), path);
        }
        self.inner.get_file_handle(path)
    }

    fn delete(&self, path: &Path) -> Result<(), DeleteError> {
        // Tantivy's garbage collection deletes whatever `.managed.json` lists: an edited list
        // must not turn an update into the deletion of other files, in this folder or outside
        // it. Only a segment file of this folder, by its plain name, is ever deleted.
        let plain = matches!(
            path.components().collect::<Vec<_>>().as_slice(),
            [std::path::Component::Normal(_)]
        );
        if !plain || !path.to_str().is_some_and(is_segment_file) {
            return Err(DeleteError::FileDoesNotExist(path.to_path_buf()));
        }
        self.inner.delete(path)
    }

    fn exists(&self, path: &Path) -> Result<bool, OpenReadError> {
        self.inner.exists(path)
    }

    fn open_write(&self, path: &Path) -> Result<WritePtr, OpenWriteError> {
        let written = self.inner.open_write(path)?;
        // Nothing is buffered yet. Tantivy's managed directory takes the outer buffer away in
        // turn (to put its checksum behind one of its own): the large one is the inner.
        let file = written.into_inner().map_err(|e| OpenWriteError::IoError {
            io_error: Arc::new(e.into_error()),
            filepath: path.to_path_buf(),
        })?;
        let large = io::BufWriter::with_capacity(WRITE_BUFFER, file);
        Ok(io::BufWriter::new(Box::new(large)))
    }

    fn atomic_read(&self, path: &Path) -> Result<Vec<u8>, OpenReadError> {
        let is_meta = path == Path::new(META);
        if is_meta && let Some(bytes) = self.meta.get() {
            return Ok(bytes.to_vec());
        }
        match self.inner.atomic_read(path) {
            Ok(bytes) if is_meta => {
                self.meta.set(Some(Arc::new(bytes.clone())));
                Ok(bytes)
            }
            Err(OpenReadError::IoError { io_error, .. })
                if path == Path::new(".managed.json")
                    && io_error.kind() == io::ErrorKind::PermissionDenied =>
            {
                Err(OpenReadError::FileDoesNotExist(path.to_path_buf()))
            }
            other => other,
        }
    }

    fn atomic_write(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        let written = atomic_write(&self.root.join(path), data);
        if path == Path::new(META) {
            // Written: served from now on. Failed: what is on disk is unknown, read it again.
            self.meta
                .set(written.as_ref().ok().map(|()| Arc::new(data.to_vec())));
        }
        written
    }

    fn acquire_lock(&self, lock: &Lock) -> Result<DirectoryLock, LockError> {
        if lock.filepath == META_LOCK.filepath {
            return Ok(DirectoryLock::from(Box::new(())));
        }
        self.inner.acquire_lock(lock)
    }

    fn watch(&self, watch_callback: WatchCallback) -> tantivy::Result<WatchHandle> {
        self.inner.watch(watch_callback)
    }

    fn sync_directory(&self) -> io::Result<()> {
        self.inner.sync_directory()
    }
}

//! The index folder: which folders are zhsearch's, creating, opening and clearing them, and
//! the Tantivy directory through which readers without write access can search.
//!
//! A folder is an index of ours only when it holds our marker (written first, atomically, when
//! the index is created) or a commit whose payload zhsearch wrote (indexes made before the
//! marker existed; the marker is added on their next write). Anything else is never written
//! into, and only the files an index writes are ever deleted, and only from a folder of ours.

pub mod index;
pub mod manifest;
pub mod update;

use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Result, anyhow};
use serde::{Deserialize, Serialize};
use tantivy::directory::error::{
    DeleteError, LockError, OpenDirectoryError, OpenReadError, OpenWriteError,
};
use tantivy::directory::{
    Directory, DirectoryLock, FileHandle, INDEX_WRITER_LOCK, Lock, META_LOCK, MmapDirectory,
    WatchCallback, WatchHandle, WritePtr,
};
use tantivy::store::{Compressor, ZstdCompressor};
use tantivy::{Index, IndexSettings};

use crate::store::index::{FORMAT, Fields, SCHEMA_VERSION};
use crate::store::manifest::{Head, Manifest};

/// zhsearch's marker: the proof that a folder is an index of ours.
pub const MARKER: &str = "zhsearch-index.json";

/// The content of the marker: enough to rebuild the index with nothing else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marker {
    pub format: String,
    pub schema: u32,
    pub corpus: PathBuf,
    pub extensions: Vec<String>,
}

impl Marker {
    pub fn new(corpus: &Path, extensions: &[String]) -> Marker {
        Marker {
            format: FORMAT.into(),
            schema: SCHEMA_VERSION,
            corpus: corpus.to_path_buf(),
            extensions: extensions.to_vec(),
        }
    }

    fn to_head(&self) -> Head {
        Head {
            format: self.format.clone(),
            schema: self.schema,
            corpus: self.corpus.clone(),
            extensions: self.extensions.clone(),
            files_in: None,
        }
    }

    fn from_head(h: &Head) -> Marker {
        Marker {
            format: h.format.clone(),
            schema: h.schema,
            corpus: h.corpus.clone(),
            extensions: h.extensions.clone(),
        }
    }
}

/// What went wrong with the index folder, for the callers that act on the kind.
#[derive(Debug)]
pub enum StoreError {
    /// Another process holds the writer lock.
    Busy(PathBuf),
    /// The folder holds files that zhsearch did not write.
    NotOurs { dir: PathBuf, why: String },
    /// An index of ours that cannot be read.
    Damaged { dir: PathBuf, why: String },
    /// The user may not do this to `path`.
    Permission { path: PathBuf, doing: &'static str },
    /// The file system has no room left; the last commit, if any, is kept.
    DiskFull { dir: PathBuf, committed: bool },
    /// Any other failed write; the last commit, if any, is kept.
    WriteFailed {
        dir: PathBuf,
        cause: String,
        committed: bool,
    },
    /// The index folder has no write permission at all (`chmod -R a-w`): it is only searched,
    /// even by a user the permissions would not stop (root).
    ReadOnly(PathBuf),
    /// The command would silently change what the index holds.
    Changed {
        dir: PathBuf,
        what: &'static str,
        old: String,
        new: String,
        fix: String,
    },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Busy(dir) => write!(
                f,
                "another zhsearch process is writing the index in {}: wait for it to finish and try again",
                dir.display()
            ),
            StoreError::NotOurs { dir, why } => write!(
                f,
                "{} is not a zhsearch index ({why}); zhsearch never writes into or deletes from such a folder: pass a new or empty folder with --index",
                dir.display()
            ),
            StoreError::Damaged { dir, why } => write!(
                f,
                "the index in {} is damaged ({why}): run `zhsearch index --rebuild --index {}`",
                dir.display(),
                dir.display()
            ),
            StoreError::Permission { path, doing } => write!(
                f,
                "permission denied {doing} {}: run zhsearch as a user allowed to, or pass another folder with --index",
                path.display()
            ),
            StoreError::DiskFull { dir, committed } => write!(
                f,
                "cannot write the index in {}: no space left on the device (what was half written is removed, {}): free some space and run `zhsearch index` again",
                dir.display(),
                kept(*committed)
            ),
            StoreError::WriteFailed {
                dir,
                cause,
                committed,
            } => write!(
                f,
                "cannot write the index in {} ({cause}); {}",
                dir.display(),
                kept(*committed)
            ),
            StoreError::ReadOnly(dir) => write!(
                f,
                "the index in {} is read-only (no write permission at all): make it writable (`chmod -R u+w {}`) to update it",
                dir.display(),
                dir.display()
            ),
            StoreError::Changed {
                dir,
                what,
                old,
                new,
                fix,
            } => write!(
                f,
                "the index in {} holds {what} {old}, not {new}; only `zhsearch index --rebuild` changes what an index holds: run `{fix}`, or pass a new --index",
                dir.display()
            ),
        }
    }
}

impl std::error::Error for StoreError {}

/// What a failed write leaves of the index, as its error says it.
fn kept(committed: bool) -> &'static str {
    if committed {
        "the last commit is kept"
    } else {
        "there is no commit yet"
    }
}

/// Refuses to write into an index folder that has no write permission bit at all: someone
/// made it read-only on purpose, and the permissions do not stop root.
pub fn refuse_read_only(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(md) = std::fs::metadata(dir)
            && md.permissions().mode() & 0o222 == 0
        {
            return Err(anyhow!(StoreError::ReadOnly(dir.to_path_buf())));
        }
    }
    Ok(())
}

/// Whether opening an index failed on a file that does not exist (any more).
pub fn is_missing_file(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<tantivy::TantivyError>(),
            Some(tantivy::TantivyError::OpenReadError(
                OpenReadError::FileDoesNotExist(_)
            ))
        ) || matches!(
            c.downcast_ref::<OpenReadError>(),
            Some(OpenReadError::FileDoesNotExist(_))
        ) || c
            .downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::NotFound)
    })
}

impl StoreError {
    /// A write that could not be done, where searching the last commit is the right answer.
    pub fn is_write_failure(&self) -> bool {
        matches!(
            self,
            StoreError::Busy(_)
                | StoreError::Permission { .. }
                | StoreError::DiskFull { .. }
                | StoreError::WriteFailed { .. }
                | StoreError::ReadOnly(_)
        )
    }
}

/// The one-line cause of an error, shortened: Tantivy's can hold a whole file.
fn short(e: &dyn fmt::Display) -> String {
    let s = e.to_string();
    let line = s.lines().next().unwrap_or("");
    match line.char_indices().nth(160) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line.to_string(),
    }
}

/// Whether an error (anywhere in its chain, or in its text: Tantivy wraps I/O errors in its
/// own) says the disk or the quota is full.
fn is_disk_full(e: &anyhow::Error) -> bool {
    let io_full = e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| matches!(io.raw_os_error(), Some(28 | 122)))
    });
    let text = format!("{e:#}");
    io_full
        || text.contains("No space left on device")
        || text.contains("os error 28")
        || text.contains("Disk quota exceeded")
}

fn is_permission(e: &anyhow::Error) -> bool {
    let io_denied = e.chain().any(|c| {
        c.downcast_ref::<io::Error>().is_some_and(|io| {
            matches!(
                io.kind(),
                io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem
            )
        })
    });
    let text = format!("{e:#}");
    io_denied || text.contains("Permission denied") || text.contains("Read-only file system")
}

/// Whether the file system of `dir` refuses to store a little more: Tantivy's indexing
/// threads report an I/O error only as "index writer was killed", so a failed write is asked
/// again, before what it wrote is removed.
fn no_room_left(dir: &Path) -> bool {
    let probe = dir.join(PROBE);
    // Never over a file of that name that is not this probe's.
    let mut f = match std::fs::File::options()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(f) => f,
        Err(e) => return matches!(e.raw_os_error(), Some(28 | 122)),
    };
    let written = f.write_all(&[0u8; 256 << 10]).and_then(|()| f.sync_all());
    let _ = std::fs::remove_file(&probe);
    written.is_err_and(|e| matches!(e.raw_os_error(), Some(28 | 122)))
}

/// The file [`no_room_left`] writes.
const PROBE: &str = ".zhsearch-probe.tmp";

/// The typed error for a write to the index in `dir` that failed with `e`.
pub fn write_error(dir: &Path, e: anyhow::Error) -> anyhow::Error {
    if e.downcast_ref::<StoreError>().is_some() {
        return e;
    }
    let dir = dir.to_path_buf();
    let committed = manifest::read_head(&dir).is_some();
    let typed = if is_disk_full(&e) || (!is_permission(&e) && no_room_left(&dir)) {
        StoreError::DiskFull { dir, committed }
    } else if is_permission(&e) {
        StoreError::Permission {
            path: dir,
            doing: "writing the index in",
        }
    } else {
        StoreError::WriteFailed {
            cause: short(&format!("{e:#}")),
            dir,
            committed,
        }
    };
    anyhow!(typed)
}

fn io_error(path: &Path, doing: &'static str, e: io::Error) -> anyhow::Error {
    match e.kind() {
        io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => {
            anyhow!(StoreError::Permission {
                path: path.to_path_buf(),
                doing,
            })
        }
        _ => write_error(
            path,
            anyhow!(e).context(format!("{doing} {}", path.display())),
        ),
    }
}

/// What a folder given with `--index` holds.
pub enum Found {
    /// Nothing there yet.
    Missing,
    /// An empty folder (no file at all, hidden ones included).
    Empty,
    /// Our marker, no commit of ours: a first build that did not finish.
    Unfinished(Marker),
    /// An index of ours. `head` is that of the last commit when `meta.json` can be read.
    Ours {
        marker: Option<Marker>,
        head: Option<Head>,
    },
}

impl Found {
    /// The head of the last commit.
    pub fn committed(&self) -> Option<&Head> {
        match self {
            Found::Ours { head, .. } => head.as_ref(),
            _ => None,
        }
    }

    /// The corpus and extensions the folder knows: the last commit's, else the marker's.
    pub fn known(&self) -> Option<Marker> {
        match self {
            Found::Ours {
                head: Some(h),
                marker,
            } => Some(
                marker
                    .clone()
                    .filter(|m| m.corpus == h.corpus && m.extensions == h.extensions)
                    .unwrap_or_else(|| Marker::from_head(h)),
            ),
            Found::Ours { marker, .. } => marker.clone(),
            Found::Unfinished(m) => Some(m.clone()),
            _ => None,
        }
    }
}

/// Reads the marker in `dir`: `Ok(None)` when there is none, `Err` with the reason when a file
/// of that name is not ours.
fn read_marker(dir: &Path) -> Result<Option<Marker>, String> {
    let text = match std::fs::read_to_string(dir.join(MARKER)) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read its {MARKER}: {e}")),
    };
    serde_json::from_str::<Marker>(&text)
        .ok()
        .filter(|m| m.format == FORMAT)
        .map(Some)
        .ok_or_else(|| format!("its {MARKER} was not written by zhsearch"))
}

/// Whether `dir` holds a marker zhsearch wrote: an index folder, never a corpus folder.
pub fn holds_marker(dir: &Path) -> bool {
    matches!(read_marker(dir), Ok(Some(_)))
}

/// Writes the marker atomically (a temporary file, synced, renamed, the folder synced), so
/// that a marker is always whole.
pub fn write_marker(dir: &Path, marker: &Marker) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(marker)?;
    atomic_write(&dir.join(MARKER), &bytes)
        .map_err(|e| io_error(dir, "writing the index marker in", e))
}

/// Writes `path` through a temporary file beside it, with the permissions of any new file
/// (Tantivy's own atomic write makes its files readable by their owner only, which keeps
/// other users from searching an index they may read).
fn atomic_write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    // Named by process: two first builds racing for a new folder never share one.
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    if let Some(parent) = path.parent() {
        // Durable rename; a folder that cannot be opened for syncing is not an error.
        let _ = std::fs::File::open(parent).and_then(|d| d.sync_all());
    }
    Ok(())
}

/// Looks at the folder `dir` without writing anything, and refuses one that is not ours.
pub fn inspect(dir: &Path) -> Result<Found> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Found::Missing),
        Err(e) if e.kind() == io::ErrorKind::NotADirectory => {
            return Err(anyhow!(StoreError::NotOurs {
                dir: dir.to_path_buf(),
                why: "a part of its path is a file".into(),
            }));
        }
        Err(_) if dir.is_file() => {
            return Err(anyhow!(StoreError::NotOurs {
                dir: dir.to_path_buf(),
                why: "it is a file".into(),
            }));
        }
        Err(e) => return Err(io_error(dir, "reading the index folder", e)),
    };
    let names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    if names.is_empty() {
        return Ok(Found::Empty);
    }
    // An index this user may not read is a permission problem, not damage or someone else's.
    for name in [MARKER, "meta.json"] {
        let path = dir.join(name);
        if let Err(e) = std::fs::File::open(&path)
            && e.kind() == io::ErrorKind::PermissionDenied
        {
            return Err(io_error(&path, "reading", e));
        }
    }
    let not_ours = |why: String| {
        anyhow!(StoreError::NotOurs {
            dir: dir.to_path_buf(),
            why,
        })
    };
    let marker = read_marker(dir).map_err(not_ours)?;
    let head = manifest::read_head(dir);
    match (marker, head) {
        (marker, Some(head)) => Ok(Found::Ours {
            marker,
            head: Some(head),
        }),
        (Some(marker), None) if has_commit_of_ours(dir, &names) => Ok(Found::Ours {
            marker: Some(marker),
            head: None,
        }),
        (Some(marker), None) => Ok(Found::Unfinished(marker)),
        (None, None) if let Some(found) = being_created(dir, &names)? => Ok(found),
        (None, None) => {
            let mut shown: Vec<&str> = names.iter().map(String::as_str).collect();
            shown.sort();
            let more = if shown.len() > 3 { ", …" } else { "" };
            shown.truncate(3);
            Err(not_ours(format!(
                "it holds {}{more} and no {MARKER}",
                shown.join(", ")
            )))
        }
    }
}

/// A folder holding only what a first build writes before its marker (its lock files, the
/// marker's temporary file): busy while that build holds the creation lock; else the leftover
/// of a killed one, whose temporary files are removed, and the folder counts as empty.
fn being_created(dir: &Path, names: &[String]) -> Result<Option<Found>> {
    let marker_tmp = |n: &str| {
        n.strip_prefix(&format!(".{MARKER}."))
            .and_then(|n| n.strip_suffix(".tmp"))
            .is_some_and(|pid| !pid.is_empty() && pid.chars().all(|c| c.is_ascii_digit()))
    };
    let lock = |n: &str| {
        [&*INDEX_WRITER_LOCK, &*META_LOCK, &*CREATION_LOCK]
            .iter()
            .any(|l| l.filepath.as_os_str() == n)
    };
    if !names.iter().all(|n| marker_tmp(n) || lock(n)) {
        return Ok(None);
    }
    let _creating = creation_lock(dir)?;
    for n in names.iter().filter(|n| marker_tmp(n)) {
        let _ = std::fs::remove_file(dir.join(n));
    }
    Ok(Some(Found::Empty))
}

/// Held from the moment a process starts creating (or re-creating) an index until its Tantivy
/// writer holds the writer lock: no other process clears or creates the index in between.
static CREATION_LOCK: std::sync::LazyLock<Lock> = std::sync::LazyLock::new(|| Lock {
    filepath: PathBuf::from(".zhsearch-create.lock"),
    is_blocking: false,
});

fn creation_lock(dir: &Path) -> Result<DirectoryLock> {
    take_lock(dir, &CREATION_LOCK)
}

/// Whether an index of ours in `dir`, whose `meta.json` names no commit of ours, was ever
/// committed (and is damaged) rather than a first build that did not finish: a first build
/// writes a `meta.json` without payload right after the marker.
fn has_commit_of_ours(dir: &Path, names: &[String]) -> bool {
    let meta = std::fs::read_to_string(dir.join("meta.json"))
        .ok()
        .and_then(|m| serde_json::from_str::<serde_json::Value>(&m).ok());
    match meta {
        Some(v) => v.get("payload").is_some_and(|p| !p.is_null()),
        // Only a commit leaves a list; segments without any `meta.json` are damage too.
        None => names
            .iter()
            .any(|n| is_segment_file(n) || manifest::is_list_file(n)),
    }
}

/// An opened index with its manifest.
pub struct Opened {
    pub index: Index,
    pub fields: Fields,
    /// The manifest of the last commit; when the index was started afresh, that of the index
    /// it replaced (its corpus and extensions still hold, its files are gone).
    pub manifest: Option<Manifest>,
    /// Why the index was started afresh, if it was (a first build, an older schema, damage).
    pub reset: Option<String>,
    /// Set when the index was created in a new or empty folder (with the topmost folder this
    /// process created, if any): a failure before the first commit then leaves nothing behind.
    pub new_folder: Option<Option<PathBuf>>,
    /// The creation lock, while the index is being created: drop it once the Tantivy writer
    /// holds the writer lock.
    pub creating: Option<DirectoryLock>,
}

/// Opens the index of ours in `dir` (as [`inspect`] found it), or creates one in a missing or
/// empty folder, writing `marker` first. An index of another schema is started afresh, and a
/// damaged one too when `rebuild` is set.
pub fn open_or_create(dir: &Path, found: Found, rebuild: bool, marker: &Marker) -> Result<Opened> {
    let (head, old_marker) = match found {
        Found::Missing => {
            // A link to nothing would be created through; `exists` is false for it alone.
            let link = std::fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_symlink());
            if link && !dir.exists() {
                return Err(anyhow!(StoreError::NotOurs {
                    dir: dir.to_path_buf(),
                    why: "it is a symbolic link to nothing".into(),
                }));
            }
            let top = dir
                .ancestors()
                .take_while(|a| !a.as_os_str().is_empty() && !a.exists())
                .last()
                .map(Path::to_path_buf);
            std::fs::create_dir_all(dir).map_err(|e| io_error(dir, "creating", e))?;
            return create_new(dir, marker, top);
        }
        Found::Empty => {
            refuse_read_only(dir)?;
            return create_new(dir, marker, None);
        }
        // Its segments go now, so that killed first builds do not pile up.
        Found::Unfinished(_) => {
            return restart(dir, marker, None, "the first build did not finish".into());
        }
        Found::Ours { head, marker } => (head, marker),
    };
    // What it replaces, when the index is started afresh: its corpus and extensions hold.
    let replaced = head
        .clone()
        .or_else(|| old_marker.as_ref().map(Marker::to_head))
        .map(|head| Manifest {
            head,
            files: Vec::new(),
        });
    if let Some(h) = &head
        && h.schema != SCHEMA_VERSION
    {
        let why = format!(
            "the index was written by another version of zhsearch (schema {}, now {SCHEMA_VERSION}); rebuilding it",
            h.schema
        );
        return restart(dir, marker, replaced, why);
    }
    match open_existing(dir, head.as_ref()) {
        Ok((index, manifest)) => {
            let fields = Fields::new(&index.schema())?;
            Ok(Opened {
                index,
                fields,
                manifest: Some(manifest),
                reset: None,
                new_folder: None,
                creating: None,
            })
        }
        Err(e) if e.downcast_ref::<StoreError>().is_some() => Err(e),
        Err(e) if rebuild => {
            let why = format!("--rebuild of a damaged index ({})", short(&e));
            restart(dir, marker, replaced, why)
        }
        Err(e) => Err(anyhow!(StoreError::Damaged {
            dir: dir.to_path_buf(),
            why: short(&format!("{e:#}")),
        })),
    }
}

/// Starts the index in `dir`, a folder of ours, afresh: under the writer lock, its files go and
/// a new index is created.
fn restart(dir: &Path, marker: &Marker, replaced: Option<Manifest>, why: String) -> Result<Opened> {
    refuse_read_only(dir)?;
    let creating = creation_lock(dir)?;
    let writing = writer_lock(dir)?;
    clear_dir(dir)?;
    drop(writing);
    let mut opened = create(dir, marker, replaced)?;
    opened.reset = Some(why);
    opened.creating = Some(creating);
    Ok(opened)
}

/// Opens a committed index and its file list; any failure is damage (or a permission).
fn open_existing(dir: &Path, head: Option<&Head>) -> Result<(Index, Manifest)> {
    if head.is_none() {
        return Err(anyhow!("its meta.json is missing or unreadable"));
    }
    let manifest = manifest::read(dir)
        .map_err(|e| match e.downcast_ref::<io::Error>() {
            Some(io) if io.kind() == io::ErrorKind::PermissionDenied => {
                anyhow!(StoreError::Permission {
                    path: dir.to_path_buf(),
                    doing: "reading the index in",
                })
            }
            _ => e,
        })?
        .ok_or_else(|| anyhow!("its meta.json is missing or unreadable"))?;
    let index = open_index(dir)?;
    index::register_tokenizers(&index);
    Ok((index, manifest))
}

/// Opens the Tantivy index in `dir` for searching or writing, through [`StoreDir`].
pub fn open_index(dir: &Path) -> Result<Index> {
    let directory = StoreDir::open(dir)?;
    Index::open(directory).map_err(|e| {
        let e = anyhow!(e);
        if is_permission(&e) {
            anyhow!(StoreError::Permission {
                path: dir.to_path_buf(),
                doing: "reading the index in",
            })
        } else {
            e
        }
    })
}

/// Opens the index in `dir` for searching only: nothing is written, not even a lock file.
pub fn open_for_search(dir: &Path) -> Result<Index> {
    if manifest::read_head(dir).is_none() {
        let why = if dir.join("meta.json").exists() {
            "its meta.json is not one zhsearch committed"
        } else {
            "it has no meta.json"
        };
        return Err(anyhow!(StoreError::Damaged {
            dir: dir.to_path_buf(),
            why: why.into(),
        }));
    }
    open_index(dir)
}

/// Creates an index in a new or empty folder; if that fails, removes what it wrote.
fn create_new(dir: &Path, marker: &Marker, created: Option<PathBuf>) -> Result<Opened> {
    let creating = match creation_lock(dir) {
        Ok(lock) => lock,
        Err(e) => {
            remove_unfinished(dir, created.as_deref());
            return Err(e);
        }
    };
    match create(dir, marker, None) {
        Ok(mut opened) => {
            opened.new_folder = Some(created);
            opened.creating = Some(creating);
            Ok(opened)
        }
        Err(e) => {
            drop(creating);
            remove_unfinished(dir, created.as_deref());
            Err(e)
        }
    }
}

fn create(dir: &Path, marker: &Marker, replaced: Option<Manifest>) -> Result<Opened> {
    // The marker comes first: whatever happens next, the folder is known to be ours.
    write_marker(dir, marker)?;
    // zstd stores Chinese text in about half the space lz4 does; a stored passage is read
    // only for the few hits shown.
    let settings = IndexSettings {
        docstore_compression: Compressor::Zstd(ZstdCompressor::default()),
        docstore_blocksize: 16 * 1024,
        ..IndexSettings::default()
    };
    let index = Index::create(StoreDir::open(dir)?, index::schema(), settings)
        .map_err(|e| write_error(dir, anyhow!(e)))?;
    index::register_tokenizers(&index);
    let fields = Fields::new(&index.schema())?;
    Ok(Opened {
        index,
        fields,
        manifest: replaced,
        reset: Some("no index yet".into()),
        new_folder: None,
        creating: None,
    })
}

/// Writes the marker unless it already says this (an index made before the marker existed,
/// or rebuilt from another corpus).
pub fn ensure_marker(dir: &Path, marker: &Marker) -> Result<()> {
    match read_marker(dir) {
        Ok(Some(m)) if m == *marker => Ok(()),
        _ => write_marker(dir, marker),
    }
}

/// Removes the files of segments that no commit names (what a failed write left), through
/// Tantivy's garbage collection under a new writer. A merge the failed writer started may
/// still be writing (Tantivy does not wait for it when a writer is dropped), so collection is
/// repeated until no such file is left, for a few seconds at most; what stays then is
/// collected by the next commit.
pub fn remove_uncommitted(index: &Index, dir: &Path) {
    let Ok(writer) = index.writer_with_num_threads::<tantivy::TantivyDocument>(1, 15_000_000)
    else {
        return;
    };
    for _ in 0..50 {
        let _ = writer.garbage_collect_files().wait();
        if uncommitted_segment_files(index, dir) == 0 {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// How many segment files in `dir` belong to no segment of the last commit.
fn uncommitted_segment_files(index: &Index, dir: &Path) -> usize {
    let Ok(metas) = index.load_metas() else {
        return 0;
    };
    let committed: Vec<String> = metas
        .segments
        .iter()
        .map(|s| s.id().uuid_string())
        .collect();
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| is_segment_file(n) && !committed.iter().any(|id| n.starts_with(id)))
            .count()
    })
}

/// Takes the writer lock of the index in `dir` (so that no other process writes while files
/// are removed); released when dropped.
fn writer_lock(dir: &Path) -> Result<DirectoryLock> {
    take_lock(dir, &INDEX_WRITER_LOCK)
}

fn take_lock(dir: &Path, lock: &Lock) -> Result<DirectoryLock> {
    let d = MmapDirectory::open(dir).map_err(|e| anyhow!(e))?;
    d.acquire_lock(lock).map_err(|e| match e {
        LockError::LockBusy => anyhow!(StoreError::Busy(dir.to_path_buf())),
        LockError::IoError(io) => io_error(
            dir,
            "writing the index in",
            io::Error::new(io.kind(), io.to_string()),
        ),
    })
}

/// Whether `name` is, by its name alone, a file an index writes: `meta.json`,
/// `.managed.json`, the probe and the temporary files of atomic writes (`.<name>.<pid>.tmp`
/// from [`atomic_write`], `.<list>.tmp` from the manifest). Segment files and lists are named
/// so that a user's file could share their names: [`clear_dir`] checks those by content.
/// Lock files are left (they may be held).
fn is_index_file(name: &str) -> bool {
    let atomic = name
        .strip_prefix('.')
        .and_then(|n| n.strip_suffix(".tmp"))
        .and_then(|n| n.rsplit_once('.'))
        .filter(|(_, pid)| !pid.is_empty() && pid.chars().all(|c| c.is_ascii_digit()))
        .is_some_and(|(n, _)| n == "meta.json" || n == ".managed.json" || n == MARKER);
    let list_tmp = name
        .strip_prefix('.')
        .and_then(|n| n.strip_suffix(".tmp"))
        .is_some_and(manifest::is_list_file);
    name == PROBE || name == "meta.json" || name == ".managed.json" || atomic || list_tmp
}

/// The files Tantivy's `.managed.json` in `dir` says it wrote (none when it cannot be read).
fn managed_files(dir: &Path) -> Vec<String> {
    std::fs::read(dir.join(".managed.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<Vec<String>>(&b).ok())
        .unwrap_or_default()
}

/// Whether `name` is a file of a Tantivy segment: `<32 hex digits>.<component>` or
/// `<…>.<opstamp>.del`.
fn is_segment_file(name: &str) -> bool {
    name.split_once('.').is_some_and(|(id, ext)| {
        id.len() == 32
            && id.chars().all(|c| c.is_ascii_hexdigit())
            && (matches!(
                ext,
                "idx" | "pos" | "term" | "store" | "temp" | "fast" | "fieldnorm"
            ) || ext
                .strip_suffix(".del")
                .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit())))
    })
}

/// Removes the files of an index from `dir`, a folder of ours; nothing else: segment files
/// only when Tantivy's `.managed.json` lists them, list files only when their content hashes
/// to their name (see [`manifest::is_our_list`]).
fn clear_dir(dir: &Path) -> Result<()> {
    let managed = managed_files(dir);
    let entries = std::fs::read_dir(dir).map_err(|e| io_error(dir, "reading", e))?;
    for entry in entries.filter_map(|e| e.ok()) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = is_index_file(&name)
            || (is_segment_file(&name) && managed.contains(&name))
            || manifest::is_our_list(dir, &name);
        if ours && entry.file_type().is_ok_and(|t| t.is_file()) {
            std::fs::remove_file(entry.path())
                .map_err(|e| io_error(&entry.path(), "removing", e))?;
        }
    }
    Ok(())
}

/// Undoes a first build that failed: removes the files it wrote, the marker and lock files,
/// and the folders this process created (`dir` up to `created`) when nothing else is in them.
/// Nothing is removed while another process holds the creation or writer lock (it may be
/// building the index itself), nor once the folder holds a commit.
pub fn remove_unfinished(dir: &Path, created: Option<&Path>) {
    let (Ok(creating), Ok(writing)) = (creation_lock(dir), writer_lock(dir)) else {
        return;
    };
    // Another process may have built the index meanwhile: a commit stays.
    if manifest::read_head(dir).is_some() || clear_dir(dir).is_err() {
        return;
    }
    let _ = std::fs::remove_file(dir.join(MARKER));
    drop((creating, writing));
    for lock in [&*INDEX_WRITER_LOCK, &*META_LOCK, &*CREATION_LOCK] {
        let _ = std::fs::remove_file(dir.join(&lock.filepath));
    }
    let Some(top) = created else {
        return;
    };
    for folder in dir.ancestors() {
        // Fails, as it should, when something else is in the folder.
        if std::fs::remove_dir(folder).is_err() || folder == top {
            break;
        }
    }
}

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
/// - atomic writes create their files with the default permissions.
#[derive(Clone, Debug)]
pub struct StoreDir {
    inner: MmapDirectory,
    root: PathBuf,
}

impl StoreDir {
    pub fn open(dir: &Path) -> Result<StoreDir> {
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
        })
    }
}

impl Directory for StoreDir {
    fn get_file_handle(&self, path: &Path) -> Result<Arc<dyn FileHandle>, OpenReadError> {
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
        self.inner.open_write(path)
    }

    fn atomic_read(&self, path: &Path) -> Result<Vec<u8>, OpenReadError> {
        match self.inner.atomic_read(path) {
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
        atomic_write(&self.root.join(path), data)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_files_an_index_writes_are_index_files() {
        for ours in [
            "meta.json",
            ".managed.json",
            ".meta.json.4242.tmp",
            "..managed.json.17.tmp",
            ".zhsearch-index.json.4242.tmp",
            ".files-0123456789abcdef.json.tmp",
        ] {
            assert!(is_index_file(ours), "{ours}");
        }
        for theirs in [
            "d41d8cd98f00b204e9800998ecf8427e.jpg",
            "d41d8cd98f00b204e9800998ecf8427e.del",
            "Cargo.lock",
            ".tantivy-writer.lock",
            "notes.json",
            ".tmpAbC123",
            ".notes.txt.12.tmp",
            ".meta.json.tmp",
            "0123456789abcdef0123456789abcdef.idx",
            "files-0123456789abcdef.json",
            MARKER,
        ] {
            assert!(!is_index_file(theirs), "{theirs}");
        }
    }
}

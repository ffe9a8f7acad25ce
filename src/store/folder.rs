//! Which folders are zhsearch's, and creating, opening and clearing them.
//!
//! A folder is an index of ours only when it holds our marker (written first, atomically, when
//! the index is created) or a commit whose payload zhsearch wrote (indexes made before the
//! marker existed; the marker is added on their next write). Anything else is never written
//! into, and only the files an index writes are ever deleted, and only from a folder of ours.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Result, anyhow};
use tantivy::directory::{DirectoryLock, INDEX_WRITER_LOCK, META_LOCK};
use tantivy::store::{Compressor, ZstdCompressor};
use tantivy::{Index, IndexSettings};

use crate::store::clear::{
    CREATION_LOCK, clear_dir, creation_lock, is_segment_file, remove_unfinished, writer_lock,
};
use crate::store::dir::{MetaCache, StoreDir};
use crate::store::errors::StoreError;
use crate::store::errors::{
    self, io_error, is_out_of_files, is_permission, refuse_read_only, short, write_error,
};
use crate::store::file_list::FileList;
use crate::store::index::{self, Fields, SCHEMA_VERSION};
use crate::store::manifest::{self, Head};
use crate::store::marker::{MARKER, Marker, parse_marker, write_marker};
use crate::store::report::RebuildReason;

/// The bytes of a `meta.json` as read.
pub type MetaBytes = Arc<Vec<u8>>;

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
        /// Its marker, if it has one (not an index made before markers existed).
        marker: Option<Marker>,
        /// The head of its last commit.
        head: Option<Head>,
        /// Its `meta.json`, as read.
        meta: Option<MetaBytes>,
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
                ..
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

/// Looks at the folder `dir` without writing anything, and refuses one that is not ours.
pub fn inspect(dir: &Path) -> Result<Found> {
    look(dir, false)
}

/// As [`inspect`], but a marker this user may not read counts as absent: such an index can be
/// searched, not written.
pub fn inspect_for_reading(dir: &Path) -> Result<Found> {
    look(dir, true)
}

fn look(dir: &Path, reading: bool) -> Result<Found> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Found::Missing),
        Err(e) if e.kind() == io::ErrorKind::NotADirectory => {
            return Err(anyhow!(StoreError::NotAnIndex {
                dir: dir.to_path_buf(),
                why: "a part of its path is a file".into(),
            }));
        }
        Err(_) if dir.is_file() => {
            return Err(anyhow!(StoreError::NotAnIndex {
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
    let marker_path = dir.join(MARKER);
    let marker_read = std::fs::read_to_string(&marker_path);
    let marker_denied =
        matches!(&marker_read, Err(e) if e.kind() == io::ErrorKind::PermissionDenied);
    if marker_denied
        && !reading
        && let Err(e) = marker_read
    {
        return Err(io_error(&marker_path, "reading", e));
    }
    let meta_path = dir.join("meta.json");
    let meta = match std::fs::read(&meta_path) {
        Ok(bytes) => Some(Arc::new(bytes)),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            return Err(io_error(&meta_path, "reading", e));
        }
        Err(_) => None,
    };
    let not_ours = |why: String| {
        anyhow!(StoreError::NotAnIndex {
            dir: dir.to_path_buf(),
            why,
        })
    };
    let marker = match marker_denied {
        true => None,
        false => parse_marker(marker_read).map_err(not_ours)?,
    };
    let head = meta.as_deref().and_then(|m| manifest::head_of(m));
    match (marker, head) {
        (marker, Some(head)) => Ok(Found::Ours {
            marker,
            head: Some(head),
            meta,
        }),
        (Some(marker), None) if has_commit_of_ours(meta.as_deref(), &names) => Ok(Found::Ours {
            marker: Some(marker),
            head: None,
            meta,
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

/// Whether an index of ours in `dir`, whose `meta.json` names no commit of ours, was ever
/// committed (and is damaged) rather than a first build that did not finish: a first build
/// writes a `meta.json` without payload right after the marker.
fn has_commit_of_ours(meta: Option<&Vec<u8>>, names: &[String]) -> bool {
    let meta = meta.and_then(|m| serde_json::from_slice::<serde_json::Value>(m).ok());
    match meta {
        Some(v) => v.get("payload").is_some_and(|p| !p.is_null()),
        // Only a commit leaves a list; segments without any `meta.json` are damage too.
        None => names
            .iter()
            .any(|n| is_segment_file(n) || manifest::is_list_file(n)),
    }
}

/// An index opened for an update, with what its last commit held.
pub struct Opened {
    /// The index.
    pub index: Index,
    /// Its fields.
    pub fields: Fields,
    /// The `meta.json` its directory serves (shared with its readers and writer).
    pub meta: MetaCache,
    /// The head of the last commit; when the index was started afresh, that of the index it
    /// replaced (its corpus and extensions still hold, its files are gone).
    pub head: Option<Head>,
    /// The files of the last commit (none when the index was started afresh).
    pub files: Arc<FileList>,
    /// The marker found, before this update.
    pub marker: Option<Marker>,
    /// Why the index was started afresh, if it was (a first build, an older schema, damage).
    pub reset: Option<RebuildReason>,
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
    let (head, old_marker, meta) = match found {
        Found::Missing => return create_missing(dir, marker),
        Found::Empty => {
            refuse_read_only(dir)?;
            return create_new(dir, marker, None);
        }
        // Its segments go now, so that killed first builds do not pile up.
        Found::Unfinished(_) => {
            return restart(dir, marker, None, RebuildReason::Unfinished);
        }
        Found::Ours { head, marker, meta } => (head, marker, meta),
    };
    // What it replaces, when the index is started afresh: its corpus and extensions hold.
    let replaced = head
        .clone()
        .or_else(|| old_marker.as_ref().map(Marker::to_head));
    if let Some(h) = &head
        && h.schema != SCHEMA_VERSION
    {
        let why = RebuildReason::SchemaChanged {
            old: h.schema,
            new: SCHEMA_VERSION,
        };
        return restart(dir, marker, replaced, why);
    }
    match open_existing(dir, head.as_ref(), meta) {
        Ok((index, cache, files)) => Ok(Opened {
            fields: Fields::new(&index.schema())?,
            index,
            meta: cache,
            head,
            files: Arc::new(files),
            marker: old_marker,
            reset: None,
            new_folder: None,
            creating: None,
        }),
        Err(e) if e.downcast_ref::<StoreError>().is_some() => Err(e),
        // Out of file descriptors, the index is not damaged: never cleared for that.
        Err(e) if rebuild && !is_out_of_files(&e) => {
            let why = RebuildReason::Damaged { why: short(&e) };
            restart(dir, marker, replaced, why)
        }
        Err(e) => Err(anyhow!(errors::unopenable(dir, e))),
    }
}

/// Creates the folder `dir` and an index in it.
fn create_missing(dir: &Path, marker: &Marker) -> Result<Opened> {
    // A link to nothing would be created through; `exists` is false for it alone.
    let link = std::fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_symlink());
    if link && !dir.exists() {
        return Err(anyhow!(StoreError::NotAnIndex {
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
    create_new(dir, marker, top)
}

/// Starts the index in `dir`, a folder of ours, afresh: under the writer lock, its files go and
/// a new index is created.
fn restart(
    dir: &Path,
    marker: &Marker,
    replaced: Option<Head>,
    why: RebuildReason,
) -> Result<Opened> {
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

/// Opens a committed index (from the `meta.json` already read) and its file list; any failure
/// is damage (or a permission).
pub fn open_existing(
    dir: &Path,
    head: Option<&Head>,
    meta: Option<MetaBytes>,
) -> Result<(Index, MetaCache, FileList)> {
    let (Some(head), Some(meta)) = (head, meta) else {
        return Err(anyhow!("its meta.json is missing or unreadable"));
    };
    let files =
        manifest::read_files(dir, head).map_err(|e| match e.downcast_ref::<io::Error>() {
            Some(io) if io.kind() == io::ErrorKind::PermissionDenied => {
                anyhow!(StoreError::Permission {
                    path: dir.join(head.files_in.as_deref().unwrap_or_default()),
                    doing: "reading the index's file list",
                })
            }
            _ => e,
        })?;
    let cache = MetaCache::holding(Some(meta));
    let index = open_index(dir, cache.clone())?;
    index::register_tokenizers(&index);
    Ok((index, cache, files))
}

/// Opens the Tantivy index in `dir` for searching or writing, through [`StoreDir`] serving
/// `meta`.
fn open_index(dir: &Path, meta: MetaCache) -> Result<Index> {
    let directory = StoreDir::open(dir, meta)?;
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

fn create(dir: &Path, marker: &Marker, replaced: Option<Head>) -> Result<Opened> {
    // The marker comes first: whatever happens next, the folder is known to be ours.
    write_marker(dir, marker)?;
    // zstd stores Chinese text in about half the space lz4 does; a stored passage is read
    // only for the few hits shown and the candidates reranked, each read decompressing its
    // whole block: with 8 KB blocks instead of 16 KB a search took a sixth fewer instructions
    // (callgrind, 74 MB corpus), for 3% more stored bytes. Level 1, not zstd's default 3: a
    // build of 20 poetry files ran 3% fewer instructions for a store 0.6% larger (level -1:
    // 6% fewer, 18% larger).
    let settings = IndexSettings {
        docstore_compression: Compressor::Zstd(ZstdCompressor {
            compression_level: Some(1),
        }),
        docstore_blocksize: 8 * 1024,
        ..IndexSettings::default()
    };
    let cache = MetaCache::default();
    let index = Index::create(
        StoreDir::open(dir, cache.clone())?,
        index::schema(),
        settings,
    )
    .map_err(|e| write_error(dir, anyhow!(e)))?;
    index::register_tokenizers(&index);
    let fields = Fields::new(&index.schema())?;
    Ok(Opened {
        index,
        fields,
        meta: cache,
        head: replaced,
        files: Arc::default(),
        marker: Some(marker.clone()),
        reset: Some(RebuildReason::NoIndex),
        new_folder: None,
        creating: None,
    })
}

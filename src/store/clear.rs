//! Locks and cleaning of an index folder: only the files an index writes are ever deleted,
//! and only from a folder of ours.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use anyhow::{Result, anyhow};
use tantivy::Index;
use tantivy::directory::error::LockError;
use tantivy::directory::{
    Directory, DirectoryLock, INDEX_WRITER_LOCK, Lock, META_LOCK, MmapDirectory,
};

use crate::store::errors::StoreError;
use crate::store::errors::{PROBE, io_error};
use crate::store::manifest;
use crate::store::marker::MARKER;

/// Held from the moment a process starts creating (or re-creating) an index until its Tantivy
/// writer holds the writer lock: no other process clears or creates the index in between.
pub(crate) static CREATION_LOCK: LazyLock<Lock> = LazyLock::new(|| Lock {
    filepath: PathBuf::from(".zhsearch-create.lock"),
    is_blocking: false,
});

pub(crate) fn creation_lock(dir: &Path) -> Result<DirectoryLock> {
    take_lock(dir, &CREATION_LOCK)
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
pub(crate) fn writer_lock(dir: &Path) -> Result<DirectoryLock> {
    take_lock(dir, &INDEX_WRITER_LOCK)
}

fn take_lock(dir: &Path, lock: &Lock) -> Result<DirectoryLock> {
    let d = MmapDirectory::open(dir).map_err(|e| anyhow!(e))?;
    d.acquire_lock(lock).map_err(|e| match e {
        LockError::LockBusy => anyhow!(StoreError::Busy {
            dir: dir.to_path_buf()
        }),
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
        .is_some_and(|(n, _)| {
            n == "meta.json" || n == ".managed.json" || n == MARKER || is_semantic_file(n)
        });
    let list_tmp = name
        .strip_prefix('.')
        .and_then(|n| n.strip_suffix(".tmp"))
        .is_some_and(manifest::is_list_file);
    name == PROBE || name == "meta.json" || name == ".managed.json" || atomic || list_tmp
}

/// Whether `name` is a file of the semantic tier (see `crate::embed`): the embedder's
/// settings, the table of embedded passages, a file of vectors, a nearest-neighbour graph.
/// They are ours, and outlive a rebuild (a passage's vector depends on its text alone); only
/// their temporary files go.
pub(crate) fn is_semantic_file(name: &str) -> bool {
    name == "zhsearch-embedder.json"
        || name == "zhsearch-semantic.json"
        || name == "zhsearch-embed.lock"
        || name
            .strip_prefix("zhsearch-vectors-")
            .and_then(|n| n.strip_suffix(".bin"))
            .is_some_and(|h| h.len() == 16 && h.chars().all(|c| c.is_ascii_hexdigit()))
        || name
            .strip_prefix("zhsearch-ann-")
            .and_then(|n| n.strip_suffix(".usearch"))
            .is_some_and(|h| h.len() == 16 && h.chars().all(|c| c.is_ascii_hexdigit()))
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
pub(crate) fn is_segment_file(name: &str) -> bool {
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
pub(crate) fn clear_dir(dir: &Path) -> Result<()> {
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
            ".zhsearch-semantic.json.17.tmp",
            ".zhsearch-embedder.json.17.tmp",
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
            "zhsearch-semantic.json",
            "zhsearch-vectors-0123456789abcdef.bin",
        ] {
            assert!(!is_index_file(theirs), "{theirs}");
        }
    }
}

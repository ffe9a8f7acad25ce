//! What goes wrong with an index folder, typed for the callers that act on it, and the
//! classification of I/O failures (disk full, permission) into those types.

use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use tantivy::directory::error::OpenReadError;

use crate::store::manifest;

/// What went wrong with the index folder or the corpus, for the callers that act on the kind.
/// The texts state facts only; what to do about them is the front end's wording.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Another process holds the writer lock.
    #[error("another zhsearch process is writing the index in {}", dir.display())]
    Busy {
        /// The index folder.
        dir: PathBuf,
    },
    /// The folder holds files that zhsearch did not write: it is never written into.
    #[error("{} is not a zhsearch index ({why}); zhsearch never writes into or deletes from such a folder", dir.display())]
    NotAnIndex {
        /// The folder given as index.
        dir: PathBuf,
        /// What shows it is not ours.
        why: String,
    },
    /// An index of ours that cannot be read; a rebuild repairs it.
    #[error("the index in {} is damaged ({why})", dir.display())]
    Damaged {
        /// The index folder.
        dir: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// No file descriptor was left to open the index with: the process's limit on open files
    /// is too low for its segments (or the system's is reached). Nothing is wrong with it.
    #[error("too many files are open to read {}", path.display())]
    TooManyFiles {
        /// The index folder, or the file of it being read.
        path: PathBuf,
    },
    /// The user may not do this to `path`.
    #[error("permission denied {doing} {}", path.display())]
    Permission {
        /// The file or folder refused.
        path: PathBuf,
        /// What was being done, as words before the path ("reading", "writing the index in").
        doing: &'static str,
    },
    /// The file system has no room left; what was half written is removed, the last commit
    /// (if any) is kept.
    #[error("cannot write the index in {}: no space left on the device (what was half written is removed, {})", dir.display(), kept(*committed))]
    DiskFull {
        /// The index folder.
        dir: PathBuf,
        /// Whether a commit is there to search.
        committed: bool,
    },
    /// Any other failed write; the last commit, if any, is kept.
    #[error("cannot write the index in {} ({cause}); {}", dir.display(), kept(*committed))]
    WriteFailed {
        /// The index folder.
        dir: PathBuf,
        /// The cause, on one line.
        cause: String,
        /// Whether a commit is there to search.
        committed: bool,
    },
    /// The index folder has no write permission at all (`chmod -R a-w`): it is only searched,
    /// even by a user the permissions would not stop (root).
    #[error("the index in {} is read-only (no write permission at all)", dir.display())]
    ReadOnly {
        /// The index folder.
        dir: PathBuf,
    },
    /// The update would silently change what the index holds (another corpus or other
    /// extensions without a rebuild).
    #[error("the index in {} holds {what} {old}, not {new}", dir.display())]
    Changed {
        /// The index folder.
        dir: PathBuf,
        /// What differs.
        what: Setting,
        /// The index's value, as shown.
        old: String,
        /// The value asked for, as shown.
        new: String,
    },
    /// The corpus folder cannot be read: the one given, or the one the index remembers
    /// (`of_index`).
    #[error("{}", corpus_missing(corpus, of_index.as_deref(), cause))]
    CorpusMissing {
        /// The corpus folder.
        corpus: PathBuf,
        /// The index that remembers it, when it was not given.
        of_index: Option<PathBuf>,
        /// Why it cannot be read.
        cause: String,
    },
    /// The corpus given is not a folder.
    #[error("corpus {} is not a folder", corpus.display())]
    CorpusNotFolder {
        /// The path given.
        corpus: PathBuf,
    },
    /// The corpus folder the index remembers now leads elsewhere through a symbolic link; it
    /// is not read.
    #[error("the corpus folder {} of the index in {} now leads to {} through a symbolic link, so it is not read", corpus.display(), dir.display(), now.display())]
    CorpusMoved {
        /// The corpus folder the index remembers.
        corpus: PathBuf,
        /// The index folder.
        dir: PathBuf,
        /// Where it leads now.
        now: PathBuf,
    },
    /// The corpus holds no file with the extensions read.
    #[error("there are no documents (.{}) in the corpus {}", extensions.join(", ."), corpus.display())]
    NoDocuments {
        /// The corpus folder.
        corpus: PathBuf,
        /// The extensions read.
        extensions: Vec<String>,
    },
    /// Extensions that cannot be the end of a file name.
    #[error("bad extensions {given:?}: {why}")]
    BadExtensions {
        /// As given, comma-joined.
        given: String,
        /// What is wrong.
        why: String,
    },
    /// Anything else (Tantivy's errors, a file of the corpus that cannot be listed).
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// A setting of an index that only a rebuild changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// The corpus folder.
    Corpus,
    /// The file name extensions read as documents.
    Extensions,
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Setting::Corpus => "the corpus",
            Setting::Extensions => "the extensions",
        })
    }
}

fn corpus_missing(corpus: &Path, of_index: Option<&Path>, cause: &str) -> String {
    match of_index {
        Some(dir) => format!(
            "cannot read the corpus folder {} of the index in {} ({cause})",
            corpus.display(),
            dir.display()
        ),
        None => format!("cannot read corpus folder {}: {cause}", corpus.display()),
    }
}

impl StoreError {
    /// The typed error inside `e`, else `e` as [`StoreError::Other`].
    pub fn from_anyhow(e: anyhow::Error) -> StoreError {
        match e.downcast::<StoreError>() {
            Ok(typed) => typed,
            Err(e) => StoreError::Other(e),
        }
    }
}

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
pub fn refuse_read_only(dir: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(md) = std::fs::metadata(dir)
            && md.permissions().mode() & 0o222 == 0
        {
            return Err(anyhow!(StoreError::ReadOnly {
                dir: dir.to_path_buf()
            }));
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

/// Whether an error (anywhere in its chain, or in its text: Tantivy wraps I/O errors in its
/// own) says that no file descriptor was left.
pub(crate) fn is_out_of_files(e: &anyhow::Error) -> bool {
    let io_out = e.chain().any(|c| {
        let io = match c.downcast_ref::<tantivy::TantivyError>() {
            Some(tantivy::TantivyError::OpenReadError(OpenReadError::IoError {
                io_error, ..
            })) => Some(&**io_error),
            Some(tantivy::TantivyError::IoError(io)) => Some(&**io),
            _ => None,
        };
        let io = io.or_else(|| match c.downcast_ref::<OpenReadError>() {
            Some(OpenReadError::IoError { io_error, .. }) => Some(&**io_error),
            _ => None,
        });
        io.or_else(|| c.downcast_ref::<io::Error>())
            .is_some_and(out_of_files)
    });
    io_out || format!("{e:#}").contains("Too many open files")
}

/// Whether `e` says the process (EMFILE) or the system (ENFILE) is out of file descriptors.
fn out_of_files(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(23 | 24))
}

/// Why the index in `dir` could not be opened, `e` being no typed error: out of file
/// descriptors, else damaged.
pub(crate) fn unopenable(dir: &Path, e: anyhow::Error) -> StoreError {
    match is_out_of_files(&e) {
        true => StoreError::TooManyFiles {
            path: dir.to_path_buf(),
        },
        false => StoreError::Damaged {
            dir: dir.to_path_buf(),
            why: short(&format!("{e:#}")),
        },
    }
}

impl StoreError {
    /// A write that could not be done, where searching the last commit is the right answer.
    pub fn is_write_failure(&self) -> bool {
        matches!(
            self,
            StoreError::Busy { .. }
                | StoreError::Permission { .. }
                | StoreError::DiskFull { .. }
                | StoreError::WriteFailed { .. }
                | StoreError::ReadOnly { .. }
        )
    }
}

/// The one-line cause of an error, shortened: Tantivy's can hold a whole file.
pub(crate) fn short(e: &dyn fmt::Display) -> String {
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

pub(crate) fn is_permission(e: &anyhow::Error) -> bool {
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
pub(crate) const PROBE: &str = ".zhsearch-probe.tmp";

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

pub(crate) fn io_error(path: &Path, doing: &'static str, e: io::Error) -> anyhow::Error {
    if out_of_files(&e) {
        // Not a failed write: nothing is probed, nothing said about commits.
        return anyhow!(StoreError::TooManyFiles {
            path: path.to_path_buf()
        });
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_out_of_file_descriptors_is_not_damage() {
        let dir = Path::new("idx");
        for code in [23, 24] {
            let open =
                OpenReadError::wrap_io_error(io::Error::from_raw_os_error(code), "a.idx".into());
            for e in [
                anyhow!(tantivy::TantivyError::OpenReadError(open.clone())),
                anyhow!(open.clone()).context("opening a segment"),
                anyhow!(io::Error::from_raw_os_error(code)),
            ] {
                assert!(matches!(
                    unopenable(dir, e),
                    StoreError::TooManyFiles { .. }
                ));
            }
        }
        let bad = anyhow!(tantivy::TantivyError::DataCorruption(
            tantivy::error::DataCorruption::comment_only("bad footer")
        ));
        assert!(matches!(unopenable(dir, bad), StoreError::Damaged { .. }));
    }
}

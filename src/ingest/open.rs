//! The one way a corpus file is opened after it was listed: only a regular file reached
//! through folders, never through a symbolic link, never outside the corpus folder. Indexing
//! reads files this way, and so does every reader of an indexed file (`present::show`).

use std::fs::File;
use std::path::{Path, PathBuf};

/// Why a corpus file is not read back.
#[derive(Debug)]
#[non_exhaustive]
pub enum Refused {
    /// The index lists no such document (or no index exists).
    NotListed {
        /// The path asked for.
        source: String,
        /// The index folder.
        index: PathBuf,
    },
    /// Listed, but skipped when indexing (binary, undecodable, unusable name).
    Skipped {
        /// The path asked for.
        source: String,
        /// What is wrong with it.
        why: String,
    },
    /// Not a plain relative path (`..`, absolute, empty parts).
    NotRelative {
        /// The path asked for.
        source: String,
    },
    /// A part of the path is a symbolic link, or the file is no regular file (any more).
    NotPlainFile {
        /// The path asked for.
        source: String,
        /// What it is instead of a file.
        what: &'static str,
    },
    /// The corpus folder the index remembers now resolves elsewhere (a symbolic link replaced
    /// it or a folder above it).
    CorpusMoved {
        /// The corpus folder the index remembers.
        corpus: PathBuf,
        /// Where it leads now.
        now: PathBuf,
    },
    /// The file changed since the index last recorded it: its lines are no longer the ones
    /// indexed and cited.
    Stale {
        /// The path asked for.
        source: String,
        /// The index folder.
        index: PathBuf,
        /// Why the index could not be brought up to date, when that was tried.
        not_updated: Option<String>,
    },
    /// The file could not be read.
    Io {
        /// The path asked for.
        source: String,
        /// The error.
        err: std::io::Error,
    },
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::NotListed { source, index } => write!(
                f,
                "{source} is not a document of the index in {}: give a path as printed in citations",
                index.display()
            ),
            Refused::Skipped { source, why } => write!(
                f,
                "{source} is not a document of the index: it was skipped when indexing ({why})"
            ),
            Refused::NotRelative { source } => write!(
                f,
                "{source}: give a file path relative to the corpus, as printed in citations"
            ),
            Refused::NotPlainFile { source, what } => write!(
                f,
                "{source} is not read: {what} (zhsearch reads only the regular files it indexed)"
            ),
            Refused::CorpusMoved { corpus, now } => write!(
                f,
                "the corpus folder {} now leads to {} through a symbolic link, so nothing in it is read",
                corpus.display(),
                now.display()
            ),
            Refused::Stale {
                source,
                index,
                not_updated: Some(why),
            } => write!(
                f,
                "{source} changed since the index in {} was last updated, so its lines are not the ones cited; the index could not be updated ({why})",
                index.display()
            ),
            Refused::Stale {
                source,
                index,
                not_updated: None,
            } => write!(
                f,
                "{source} changed since the index in {} was last updated, so its lines are not the ones cited",
                index.display()
            ),
            Refused::Io { source, err } => write!(
                f,
                "cannot read {source} ({err}): check that it exists and is readable"
            ),
        }
    }
}

impl std::error::Error for Refused {}

/// Opens `corpus/source` only if it is a regular file reached through folders, no part of
/// `source` a symbolic link (checked before and after opening, and the file opened must be
/// the one checked), and it resolves inside `corpus`, which must be a resolved path.
pub fn open_plain(corpus: &Path, source: &str) -> Result<File, Refused> {
    let rel = Path::new(source);
    let io = |err| Refused::Io {
        source: source.into(),
        err,
    };
    let refuse = |what| Refused::NotPlainFile {
        source: source.into(),
        what,
    };
    let path = corpus.join(rel);
    let before = no_links(corpus, rel, source)?;
    let file = File::open(&path).map_err(io)?;
    // The file opened must be the one checked: a link swapped in meanwhile is caught here.
    let opened = file.metadata().map_err(io)?;
    let after = no_links(corpus, rel, source)?;
    if !opened.is_file() || !same_file(&opened, &before) || !same_file(&opened, &after) {
        return Err(refuse("it changed while being opened"));
    }
    // A resolved corpus path resolves to itself unless a link replaced a part of it since.
    let resolved = std::fs::canonicalize(&path).map_err(io)?;
    let root = std::fs::canonicalize(corpus).map_err(io)?;
    if root != corpus {
        return Err(Refused::CorpusMoved {
            corpus: corpus.to_path_buf(),
            now: root,
        });
    }
    if resolved != root.join(rel) {
        return Err(refuse("it resolves outside the corpus folder"));
    }
    Ok(file)
}

/// Metadata of `corpus/rel`, a regular file reached through folders, none of them a symbolic
/// link.
fn no_links(corpus: &Path, rel: &Path, source: &str) -> Result<std::fs::Metadata, Refused> {
    let refuse = |what| Refused::NotPlainFile {
        source: source.into(),
        what,
    };
    let mut path = corpus.to_path_buf();
    let mut parts = rel.components().peekable();
    while let Some(part) = parts.next() {
        path.push(part);
        let md = std::fs::symlink_metadata(&path).map_err(|err| Refused::Io {
            source: source.into(),
            err,
        })?;
        if md.file_type().is_symlink() {
            return Err(refuse("a part of its path is a symbolic link"));
        }
        if parts.peek().is_none() {
            return if md.is_file() {
                Ok(md)
            } else {
                Err(refuse("it is not a regular file"))
            };
        }
        if !md.is_dir() {
            return Err(refuse("a part of its path is not a folder"));
        }
    }
    Err(refuse("it is not a regular file"))
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

#[cfg(not(unix))]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    a.len() == b.len() && a.modified().ok() == b.modified().ok()
}

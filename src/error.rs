//! The errors of the library, typed by what a caller does about them. Their text states the
//! facts (which folder, which file, what is wrong); the advice a person needs (which command
//! to run) is the front end's to add: see `cli::wording`.

use std::path::PathBuf;

use crate::ingest::open::Refused;
use crate::model::SpanError;
use crate::search::QueryError;
use crate::store::StoreError;

/// Anything that can go wrong in an [`Engine`](crate::Engine) call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The index folder: busy, damaged, not ours, read-only, full, or the corpus it needs is
    /// missing or changed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The query cannot be searched (empty, too long, a bad glob…).
    #[error(transparent)]
    Query(#[from] QueryError),
    /// A location (`FILE:LINE`) that cannot be read.
    #[error(transparent)]
    Location(#[from] SpanError),
    /// A corpus file that is not read back (not listed, changed, a link…).
    #[error(transparent)]
    Refused(#[from] Refused),
    /// The embedder of the semantic tier failed, or its vectors cannot be read or written
    /// (the lexical index is not affected).
    #[error(transparent)]
    Embed(#[from] crate::embed::EmbedError),
    /// There is no index in the folder yet (and the call does not build one).
    #[error("there is no zhsearch index in {}", .0.display())]
    NoIndex(PathBuf),
    /// Anything else (an I/O error with its path, an output error…).
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Turns an error of the internals into the typed one it carries, if any.
    pub(crate) fn classify(e: anyhow::Error) -> Error {
        let e = match e.downcast::<StoreError>() {
            Ok(s) => return Error::Store(s),
            Err(e) => e,
        };
        let e = match e.downcast::<Refused>() {
            Ok(r) => return Error::Refused(r),
            Err(e) => e,
        };
        match e.downcast::<SpanError>() {
            Ok(s) => Error::Location(s),
            Err(e) => Error::Other(e),
        }
    }
}

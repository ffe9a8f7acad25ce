//! What an update tells its caller: warnings and progress while it runs (through a
//! [`Reporter`] the caller supplies), and an [`UpdateReport`] when it is done.

use std::fmt;

/// Receives what an update has to say while it runs; called from indexing threads.
pub trait Reporter: Sync {
    /// Something the user should know; the update goes on.
    fn warning(&self, w: &Warning);
    /// How far the update is.
    fn progress(&self, p: Progress);
}

/// A [`Reporter`] that drops everything (tests, callers that only want the report).
impl Reporter for () {
    fn warning(&self, _: &Warning) {}
    fn progress(&self, _: Progress) {}
}

/// Something an update could not do and went on without.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// An entry of the corpus could not be listed (an unreadable folder, a broken ignore
    /// file): what the walker said.
    Unlisted {
        /// The walker's error, on one line.
        what: String,
    },
    /// A document is not indexed, and is not tried again until it changes.
    Skipped {
        /// Its path relative to the corpus.
        source: String,
        /// Why.
        why: String,
    },
    /// Another process is building the index, which does not exist yet: this one waits.
    Waiting {
        /// The index folder.
        dir: std::path::PathBuf,
    },
    /// The corpus holds no documents any more: the update removed every passage.
    NoDocuments {
        /// The corpus folder.
        corpus: std::path::PathBuf,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::Unlisted { what } => write!(f, "skipping {what}"),
            Warning::Skipped { source, why } => write!(f, "skipped {source}: {why}"),
            Warning::Waiting { dir } => write!(
                f,
                "another zhsearch process is building the index in {}: waiting for it",
                dir.display()
            ),
            Warning::NoDocuments { corpus } => write!(
                f,
                "the corpus folder {} holds no documents any more: the index holds none either",
                corpus.display()
            ),
        }
    }
}

/// How far an update is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Files are about to be read: how many, and their total size.
    Start {
        /// Files to read.
        files: usize,
        /// Their total size in bytes.
        bytes: u64,
    },
    /// One file is done: its size.
    Done {
        /// Its size in bytes.
        bytes: u64,
    },
    /// Everything is read; the commit is being written.
    Committing,
    /// The update is over (committed or failed).
    Finish,
    /// Passages embedded after the commit (see [`crate::embed`]): so many of so many.
    Embedding {
        /// Passages embedded so far in this run.
        done: usize,
        /// Passages this run embeds.
        total: usize,
    },
}

/// Why an update rebuilt the whole index rather than bringing it up to date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RebuildReason {
    /// There was no index yet.
    NoIndex,
    /// The caller asked for it.
    Requested,
    /// The first build was interrupted.
    Unfinished,
    /// The index was written with another schema.
    SchemaChanged {
        /// The schema of the index found.
        old: u32,
        /// The schema of this version.
        new: u32,
    },
    /// The index was damaged, and a rebuild was asked for.
    Damaged {
        /// What was wrong with it.
        why: String,
    },
}

impl fmt::Display for RebuildReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RebuildReason::NoIndex => f.write_str("no index yet"),
            RebuildReason::Requested => f.write_str("rebuild requested"),
            RebuildReason::Unfinished => f.write_str("the first build did not finish"),
            RebuildReason::SchemaChanged { old, new } => write!(
                f,
                "the index was written by another version of zhsearch (schema {old}, now {new}); rebuilding it"
            ),
            RebuildReason::Damaged { why } => write!(f, "rebuild of a damaged index ({why})"),
        }
    }
}

/// What an update did.
#[derive(Debug, Default, Clone)]
pub struct UpdateReport {
    /// Files indexed that the index did not hold.
    pub added: usize,
    /// Files indexed again because their content changed.
    pub changed: usize,
    /// Files the index held that are gone (or not read again by a rebuild).
    pub removed: usize,
    /// Files left as they were.
    pub unchanged: usize,
    /// Passages added to the index.
    pub passages_added: usize,
    /// Bytes read from the corpus.
    pub bytes_read: u64,
    /// Files not indexed (also sent to the reporter): source and why, sorted.
    pub skipped: Vec<(String, String)>,
    /// Why everything was rebuilt, when it was.
    pub rebuilt: Option<RebuildReason>,
    /// The corpus folder the index now holds.
    pub corpus: std::path::PathBuf,
}

impl UpdateReport {
    /// Whether the update changed nothing.
    pub fn is_noop(&self) -> bool {
        self.added + self.changed + self.removed + self.skipped.len() == 0 && self.rebuilt.is_none()
    }
}

impl fmt::Display for UpdateReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} added, {} changed, {} removed, {} unchanged",
            self.added, self.changed, self.removed, self.unchanged
        )?;
        if !self.skipped.is_empty() {
            write!(f, ", {} skipped", self.skipped.len())?;
        }
        let n = self.passages_added;
        write!(f, " ({n} passage{} indexed)", if n == 1 { "" } else { "s" })
    }
}

/// A [`Reporter`] that drops everything, by name.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoReport;

impl Reporter for NoReport {
    fn warning(&self, _: &Warning) {}
    fn progress(&self, _: Progress) {}
}

//! What an update tells its caller: warnings and progress while it runs (through a
//! [`Reporter`] the caller supplies), and an [`UpdateReport`] when it is done.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Mutex;

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

/// The warnings of a process that updates its index again and again (a server), each said
/// once while it lasts: a problem that persists (an unreadable folder, a broken ignore file)
/// is said when it appears, not at every update, and again if it went away and came back.
#[derive(Debug, Default)]
pub struct Said {
    inner: Mutex<SaidInner>,
}

#[derive(Debug, Default)]
struct SaidInner {
    /// What the last finished update said.
    before: BTreeSet<String>,
    /// What the update under way said, in order, once each.
    now: Vec<String>,
    now_set: BTreeSet<String>,
}

impl Said {
    /// Nothing said yet.
    pub const fn new() -> Said {
        Said {
            inner: Mutex::new(SaidInner {
                before: BTreeSet::new(),
                now: Vec::new(),
                now_set: BTreeSet::new(),
            }),
        }
    }

    /// Records `w` for the update under way; whether it is news: neither the last finished
    /// update nor this one said it already.
    pub fn news(&self, w: &Warning) -> bool {
        let line = w.to_string();
        let mut s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if s.now_set.contains(&line) {
            return false;
        }
        let news = !s.before.contains(&line);
        s.now_set.insert(line.clone());
        s.now.push(line);
        news
    }

    /// Ends the update under way: its warnings, in order, which the next update is compared
    /// with.
    pub fn finish(&self) -> Vec<String> {
        let mut s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        s.before = std::mem::take(&mut s.now_set);
        std::mem::take(&mut s.now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unlisted(what: &str) -> Warning {
        Warning::Unlisted { what: what.into() }
    }

    #[test]
    fn a_lasting_warning_is_news_once_and_again_after_it_went_away() {
        let said = Said::new();
        assert!(said.news(&unlisted("a: denied")));
        assert!(!said.news(&unlisted("a: denied")), "twice in one update");
        assert_eq!(said.finish(), ["skipping a: denied"]);
        assert!(
            !said.news(&unlisted("a: denied")),
            "the next update says it again"
        );
        assert!(said.news(&unlisted("b: denied")));
        assert_eq!(said.finish(), ["skipping a: denied", "skipping b: denied"]);
        assert!(said.finish().is_empty(), "an update without warnings");
        assert!(said.news(&unlisted("a: denied")), "back after it went away");
    }
}

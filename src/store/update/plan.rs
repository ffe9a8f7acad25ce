//! The pure part of an update: what to do with each file, from the list the index holds and
//! the files the corpus has now. Nothing is read or written here.

use std::collections::HashMap;

use crate::ingest::corpus::SourceFile;
use crate::store::manifest::FileState;
use crate::store::report::RebuildReason;

/// What an update does with one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change<'a> {
    /// A file the index does not hold: read and index it.
    Add(&'a SourceFile),
    /// A file whose size or modification time is not what the index recorded: read it, and
    /// index it again when its content differs.
    Check {
        /// The file as listed now.
        file: &'a SourceFile,
        /// What the index recorded.
        was: &'a FileState,
    },
    /// A file the index holds that is gone: its entries are deleted.
    Remove(&'a FileState),
    /// A file as the index recorded it: not read.
    Keep(&'a FileState),
}

/// Everything an update does, decided before anything is written.
#[derive(Debug)]
pub struct Plan<'a> {
    /// One change per file, listed files first (in listing order), then the removed ones.
    pub changes: Vec<Change<'a>>,
    /// Why everything is indexed afresh, when it is.
    pub rebuild: Option<RebuildReason>,
    /// On a rebuild, the files the index held that are not read again.
    pub dropped: usize,
}

impl Plan<'_> {
    /// Whether the index is up to date: nothing to read, delete or rebuild.
    pub fn is_noop(&self) -> bool {
        self.rebuild.is_none() && self.changes.iter().all(|c| matches!(c, Change::Keep(_)))
    }

    /// The files to read, with what the index recorded of each.
    pub fn to_read(&self) -> Vec<(&SourceFile, Option<&FileState>)> {
        self.changes
            .iter()
            .filter_map(|c| match c {
                Change::Add(f) => Some((*f, None)),
                Change::Check { file, was } => Some((*file, Some(*was))),
                _ => None,
            })
            .collect()
    }
}

/// Compares what the index holds (`previous`) with the files `listed` now. A file whose size
/// and modification time match is kept unread; on a rebuild every file is read again.
pub fn plan<'a>(
    previous: &'a [FileState],
    listed: &'a [SourceFile],
    rebuild: Option<RebuildReason>,
) -> Plan<'a> {
    let listed_now = |s: &FileState| {
        listed
            .binary_search_by(|f| f.source.as_str().cmp(&s.source))
            .is_ok()
    };
    if rebuild.is_some() {
        return Plan {
            changes: listed.iter().map(Change::Add).collect(),
            dropped: previous.iter().filter(|s| !listed_now(s)).count(),
            rebuild,
        };
    }
    let by_source: HashMap<&str, &FileState> =
        previous.iter().map(|s| (s.source.as_str(), s)).collect();
    let mut changes: Vec<Change> = listed
        .iter()
        .map(|f| match by_source.get(f.source.as_str()) {
            Some(was) if was.size == f.size && was.mtime_ns == f.mtime_ns => Change::Keep(was),
            Some(was) => Change::Check { file: f, was },
            None => Change::Add(f),
        })
        .collect();
    changes.extend(
        previous
            .iter()
            .filter(|s| !listed_now(s))
            .map(Change::Remove),
    );
    Plan {
        changes,
        rebuild: None,
        dropped: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::manifest::Content;

    fn listed(source: &str, size: u64) -> SourceFile {
        SourceFile {
            source: source.into(),
            path: source.into(),
            size,
            mtime_ns: 7,
            unusable: None,
        }
    }

    fn held(source: &str, size: u64) -> FileState {
        FileState {
            source: source.into(),
            size,
            mtime_ns: 7,
            content: Content::Indexed {
                hash: "h".into(),
                encoding: None,
            },
        }
    }

    #[test]
    fn each_file_gets_one_change() {
        let previous = [held("a.txt", 1), held("b.txt", 2), held("gone.txt", 3)];
        let now = [listed("a.txt", 1), listed("b.txt", 5), listed("new.txt", 4)];
        let p = plan(&previous, &now, None);
        assert_eq!(
            p.changes,
            vec![
                Change::Keep(&previous[0]),
                Change::Check {
                    file: &now[1],
                    was: &previous[1]
                },
                Change::Add(&now[2]),
                Change::Remove(&previous[2]),
            ]
        );
        assert!(!p.is_noop());
        assert_eq!(p.to_read().len(), 2);
        assert!(plan(&previous[..1], &now[..1], None).is_noop());
        let rebuilt = plan(&previous, &now, Some(RebuildReason::Requested));
        assert_eq!(rebuilt.dropped, 1);
        assert!(rebuilt.changes.iter().all(|c| matches!(c, Change::Add(_))));
    }
}

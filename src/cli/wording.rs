//! What the command line says about the store's errors and reports: the advice (which
//! command or flag to use) that the library's texts leave out.

use std::path::Path;

use crate::ingest::open::Refused;
use crate::store::{RebuildReason, Setting, StoreError};

/// What to do about `e`, in the command line's terms, for the index in `index_dir`; `None`
/// when there is nothing to advise.
pub fn store_advice(e: &StoreError, index_dir: &Path) -> Option<String> {
    let index = index_dir.display();
    Some(match e {
        StoreError::Busy { .. } => "wait for it to finish and try again".into(),
        StoreError::NotAnIndex { .. } => "pass a new or empty folder with --index".into(),
        StoreError::Damaged { dir, .. } => {
            format!("run `zhsearch index --rebuild --index {}`", dir.display())
        }
        StoreError::Permission { .. } => {
            "run zhsearch as a user allowed to, or pass another folder with --index".into()
        }
        StoreError::TooManyFiles { .. } => {
            "raise the limit on open files (`ulimit -n 4096`) and try again: the index is not damaged".into()
        }
        StoreError::DiskFull { .. } => "free some space and run `zhsearch index` again".into(),
        StoreError::ReadOnly { dir } => format!(
            "make it writable (`chmod -R u+w {}`) to update it",
            dir.display()
        ),
        StoreError::Changed { what, new, .. } => {
            let fix = match what {
                Setting::Corpus => {
                    format!("zhsearch index --rebuild --corpus {new} --index {index}")
                }
                Setting::Extensions => format!(
                    "zhsearch index --rebuild --ext {} --index {index}",
                    new.trim_start_matches('.').replace(", .", ",")
                ),
            };
            format!(
                "only `zhsearch index --rebuild` changes what an index holds: run `{fix}`, or pass a new --index"
            )
        }
        StoreError::CorpusMissing {
            of_index: Some(dir),
            ..
        } => format!(
            "restore it, or run `zhsearch index --rebuild --corpus DIR --index {}`",
            dir.display()
        ),
        StoreError::CorpusMissing { of_index: None, .. } => {
            "pass an existing folder with --corpus".into()
        }
        StoreError::CorpusNotFolder { .. } => "pass a folder with --corpus".into(),
        StoreError::CorpusMoved { dir, now, .. } => format!(
            "restore the folder, or run `zhsearch index --rebuild --corpus {} --index {}` to index what it leads to",
            now.display(),
            dir.display()
        ),
        StoreError::NoDocuments { .. } => "add some, or pass --corpus or --ext".into(),
        StoreError::BadExtensions { .. } => {
            "give extensions separated by commas, such as --ext txt,md".into()
        }
        StoreError::WriteFailed { .. } | StoreError::Other(_) => return None,
    })
}

/// The one line the command line prints for `e`: the fact, then the advice.
pub fn store_message(e: &StoreError, index_dir: &Path) -> String {
    let Some(advice) = store_advice(e, index_dir) else {
        return format!("{e:#}");
    };
    match e {
        StoreError::CorpusMissing {
            corpus,
            of_index: None,
            cause,
        } => format!(
            "cannot read corpus folder {}: {advice}: {cause}",
            corpus.display()
        ),
        StoreError::BadExtensions { given, why } => format!("--ext {given:?}: {why}: {advice}"),
        StoreError::Changed { .. } => format!("{e}; {advice}"),
        _ => format!("{e}: {advice}"),
    }
}

/// `e` as the command line reports it: the store's own error with its advice, or any other
/// error as it is.
pub fn store_error(e: StoreError, index_dir: &Path) -> anyhow::Error {
    match e {
        StoreError::Other(e) => e,
        e => anyhow::anyhow!(store_message(&e, index_dir)),
    }
}

/// Why the index was rebuilt, as the command line names it.
pub fn rebuild_reason(r: &RebuildReason) -> String {
    match r {
        RebuildReason::Requested => "--rebuild".into(),
        RebuildReason::Damaged { why } => format!("--rebuild of a damaged index ({why})"),
        r => r.to_string(),
    }
}

/// A corpus file that is not read back, with what to do about it.
pub fn refused_message(r: &Refused) -> String {
    match r {
        Refused::NotPlainFile { .. } => format!("{r}; run `zhsearch index` to update the index"),
        Refused::CorpusMoved { .. } => format!(
            "{r}: restore the folder, or rebuild the index with `zhsearch index --rebuild --corpus DIR`"
        ),
        Refused::Stale {
            index,
            not_updated: None,
            ..
        } => format!("{r}: run `zhsearch index --index {}`", index.display()),
        r => r.to_string(),
    }
}

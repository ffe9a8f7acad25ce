//! Writing a plan into the index: the writer, the deletions, the files read, and one commit
//! whose payload names the new list of files.

use std::path::Path;

use anyhow::{Result, anyhow};
use tantivy::index::SegmentMeta;
use tantivy::indexer::{LogMergePolicy, MergeCandidate, MergePolicy};
use tantivy::{IndexWriter, TantivyDocument, Term};

use crate::store::clear;
use crate::store::errors::StoreError;
use crate::store::errors::{refuse_read_only, write_error};
use crate::store::folder::Opened;
use crate::store::index::{FORMAT, SCHEMA_VERSION};
use crate::store::manifest::{self, FileState, Head, Manifest};
use crate::store::report::{Progress, Reporter, UpdateReport};
use crate::store::update::plan::{Change, Plan};
use crate::store::update::{alloc, apply};

/// Memory Tantivy may use for each indexing thread before it writes a segment. 64 MB builds
/// the 74 MB poetry corpus in the same CPU time as 96 MB did, at a peak of 298–328 MB instead
/// of 375–385 MB (with mimalloc, which holds on to more memory than glibc's allocator).
const WRITER_BUDGET_PER_THREAD: usize = 64 << 20;
/// Segments past this many entries are not merged further: merges stay bounded in memory and
/// time whatever the corpus size (a 74 MB corpus still ends in a few segments).
const MAX_DOCS_BEFORE_MERGE: usize = 3_000_000;

/// Segments of fewer entries are merged together as soon as there are two: each update
/// leaves one (its changed files' passages), and a search pays for every segment it opens.
/// On the 74 MB poetry corpus, the two left by two updates cost 0.95 ms of a 6.2 ms search
/// (median over the benchmark's queries, whole process); merging them took 22 ms. At this
/// bound such a merge takes a few tenths of a second at most.
const SMALL_SEGMENT_DOCS: u32 = 50_000;

/// How many times a busy writer lock is tried again, 10 ms apart.
const LOCK_TRIES: u32 = 5;

/// Takes the writer; the lock held by another process is [`StoreError::Busy`].
pub fn open_writer(index: &tantivy::Index, dir: &Path) -> Result<IndexWriter<TantivyDocument>> {
    refuse_read_only(dir)?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    // A lock held for an instant (a writer just finishing, or a child process spawned at that
    // moment that still holds a copy of its descriptor) is waited for, briefly; a writer that
    // keeps it is another process at work: busy.
    let mut tries = 0;
    let writer = loop {
        match index.writer_with_num_threads(threads, WRITER_BUDGET_PER_THREAD * threads) {
            Err(tantivy::TantivyError::LockFailure(
                tantivy::directory::error::LockError::LockBusy,
                _,
            )) if tries < LOCK_TRIES => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(tantivy::TantivyError::LockFailure(
                tantivy::directory::error::LockError::LockBusy,
                _,
            )) => {
                return Err(anyhow!(StoreError::Busy {
                    dir: dir.to_path_buf()
                }));
            }
            Err(e) => return Err(write_error(dir, anyhow!(e))),
            Ok(writer) => break writer,
        }
    };
    let mut merges = LogMergePolicy::default();
    merges.set_max_docs_before_merge(MAX_DOCS_BEFORE_MERGE);
    writer.set_merge_policy(Box::new(Merges(merges)));
    Ok(writer)
}

/// Tantivy's log merge policy (segments of similar sizes merged by eights), and small
/// segments merged together whenever there are two.
#[derive(Debug)]
struct Merges(LogMergePolicy);

impl MergePolicy for Merges {
    fn compute_merge_candidates(&self, segments: &[SegmentMeta]) -> Vec<MergeCandidate> {
        let mut merges = self.0.compute_merge_candidates(segments);
        let merged: Vec<_> = merges.iter().flat_map(|m| m.0.iter().copied()).collect();
        let small: Vec<_> = segments
            .iter()
            .filter(|s| s.max_doc() < SMALL_SEGMENT_DOCS && !merged.contains(&s.id()))
            .map(SegmentMeta::id)
            .collect();
        if small.len() >= 2 {
            merges.push(MergeCandidate(small));
        }
        merges
    }
}

/// Whether `meta.json` on disk is still the one the plan was made from: another process may
/// have committed since it was read (checked under the writer lock, so only when writing).
pub fn still_current(dir: &Path, opened: &Opened) -> bool {
    if opened.reset.is_some() {
        // Created or cleared by this update, under its locks.
        return true;
    }
    let on_disk = std::fs::read(dir.join("meta.json")).ok();
    on_disk.as_deref() == opened.meta.get().as_deref().map(Vec::as_slice)
}

/// Deletes, adds and commits (with the new list of files); the committed head and files.
pub fn write(
    dir: &Path,
    writer: &mut IndexWriter<TantivyDocument>,
    opened: &Opened,
    plan: &Plan,
    head: Head,
    reporter: &dyn Reporter,
    report: &mut UpdateReport,
) -> Result<(Head, Vec<FileState>)> {
    let fields = opened.fields;
    // Until the commit has written the last segments.
    let _keep = alloc::KeepMemory::new();
    if plan.rebuild.is_some() {
        writer.delete_all_documents()?;
    }
    let mut states: Vec<FileState> = Vec::new();
    for change in &plan.changes {
        match change {
            Change::Remove(s) => {
                writer.delete_term(Term::from_field_text(fields.source, &s.source));
            }
            Change::Keep(s) => states.push((*s).clone()),
            // A file the list does not hold has no entries, unless the list was damaged (a
            // valid list with files missing): whatever the index holds of it goes, so that
            // it is never held twice.
            Change::Add(f) if plan.rebuild.is_none() => {
                writer.delete_term(Term::from_field_text(fields.source, &f.source));
            }
            Change::Add(_) | Change::Check { .. } => {}
        }
    }
    let todo = plan.to_read();
    reporter.progress(Progress::Start {
        files: todo.len(),
        bytes: todo.iter().map(|(f, _)| f.size).sum(),
    });
    let outcomes = apply::index_files(writer, &fields, &head.corpus, &todo, reporter, report)?;
    reporter.progress(Progress::Committing);
    apply::tally(outcomes, &mut states, report);
    let manifest = Manifest {
        head,
        files: states,
    };
    let payload = manifest::write(dir, &manifest)?;
    let mut commit = writer.prepare_commit()?;
    commit.set_payload(&payload);
    commit.commit()?;
    let committed: Head = serde_json::from_str(&payload)?;
    let before = opened.head.as_ref().and_then(|h| h.files_in.as_deref());
    manifest::remove_old_lists(dir, &[committed.files_in.as_deref(), before]);
    Ok((committed, manifest.files))
}

/// After a failed write: the typed error, classified before the cleanup frees space; then
/// the unfinished segment files and list go.
pub fn undo(
    dir: &Path,
    writer: IndexWriter<TantivyDocument>,
    opened: &Opened,
    e: anyhow::Error,
) -> anyhow::Error {
    let e = write_error(dir, e);
    drop(writer);
    clear::remove_uncommitted(&opened.index, dir);
    let committed = opened.head.as_ref().and_then(|h| h.files_in.as_deref());
    manifest::remove_old_lists(dir, &[committed]);
    e
}

/// The head of a commit of `corpus` with `extensions`.
pub fn new_head(corpus: &Path, extensions: &[String]) -> Head {
    Head {
        format: FORMAT.into(),
        schema: SCHEMA_VERSION,
        corpus: corpus.to_path_buf(),
        extensions: extensions.to_vec(),
        files_in: None,
    }
}

//! Keeping the index in step with the corpus: only added, changed and removed files are
//! touched, files are streamed (read, analysed, added, dropped) on every core, and the list of
//! indexed files travels in the commit payload, so it changes atomically with the index.
//!
//! A file whose size and modification time are unchanged is not read. Otherwise it is read and
//! hashed; an unchanged hash (a touched file) costs no indexing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result, anyhow, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tantivy::indexer::LogMergePolicy;
use tantivy::{IndexWriter, TantivyDocument, Term};

use crate::ingest::corpus::{self, SourceFile};
use crate::ingest::encoding;
use crate::present::show;
use crate::store::index::{self, FORMAT, SCHEMA_VERSION};
use crate::store::manifest::{self, FileState, Head, Manifest};
use crate::store::{self, Found, Marker, Opened, StoreError};

/// Memory Tantivy may use for each indexing thread before it writes a segment.
const WRITER_BUDGET_PER_THREAD: usize = 96 << 20;
/// Segments past this many entries are not merged further: merges stay bounded in memory and
/// time whatever the corpus size (a 74 MB corpus still ends in a few segments).
const MAX_DOCS_BEFORE_MERGE: usize = 3_000_000;

/// Options for an update.
#[derive(Debug, Clone, Default)]
pub struct UpdateOptions {
    /// Reindex every file even when nothing changed.
    pub rebuild: bool,
    /// File name extensions of documents [default: as the index remembers, else
    /// `txt, md, markdown`].
    pub extensions: Option<Vec<String>>,
    /// Draw a progress bar on stderr (only when it is a terminal).
    pub progress: bool,
}

/// What an update did.
#[derive(Default)]
pub struct UpdateReport {
    pub added: usize,
    pub changed: usize,
    pub removed: usize,
    pub unchanged: usize,
    pub passages_added: usize,
    pub bytes_read: u64,
    pub skipped: Vec<(String, String)>,
    /// Why everything was rebuilt, when it was.
    pub rebuilt: Option<String>,
    /// The index as committed, ready for searching.
    pub index: Option<tantivy::Index>,
    /// The corpus folder the index now holds.
    pub corpus: PathBuf,
}

impl UpdateReport {
    pub fn is_noop(&self) -> bool {
        self.added + self.changed + self.removed + self.skipped.len() == 0 && self.rebuilt.is_none()
    }
}

impl std::fmt::Display for UpdateReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} added, {} changed, {} removed, {} unchanged",
            self.added, self.changed, self.removed, self.unchanged
        )?;
        if !self.skipped.is_empty() {
            write!(f, ", {} skipped", self.skipped.len())?;
        }
        write!(f, " ({} passages indexed)", self.passages_added)
    }
}

/// What happened to one file that had to be looked at.
enum Outcome {
    Unchanged(FileState),
    Indexed {
        state: FileState,
        existed: bool,
        passages: usize,
    },
    Skipped {
        state: Option<FileState>,
        source: String,
        why: String,
    },
}

/// The corpus folder, absolute.
fn resolve(corpus_dir: &Path) -> Result<PathBuf> {
    std::fs::canonicalize(corpus_dir).with_context(|| {
        format!(
            "cannot read corpus folder {}: pass an existing folder with --corpus",
            corpus_dir.display()
        )
    })
}

/// Extensions as the user may type them (`'txt, .MD'`): trimmed, without a leading dot, in
/// lower case, each once. Anything that cannot be the end of a file name is refused.
pub fn parse_extensions(raw: &[String]) -> Result<Vec<String>> {
    let arg = raw.join(",");
    let bad = |why: String| {
        anyhow!("--ext {arg:?}: {why}: give extensions separated by commas, such as --ext txt,md")
    };
    let mut out: Vec<String> = Vec::new();
    for item in raw.iter().flat_map(|r| r.split(',')) {
        let item = item.trim();
        let ext = item.strip_prefix('.').unwrap_or(item).to_lowercase();
        if ext.is_empty() {
            return Err(bad("an extension is empty".into()));
        }
        if !ext
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '+' | '~'))
        {
            return Err(bad(format!("{item:?} is not a file name extension")));
        }
        if !out.contains(&ext) {
            out.push(ext);
        }
    }
    if out.is_empty() {
        return Err(bad("no extension given".into()));
    }
    Ok(out)
}

/// What an update reads, settled before anything is written.
struct Plan {
    corpus: PathBuf,
    extensions: Vec<String>,
    files: Vec<SourceFile>,
}

/// The corpus [default: the one the index knows, else `./corpus`], the extensions and the
/// files. Changing the corpus or the extensions of a committed index needs `rebuild`.
fn plan(
    corpus_dir: Option<&Path>,
    dir: &Path,
    found: &Found,
    opts: &UpdateOptions,
) -> Result<Plan> {
    let known = found.known();
    let corpus = match (corpus_dir, &known) {
        (Some(c), _) => resolve(c)?,
        (None, Some(k)) => remembered_corpus(&k.corpus, dir)?,
        (None, None) => resolve(Path::new("corpus"))?,
    };
    let extensions = match (&opts.extensions, &known) {
        (Some(e), _) => parse_extensions(e)?,
        (None, Some(k)) => k.extensions.clone(),
        (None, None) => corpus::default_extensions(),
    };
    if !opts.rebuild
        && let Some(head) = found.committed()
    {
        refuse_changes(dir, head, &corpus, &extensions)?;
    }
    let files = corpus::list_files(&corpus, &extensions, dir)?;
    if files.is_empty() {
        bail!(
            "there are no documents (.{}) in the corpus {}: add some, or pass --corpus or --ext",
            extensions.join(", ."),
            corpus.display()
        );
    }
    Ok(Plan {
        corpus,
        extensions,
        files,
    })
}

/// The corpus folder the index remembers, only while it still resolves to itself: when it, or
/// a folder above it, was replaced by a symbolic link, walking it would index (and show)
/// files from wherever the link points.
fn remembered_corpus(corpus: &Path, dir: &Path) -> Result<PathBuf> {
    let index = dir.display();
    match std::fs::canonicalize(corpus) {
        Ok(now) if now == corpus => Ok(now),
        Ok(now) => bail!(
            "the corpus folder {} of the index in {index} now leads to {} through a symbolic link, so it is not read: restore the folder, or run `zhsearch index --rebuild --corpus {} --index {index}` to index what it leads to",
            corpus.display(),
            now.display(),
            now.display()
        ),
        Err(e) => bail!(
            "cannot read the corpus folder {} of the index in {index} ({e}): restore it, or run `zhsearch index --rebuild --corpus DIR --index {index}`",
            corpus.display()
        ),
    }
}

/// Refuses an update that would drop documents as a side effect of a differing `--corpus`
/// or `--ext`.
fn refuse_changes(dir: &Path, head: &Head, corpus: &Path, extensions: &[String]) -> Result<()> {
    let index = dir.display();
    if head.corpus != corpus {
        return Err(anyhow!(StoreError::Changed {
            dir: dir.to_path_buf(),
            what: "the corpus",
            old: head.corpus.display().to_string(),
            new: corpus.display().to_string(),
            fix: format!(
                "zhsearch index --rebuild --corpus {} --index {index}",
                corpus.display()
            ),
        }));
    }
    let set = |e: &[String]| {
        let mut v: Vec<String> = e
            .iter()
            .map(|x| x.trim().trim_start_matches('.').to_lowercase())
            .collect();
        v.sort();
        v.dedup();
        v
    };
    if set(&head.extensions) != set(extensions) {
        let dotted = |e: &[String]| format!(".{}", e.join(", ."));
        return Err(anyhow!(StoreError::Changed {
            dir: dir.to_path_buf(),
            what: "the extensions",
            old: dotted(&head.extensions),
            new: dotted(extensions),
            fix: format!(
                "zhsearch index --rebuild --ext {} --index {index}",
                extensions.join(",")
            ),
        }));
    }
    Ok(())
}

/// Brings the index in `dir` in step with `corpus_dir` [default: the corpus the index was
/// built from, else `./corpus`]. Nothing is created before the corpus is known to hold
/// documents, and a first build that fails leaves nothing behind.
pub fn update(corpus_dir: Option<&Path>, dir: &Path, opts: UpdateOptions) -> Result<UpdateReport> {
    let found = store::inspect(dir)?;
    let plan = plan(corpus_dir, dir, &found, &opts)?;
    let marker = Marker::new(&plan.corpus, &plan.extensions);
    let opened = store::open_or_create(dir, found, opts.rebuild, &marker)?;
    let new_folder = opened.new_folder.clone();
    let result = apply(dir, opened, plan, &marker, &opts);
    if result.is_err()
        && let Some(created) = new_folder
    {
        store::remove_unfinished(dir, created.as_deref());
    }
    result
}

/// The files the index holds that still count: none when it is rebuilt (and why).
fn previous_files(
    opened: &Opened,
    plan: &Plan,
    rebuild: bool,
    report: &mut UpdateReport,
) -> Vec<FileState> {
    let Some(m) = &opened.manifest else {
        report.rebuilt = Some(
            opened
                .reset
                .clone()
                .unwrap_or_else(|| "no index yet".into()),
        );
        return Vec::new();
    };
    if opened.reset.is_none() && !rebuild {
        return m.files.clone();
    }
    report.rebuilt = Some(opened.reset.clone().unwrap_or_else(|| "--rebuild".into()));
    // Say what the rebuild drops: the files the index held that are not read again.
    report.removed = m
        .files
        .iter()
        .filter(|s| {
            plan.files
                .binary_search_by(|f| f.source.cmp(&s.source))
                .is_err()
        })
        .count();
    Vec::new()
}

/// Takes the writer; the lock held by another process is [`StoreError::Busy`].
fn open_writer(index: &tantivy::Index, dir: &Path) -> Result<IndexWriter<TantivyDocument>> {
    store::refuse_read_only(dir)?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let writer = index
        .writer_with_num_threads(threads, WRITER_BUDGET_PER_THREAD * threads)
        .map_err(|e| match e {
            tantivy::TantivyError::LockFailure(
                tantivy::directory::error::LockError::LockBusy,
                _,
            ) => {
                anyhow!(StoreError::Busy(dir.to_path_buf()))
            }
            e => store::write_error(dir, anyhow!(e)),
        })?;
    let mut merges = LogMergePolicy::default();
    merges.set_max_docs_before_merge(MAX_DOCS_BEFORE_MERGE);
    writer.set_merge_policy(Box::new(merges));
    Ok(writer)
}

/// Applies the plan to the opened index: reads what changed, then one commit.
fn apply(
    dir: &Path,
    mut opened: Opened,
    plan: Plan,
    marker: &Marker,
    opts: &UpdateOptions,
) -> Result<UpdateReport> {
    let mut report = UpdateReport {
        corpus: plan.corpus.clone(),
        ..UpdateReport::default()
    };
    let old = previous_files(&opened, &plan, opts.rebuild, &mut report);
    let by_source: HashMap<&str, &FileState> = old.iter().map(|s| (s.source.as_str(), s)).collect();

    // Files whose size and mtime match the manifest are not read at all.
    let mut states: Vec<FileState> = Vec::new();
    let mut todo: Vec<SourceFile> = Vec::new();
    for f in &plan.files {
        match by_source.get(f.source.as_str()) {
            Some(p) if p.size == f.size && p.mtime_ns == f.mtime_ns => {
                states.push((*p).clone());
                report.unchanged += 1;
            }
            _ => todo.push(f.clone()),
        }
    }
    let removed: Vec<&FileState> = old
        .iter()
        .filter(|s| {
            plan.files
                .binary_search_by(|f| f.source.cmp(&s.source))
                .is_err()
        })
        .collect();
    report.removed += removed.len();
    if todo.is_empty() && removed.is_empty() && report.rebuilt.is_none() {
        report.index = Some(opened.index);
        return Ok(report);
    }
    let mut writer = open_writer(&opened.index, dir)?;
    // The writer lock now keeps other processes out; creating is over.
    opened.creating = None;
    let written = write(
        dir,
        &mut writer,
        &opened,
        Work {
            todo: &todo,
            removed: &removed,
            kept: states,
            by_source: &by_source,
        },
        &plan,
        opts,
        &mut report,
    )
    // After the commit, so that the marker always describes what is committed (a killed
    // `--rebuild --ext md` leaves both as they were); an index made before the marker existed
    // gets it here too. A new index's marker was written first, when it was created.
    .and_then(|()| store::ensure_marker(dir, marker));
    if let Err(e) = written {
        // Classified before the cleanup frees space; then its unfinished segment files go.
        let e = store::write_error(dir, e);
        drop(writer);
        store::remove_uncommitted(&opened.index, dir);
        let committed = opened
            .manifest
            .as_ref()
            .and_then(|m| m.head.files_in.as_deref());
        manifest::remove_old_lists(dir, &[committed]);
        return Err(e);
    }
    // Merges after the commit only make the index smaller; a failed one leaves the commit
    // whole, and its files are collected by the next commit.
    let _ = writer.wait_merging_threads();
    report.index = Some(opened.index);
    Ok(report)
}

/// What an update has to do: the files to read, those to drop, those kept as they were, and
/// what the index knew of each.
struct Work<'a> {
    todo: &'a [SourceFile],
    removed: &'a [&'a FileState],
    kept: Vec<FileState>,
    by_source: &'a HashMap<&'a str, &'a FileState>,
}

/// Deletes, adds and commits (with the new list of files).
fn write(
    dir: &Path,
    writer: &mut IndexWriter<TantivyDocument>,
    opened: &Opened,
    work: Work,
    plan: &Plan,
    opts: &UpdateOptions,
    report: &mut UpdateReport,
) -> Result<()> {
    let Work {
        todo,
        removed,
        kept: mut states,
        by_source,
    } = work;
    let progress = progress_bar(opts.progress, todo);
    let fields = opened.fields;
    if report.rebuilt.is_some() {
        writer.delete_all_documents()?;
    }
    for s in removed {
        writer.delete_term(Term::from_field_text(fields.source, &s.source));
    }
    let previous = |source: &str| by_source.get(source).copied();
    let outcomes = index_files(
        writer,
        &fields,
        &plan.corpus,
        todo,
        &previous,
        &progress,
        report,
    )?;
    progress.set_message("committing");
    tally(outcomes, &mut states, report);
    let manifest = Manifest {
        head: Head {
            format: FORMAT.into(),
            schema: SCHEMA_VERSION,
            corpus: plan.corpus.clone(),
            extensions: plan.extensions.clone(),
            files_in: None,
        },
        files: states,
    };
    let payload = manifest::write(dir, &manifest)?;
    let mut commit = writer.prepare_commit()?;
    commit.set_payload(&payload);
    commit.commit()?;
    let committed = serde_json::from_str::<Head>(&payload)?.files_in;
    let before = opened
        .manifest
        .as_ref()
        .and_then(|m| m.head.files_in.as_deref());
    manifest::remove_old_lists(dir, &[committed.as_deref(), before]);
    progress.finish_and_clear();
    Ok(())
}

/// Reads, analyses and adds files on every core; each file is dropped once added.
fn index_files<'a>(
    writer: &IndexWriter<TantivyDocument>,
    fields: &index::Fields,
    corpus: &Path,
    todo: &[SourceFile],
    previous: &(dyn Fn(&str) -> Option<&'a FileState> + Sync),
    progress: &ProgressBar,
    report: &mut UpdateReport,
) -> Result<Vec<Outcome>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let next = AtomicUsize::new(0);
    let outcomes: Mutex<Vec<Outcome>> = Mutex::new(Vec::new());
    let bytes_read = AtomicUsize::new(0);
    std::thread::scope(|scope| -> Result<()> {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    while let Some(file) = todo.get(next.fetch_add(1, Ordering::Relaxed)) {
                        let prev = previous(&file.source);
                        let outcome = process(writer, fields, corpus, file, prev, &bytes_read)?;
                        outcomes.lock().expect("outcomes lock").push(outcome);
                        progress.inc(file.size);
                    }
                    Ok(())
                })
            })
            .collect();
        for w in workers {
            w.join()
                .map_err(|_| anyhow!("an indexing thread panicked"))??;
        }
        Ok(())
    })?;
    report.bytes_read = bytes_read.into_inner() as u64;
    Ok(outcomes.into_inner().expect("outcomes lock"))
}

/// Counts what happened to each file and collects the new list of files, sorted.
fn tally(outcomes: Vec<Outcome>, states: &mut Vec<FileState>, report: &mut UpdateReport) {
    for outcome in outcomes {
        match outcome {
            Outcome::Unchanged(state) => {
                report.unchanged += 1;
                states.push(state);
            }
            Outcome::Indexed {
                state,
                existed,
                passages,
            } => {
                if existed {
                    report.changed += 1;
                } else {
                    report.added += 1;
                }
                report.passages_added += passages;
                states.push(state);
            }
            Outcome::Skipped { state, source, why } => {
                // Counted as skipped, not as added or changed: nothing of it is indexed.
                states.extend(state);
                report.skipped.push((source, why));
            }
        }
    }
    states.sort_by(|a, b| a.source.cmp(&b.source));
    report.skipped.sort();
}

/// Files and MB done, rate and ETA, on stderr; indicatif draws nothing when stderr is not a
/// terminal.
fn progress_bar(enabled: bool, todo: &[SourceFile]) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let total: u64 = todo.iter().map(|f| f.size).sum();
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{spinner} indexing [{bar:30}] {binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec}, ETA {eta}) {msg}",
    )
    .map(|s| s.progress_chars("=> "))
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(format!("{} files", todo.len()));
    bar
}

/// Reads one file that may have changed; indexes it when its content did. The file is
/// streamed: read once for its hash (and encoding), then again piece by piece, each passage
/// added to the writer as soon as it is made, so memory does not grow with the file's size.
fn process(
    writer: &IndexWriter<TantivyDocument>,
    fields: &index::Fields,
    corpus: &Path,
    file: &SourceFile,
    prev: Option<&FileState>,
    bytes_read: &AtomicUsize,
) -> Result<Outcome> {
    let existed = prev.is_some();
    let skipped = |state: Option<FileState>, why: String| Outcome::Skipped {
        state,
        source: file.source.clone(),
        why,
    };
    let mut state = FileState {
        source: file.source.clone(),
        size: file.size,
        mtime_ns: file.mtime_ns,
        hash: String::new(),
        encoding: None,
        skipped: None,
    };
    if let Some(why) = &file.unusable {
        // Remembered as skipped, so it is not reported again until it changes.
        state.skipped = Some(why.clone());
        return Ok(skipped(Some(state), why.clone()));
    }
    let read = open_sniffed(corpus, file);
    let (mut f, sniffed) = match read {
        Ok(r) => r,
        Err(why) => {
            // Vanished or unreadable since the listing: drop what the index had of it.
            if existed {
                writer.delete_term(Term::from_field_text(fields.source, &file.source));
            }
            // Remembered as skipped, so it is not tried again until it changes.
            state.skipped = Some(why.clone());
            return Ok(skipped(Some(state), why));
        }
    };
    bytes_read.fetch_add(sniffed.len as usize, Ordering::Relaxed);
    state.hash = sniffed.hash.clone();
    if let Some(p) = prev
        && p.hash == state.hash
    {
        state.skipped = p.skipped.clone();
        state.encoding = p.encoding.clone();
        return Ok(Outcome::Unchanged(state));
    }
    if existed {
        writer.delete_term(Term::from_field_text(fields.source, &file.source));
    }
    let cannot_read =
        |e: std::io::Error| format!("cannot read it ({e}); check that it is readable");
    let indexed = match encoding::choose(&mut f, &sniffed) {
        Ok(Ok(choice)) => {
            state.encoding = Some(choice.name().to_string());
            add_passages(writer, fields, file, choice, f, cannot_read)?
        }
        Ok(Err(undecodable)) => Err(undecodable.to_string()),
        Err(e) => Err(cannot_read(e)),
    };
    match indexed {
        Ok(passages) => Ok(Outcome::Indexed {
            state,
            existed,
            passages,
        }),
        Err(why) => {
            // What was added of it before a malformed byte turned up goes too.
            writer.delete_term(Term::from_field_text(fields.source, &file.source));
            state.encoding = None;
            state.skipped = Some(why.clone());
            Ok(skipped(Some(state), why))
        }
    }
}

/// Opens `file` as `show` opens a document (a file swapped for a link since the listing is
/// not read) and reads it once; why it could not be read.
fn open_sniffed(
    corpus: &Path,
    file: &SourceFile,
) -> Result<(std::fs::File, encoding::Sniffed), String> {
    let cannot_read = |err| format!("cannot read it ({err}); check that it exists and is readable");
    let mut f = show::open_plain(corpus, &file.source).map_err(|e| match e {
        show::Refused::Io { err, .. } => cannot_read(err),
        show::Refused::NotPlainFile { what, .. } => {
            format!("{what}; symbolic links are not followed")
        }
        e => e.to_string(),
    })?;
    let sniffed = encoding::sniff(&mut f, file.size).map_err(cannot_read)?;
    Ok((f, sniffed))
}

/// Decodes, parses and adds `f` piece by piece: the number of passages, or why it could not
/// be read after all.
fn add_passages(
    writer: &IndexWriter<TantivyDocument>,
    fields: &index::Fields,
    file: &SourceFile,
    choice: encoding::Choice,
    f: std::fs::File,
    cannot_read: impl Fn(std::io::Error) -> String,
) -> Result<Result<usize, String>> {
    let mut chunks = match choice.chunks(f) {
        Ok(chunks) => chunks,
        Err(e) => return Ok(Err(cannot_read(e))),
    };
    let mut parser = corpus::Parser::new(&file.source);
    let mut text = String::new();
    let mut count = 0;
    let mut add = |passages: Vec<corpus::Passage>| -> Result<()> {
        for p in passages {
            writer.add_document(index::passage_doc(fields, &file.source, &p))?;
            count += 1;
        }
        Ok(())
    };
    loop {
        let more = match chunks.next_into(&mut text) {
            Ok(Ok(more)) => more,
            Ok(Err(undecodable)) => return Ok(Err(undecodable.to_string())),
            Err(e) => return Ok(Err(cannot_read(e))),
        };
        add(parser.push(&text))?;
        if !more {
            break;
        }
    }
    let (rest, meta) = parser.finish();
    add(rest)?;
    writer.add_document(index::meta_doc(fields, &file.source, &meta, choice.name()))?;
    Ok(Ok(count))
}

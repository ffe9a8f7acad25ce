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

use crate::corpus::{self, SourceFile};
use crate::encoding;
use crate::index::{self, FORMAT, SCHEMA_VERSION};
use crate::manifest::{self, FileState, Head, Manifest};
use crate::show;

/// Memory Tantivy may use for each indexing thread before it writes a segment.
const WRITER_BUDGET_PER_THREAD: usize = 96 << 20;
/// Segments past this many entries are not merged further: merges stay bounded in memory and
/// time whatever the corpus size (a 74 MB corpus still ends in a few segments).
const MAX_DOCS_BEFORE_MERGE: usize = 3_000_000;

/// Another process holds the index's writer lock.
#[derive(Debug)]
pub struct IndexBusy(pub PathBuf);

impl std::fmt::Display for IndexBusy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "another zhsearch process is writing the index in {}: wait for it to finish and try again",
            self.0.display()
        )
    }
}

impl std::error::Error for IndexBusy {}

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
        self.added + self.changed + self.removed == 0 && self.rebuilt.is_none()
    }
}

impl std::fmt::Display for UpdateReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} added, {} changed, {} removed, {} unchanged ({} passages indexed)",
            self.added, self.changed, self.removed, self.unchanged, self.passages_added
        )
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
        existed: bool,
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

/// Brings the index in `dir` in step with `corpus_dir` [default: the corpus the index was
/// built from, else `./corpus`].
pub fn update(corpus_dir: Option<&Path>, dir: &Path, opts: UpdateOptions) -> Result<UpdateReport> {
    let given = corpus_dir.map(resolve).transpose()?;
    let opened = index::open_or_create(dir, opts.rebuild)?;
    let corpus_abs = match given {
        Some(c) => c,
        None => match &opened.manifest {
            Some(m) => m.head.corpus.clone(),
            None => resolve(Path::new("corpus"))?,
        },
    };
    let extensions: Vec<String> = opts
        .extensions
        .clone()
        .or_else(|| opened.manifest.as_ref().map(|m| m.head.extensions.clone()))
        .unwrap_or_else(corpus::default_extensions)
        .into_iter()
        .map(|e| e.trim_start_matches('.').to_ascii_lowercase())
        .collect();
    let files = corpus::list_files(&corpus_abs, &extensions)?;
    if files.is_empty() {
        bail!(
            "there are no documents (.{}) in the corpus {}: add some, or pass --corpus or --ext",
            extensions.join(", ."),
            corpus_abs.display()
        );
    }
    let mut report = UpdateReport {
        corpus: corpus_abs.clone(),
        ..UpdateReport::default()
    };

    let old: Vec<FileState> = match &opened.manifest {
        _ if opened.reset.is_some() => {
            report.rebuilt = opened.reset.clone();
            Vec::new()
        }
        None => {
            report.rebuilt = Some("no index yet".into());
            Vec::new()
        }
        Some(m) if m.head.corpus != corpus_abs => {
            report.rebuilt = Some(format!(
                "the index was built from {}, not {}",
                m.head.corpus.display(),
                corpus_abs.display()
            ));
            Vec::new()
        }
        Some(_) if opts.rebuild => {
            report.rebuilt = Some("--rebuild".into());
            Vec::new()
        }
        Some(m) => m.files.clone(),
    };
    let by_source: HashMap<&str, &FileState> = old.iter().map(|s| (s.source.as_str(), s)).collect();
    let previous = |source: &str| by_source.get(source).copied();

    // Files whose size and mtime match the manifest are not read at all.
    let mut states: Vec<FileState> = Vec::new();
    let mut todo: Vec<SourceFile> = Vec::new();
    for f in &files {
        match previous(&f.source) {
            Some(p) if p.size == f.size && p.mtime_ns == f.mtime_ns => {
                states.push(p.clone());
                report.unchanged += 1;
            }
            _ => todo.push(f.clone()),
        }
    }
    let removed: Vec<&FileState> = old
        .iter()
        .filter(|s| files.binary_search_by(|f| f.source.cmp(&s.source)).is_err())
        .collect();
    report.removed = removed.len();
    let manifest_moved = opened
        .manifest
        .as_ref()
        .is_none_or(|m| m.head.corpus != corpus_abs || m.head.extensions != extensions);
    if todo.is_empty() && removed.is_empty() && report.rebuilt.is_none() && !manifest_moved {
        report.index = Some(opened.index);
        return Ok(report);
    }
    let progress = progress_bar(opts.progress, &todo);

    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let mut writer: IndexWriter<TantivyDocument> = opened
        .index
        .writer_with_num_threads(threads, WRITER_BUDGET_PER_THREAD * threads)
        .map_err(|e| match e {
            tantivy::TantivyError::LockFailure(..) => anyhow!(IndexBusy(dir.to_path_buf())),
            e => anyhow!(e).context(format!("cannot write the index in {}", dir.display())),
        })?;
    let mut merges = LogMergePolicy::default();
    merges.set_max_docs_before_merge(MAX_DOCS_BEFORE_MERGE);
    writer.set_merge_policy(Box::new(merges));
    let fields = opened.fields;
    if report.rebuilt.is_some() {
        writer.delete_all_documents()?;
    }
    for s in &removed {
        writer.delete_term(Term::from_field_text(fields.source, &s.source));
    }

    // Read, analyse and add files on every core; each file is dropped once added.
    let next = AtomicUsize::new(0);
    let outcomes: Mutex<Vec<Outcome>> = Mutex::new(Vec::new());
    let bytes_read = AtomicUsize::new(0);
    std::thread::scope(|scope| -> Result<()> {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    while let Some(file) = todo.get(next.fetch_add(1, Ordering::Relaxed)) {
                        let prev = previous(&file.source);
                        let outcome = process(&writer, &fields, file, prev, &bytes_read)?;
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
    progress.set_message("committing");

    for outcome in outcomes.into_inner().expect("outcomes lock") {
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
            Outcome::Skipped {
                state,
                existed,
                source,
                why,
            } => {
                if existed {
                    report.changed += 1;
                } else {
                    report.added += 1;
                }
                states.extend(state);
                report.skipped.push((source, why));
            }
        }
    }
    states.sort_by(|a, b| a.source.cmp(&b.source));
    report.skipped.sort();

    let manifest = Manifest {
        head: Head {
            format: FORMAT.into(),
            schema: SCHEMA_VERSION,
            corpus: corpus_abs,
            extensions,
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
    writer.wait_merging_threads()?;
    progress.finish_and_clear();
    report.index = Some(opened.index);
    Ok(report)
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
    file: &SourceFile,
    prev: Option<&FileState>,
    bytes_read: &AtomicUsize,
) -> Result<Outcome> {
    let existed = prev.is_some();
    let skipped = |state: Option<FileState>, why: String| Outcome::Skipped {
        state,
        existed,
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
    let read = open_sniffed(file);
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
fn open_sniffed(file: &SourceFile) -> Result<(std::fs::File, encoding::Sniffed), String> {
    let depth = Path::new(&file.source).components().count();
    let root = file.path.ancestors().nth(depth).unwrap_or(Path::new(""));
    let corpus = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let cannot_read = |err| format!("cannot read it ({err}); check that it exists and is readable");
    let mut f = show::open_plain(&corpus, &file.source).map_err(|e| match e {
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

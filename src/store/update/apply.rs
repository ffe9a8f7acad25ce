//! Reading the files a plan names and adding their passages to the writer, on every core;
//! each file is streamed (read, analysed, added, dropped).

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Result, anyhow};
use tantivy::indexer::UserOperation;
use tantivy::{IndexWriter, TantivyDocument, Term};

use crate::ingest::corpus::{self, SourceFile};
use crate::ingest::encoding;
use crate::ingest::open;
use crate::store::index::{self, Fields};
use crate::store::manifest::{Content, FileState};
use crate::store::report::{Progress, Reporter, UpdateReport};

/// Passages handed to Tantivy's indexing threads at once. Its queue holds 10,000 hand-overs,
/// each a wait when full: one passage at a time, the reading threads spent a sixth of a build
/// spinning and yielding there. Sixteen keep that queue's memory at tens of MB (documents are
/// sized to their passage, see `index::passage_doc`).
const PASSAGES_PER_BATCH: usize = 16;

/// What happened to one file that had to be looked at.
pub enum Outcome {
    /// Read: its content is what the index holds.
    Unchanged(FileState),
    /// Indexed (again, when it `existed`).
    Indexed {
        /// As recorded now.
        state: FileState,
        /// Whether the index held it before.
        existed: bool,
        /// Passages added.
        passages: usize,
    },
    /// Not indexed; recorded so that it is not tried again until it changes.
    Skipped(FileState),
}

/// Reads, analyses and adds the files of `todo` on every core (each with what the index
/// recorded of it); each file is dropped once added.
pub fn index_files(
    writer: &IndexWriter<TantivyDocument>,
    fields: &Fields,
    corpus: &Path,
    todo: &[(&SourceFile, Option<&FileState>)],
    reporter: &dyn Reporter,
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
                    while let Some((file, prev)) = todo.get(next.fetch_add(1, Ordering::Relaxed)) {
                        let outcome = process(writer, fields, corpus, file, *prev, &bytes_read)?;
                        outcomes.lock().expect("outcomes lock").push(outcome);
                        reporter.progress(Progress::Done { bytes: file.size });
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

/// Counts what happened to each file and adds the states to `states`, then sorts them.
pub fn tally(outcomes: Vec<Outcome>, states: &mut Vec<FileState>, report: &mut UpdateReport) {
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
            Outcome::Skipped(state) => {
                // Counted as skipped, not as added or changed: nothing of it is indexed.
                let why = state.skipped().unwrap_or_default().to_string();
                report.skipped.push((state.source.clone(), why));
                states.push(state);
            }
        }
    }
    states.sort_by(|a, b| a.source.cmp(&b.source));
    report.skipped.sort();
}

/// Reads one file that may have changed; indexes it when its content did. The file is
/// streamed: read once for its hash (and encoding), then again piece by piece, each passage
/// added to the writer as soon as it is made, so memory does not grow with the file's size;
/// what is recorded is the hash of that second read.
fn process(
    writer: &IndexWriter<TantivyDocument>,
    fields: &Fields,
    corpus: &Path,
    file: &SourceFile,
    prev: Option<&FileState>,
    bytes_read: &AtomicUsize,
) -> Result<Outcome> {
    let existed = prev.is_some();
    let state = |content| FileState {
        source: file.source.clone(),
        size: file.size,
        mtime_ns: file.mtime_ns,
        content,
    };
    let unreadable = |why: String| Outcome::Skipped(state(Content::Unreadable { why }));
    if let Some(why) = &file.unusable {
        // What the index had of it cannot be vouched for now.
        if existed {
            writer.delete_term(Term::from_field_text(fields.source, &file.source));
        }
        // Remembered as skipped, so it is not reported again until it changes.
        return Ok(unreadable(why.clone()));
    }
    let (mut f, sniffed) = match open_sniffed(corpus, file) {
        Ok(r) => r,
        Err(why) => {
            // Vanished or unreadable since the listing: drop what the index had of it.
            if existed {
                writer.delete_term(Term::from_field_text(fields.source, &file.source));
            }
            // Remembered as skipped, so it is not tried again until it changes.
            return Ok(unreadable(why));
        }
    };
    bytes_read.fetch_add(sniffed.len as usize, Ordering::Relaxed);
    if let Some(p) = prev
        && p.hash() == Some(sniffed.hash.as_str())
    {
        return Ok(Outcome::Unchanged(state(p.content.clone())));
    }
    if existed {
        writer.delete_term(Term::from_field_text(fields.source, &file.source));
    }
    let cannot_read =
        |e: std::io::Error| format!("cannot read it ({e}); check that it is readable");
    let mut encoding = None;
    let (indexed, read) = match encoding::choose(&mut f, &sniffed) {
        Ok(Ok(choice)) => {
            encoding = Some(choice.name().to_string());
            add_passages(writer, fields, file, choice, f, cannot_read)?
        }
        Ok(Err(undecodable)) => (Err(undecodable.to_string()), None),
        Err(e) => (Err(cannot_read(e)), None),
    };
    // The hash of the bytes indexed: when the file changed between the two reads, the first
    // one's hash would vouch for text the index does not hold once the file is changed back.
    let hash = read.unwrap_or(sniffed.hash);
    match indexed {
        Ok(passages) => Ok(Outcome::Indexed {
            state: state(Content::Indexed { hash, encoding }),
            existed,
            passages,
        }),
        Err(why) => {
            // What was added of it before a malformed byte turned up goes too.
            writer.delete_term(Term::from_field_text(fields.source, &file.source));
            Ok(Outcome::Skipped(state(Content::Skipped { hash, why })))
        }
    }
}

/// Opens `file` as every reader opens a document (a file swapped for a link since the listing is
/// not read) and reads it once; why it could not be read.
fn open_sniffed(
    corpus: &Path,
    file: &SourceFile,
) -> Result<(std::fs::File, encoding::Sniffed), String> {
    let cannot_read = |err| format!("cannot read it ({err}); check that it exists and is readable");
    let mut f = open::open_plain(corpus, &file.source).map_err(|e| match e {
        open::Refused::Io { err, .. } => cannot_read(err),
        open::Refused::NotPlainFile { what, .. } => {
            format!("{what}; symbolic links are not followed")
        }
        e => e.to_string(),
    })?;
    let sniffed = encoding::sniff(&mut f, file.size).map_err(cannot_read)?;
    Ok((f, sniffed))
}

/// Decodes, parses and adds `f` piece by piece: the number of passages, or why it could not
/// be read after all; with the hash of the bytes read (none when reading failed).
fn add_passages(
    writer: &IndexWriter<TantivyDocument>,
    fields: &Fields,
    file: &SourceFile,
    choice: encoding::Choice,
    f: std::fs::File,
    cannot_read: impl Fn(std::io::Error) -> String,
) -> Result<(Result<usize, String>, Option<String>)> {
    let mut chunks = match choice.chunks(f) {
        Ok(chunks) => chunks,
        Err(e) => return Ok((Err(cannot_read(e)), None)),
    };
    let mut parser = corpus::Parser::new(&file.source);
    let mut text = String::new();
    let mut count = 0;
    let mut batch: Vec<UserOperation> = Vec::with_capacity(PASSAGES_PER_BATCH);
    let mut add = |passages: Vec<corpus::Passage>, last: bool| -> Result<()> {
        for p in passages {
            batch.push(UserOperation::Add(index::passage_doc(
                fields,
                &file.source,
                &p,
            )));
            count += 1;
            if batch.len() >= PASSAGES_PER_BATCH {
                writer.run(batch.drain(..))?;
            }
        }
        if last && !batch.is_empty() {
            writer.run(batch.drain(..))?;
        }
        Ok(())
    };
    loop {
        let more = match chunks.next_into(&mut text) {
            Ok(Ok(more)) => more,
            Ok(Err(undecodable)) => {
                return Ok((Err(undecodable.to_string()), chunks.hash().ok()));
            }
            Err(e) => return Ok((Err(cannot_read(e)), None)),
        };
        add(parser.push(&text), false)?;
        if !more {
            break;
        }
    }
    let hash = chunks.hash().ok();
    let (rest, meta) = parser.finish();
    add(rest, true)?;
    writer.add_document(index::meta_doc(fields, &file.source, &meta, choice.name()))?;
    Ok((Ok(count), hash))
}

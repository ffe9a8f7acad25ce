//! Writing a corpus into a SphinxQL engine: every file read and analysed as for the local
//! index (the same parser, normaliser and tokenizer), its passages and its entry written to
//! one shard (chosen by the file's key) at that shard's own address. Updates go by file, as
//! locally: a manifest in the `--index` folder records each file's size, time, hash and
//! number of rows, so only changed files are read and their old rows deleted by id.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result, anyhow};
use serde::{Deserialize, Serialize};

use super::SphinxBackend;
use super::client::{Url, quote};
use super::rows::{MAX_ROWS, Shard, file_key, passage_id};
use super::tokens;
use crate::ingest::corpus::{self, Meta, Passage, SourceFile};
use crate::ingest::{encoding, open};
use crate::store::{Content, FileState, Progress, Reporter, UpdateReport, Warning};
use crate::text::analysis;

/// The manifest's name in the `--index` folder.
pub const MANIFEST: &str = "sphinxql.json";

/// Bytes of one `REPLACE` statement, about.
const BATCH_BYTES: usize = 1 << 20;

/// Columns written, in the order of [`values`].
const INSERT: &str = "(id, chars, words, titlechars, isfile, line_start, line_end, paragraph, \
    col_start, col_end, filekey, source, text, visible, wordlist, title, author, pubdate, url, encoding)";

/// What the `--index` folder records of the corpus written to an engine.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Manifest {
    /// The backend written (`sphinxql://…`).
    pub url: String,
    /// The corpus folder, absolute.
    pub corpus: PathBuf,
    /// The extensions read.
    pub extensions: Vec<String>,
    /// Every file, sorted by source.
    pub files: Vec<Entry>,
}

/// One file of the manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// As the local index would record it.
    pub state: FileState,
    /// Rows written (its passages; its entry is row 0).
    pub rows: u64,
}

/// Reads the manifest in `index` (`None`: there is none).
pub fn read_manifest(index: &Path) -> Result<Option<Manifest>> {
    let path = index.join(MANIFEST);
    match std::fs::read(&path) {
        Ok(bytes) => {
            Ok(Some(serde_json::from_slice(&bytes).with_context(|| {
                format!("cannot read {}", path.display())
            })?))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(anyhow!("cannot read {}: {e}", path.display())),
    }
}

fn write_manifest(index: &Path, m: &Manifest) -> Result<()> {
    std::fs::create_dir_all(index).with_context(|| format!("cannot create {}", index.display()))?;
    let tmp = index.join(format!("{MANIFEST}.tmp"));
    std::fs::write(&tmp, serde_json::to_vec(m)?)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, index.join(MANIFEST))
        .with_context(|| format!("cannot write {}", index.join(MANIFEST).display()))
}

/// What to write where.
pub struct Target<'a> {
    /// The backend.
    pub url: &'a Url,
    /// The folder of the manifest.
    pub index: &'a Path,
    /// The corpus [default: the manifest's, else `./corpus`].
    pub corpus: Option<&'a Path>,
    /// Extensions [default: the manifest's, else the local default].
    pub extensions: Option<&'a [String]>,
}

/// Brings the engine up to date with the corpus (only changed files are read); `rebuild`,
/// a first build, or another corpus or extensions empty the shards and write every file.
pub fn update(t: &Target, rebuild: bool, reporter: &dyn Reporter) -> Result<UpdateReport> {
    let backend = SphinxBackend::new(t.url.clone());
    let shards = backend.shards()?;
    let old = read_manifest(t.index)?;
    let corpus = t
        .corpus
        .map(Path::to_path_buf)
        .or_else(|| old.as_ref().map(|m| m.corpus.clone()))
        .unwrap_or_else(|| PathBuf::from("corpus"));
    let corpus = std::fs::canonicalize(&corpus)
        .map_err(|e| anyhow!("cannot read corpus folder {}: {e}", corpus.display()))?;
    let extensions = match (t.extensions, &old) {
        (Some(e), _) => e.to_vec(),
        (None, Some(m)) => m.extensions.clone(),
        (None, None) => corpus::default_extensions(),
    };
    let url = t.url.to_string();
    let kept = old.filter(|m| m.url == url && m.corpus == corpus && m.extensions == extensions);
    let mut report = UpdateReport {
        corpus: corpus.clone(),
        ..UpdateReport::default()
    };
    let prev: HashMap<String, Entry> = match kept {
        Some(m) if !rebuild => m
            .files
            .into_iter()
            .map(|e| (e.state.source.clone(), e))
            .collect(),
        _ => {
            for s in shards {
                s.server.exec(&format!("TRUNCATE RTINDEX {}", s.table))?;
            }
            HashMap::new()
        }
    };
    let listing = corpus::list_files(&corpus, &extensions, t.index, crate::store::holds_marker)
        .map_err(|e| anyhow!("cannot list {}: {e}", corpus.display()))?;
    for what in listing.unlisted {
        reporter.warning(&Warning::Unlisted { what });
    }
    let files = write_files(shards, &corpus, &listing.files, prev, reporter, &mut report)?;
    write_manifest(
        t.index,
        &Manifest {
            url,
            corpus,
            extensions,
            files,
        },
    )?;
    reporter.progress(Progress::Finish);
    Ok(report)
}

/// Writes the listed files that changed, deletes the rows of those gone; the new entries.
fn write_files(
    shards: &[Shard],
    corpus: &Path,
    listed: &[SourceFile],
    mut prev: HashMap<String, Entry>,
    reporter: &dyn Reporter,
    report: &mut UpdateReport,
) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    let mut todo = Vec::new();
    for f in listed {
        match prev.remove(&f.source) {
            Some(e) if e.state.size == f.size && e.state.mtime_ns == f.mtime_ns => {
                report.unchanged += 1;
                entries.push(e);
            }
            e => todo.push((f, e)),
        }
    }
    for gone in prev.into_values() {
        delete(shards, &gone)?;
        report.removed += 1;
    }
    let bytes = todo.iter().map(|(f, _)| f.size).sum();
    reporter.progress(Progress::Start {
        files: todo.len(),
        bytes,
    });
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<(Outcome, Option<Entry>)>> = Mutex::new(Vec::new());
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    std::thread::scope(|scope| -> Result<()> {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    while let Some((f, e)) = todo.get(next.fetch_add(1, Ordering::Relaxed)) {
                        let outcome = process(shards, corpus, f, e.as_ref())?;
                        done.lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push((outcome, e.clone()));
                        reporter.progress(Progress::Done { bytes: f.size });
                    }
                    Ok(())
                })
            })
            .collect();
        for w in workers {
            w.join()
                .map_err(|_| anyhow!("a writing thread panicked"))??;
        }
        Ok(())
    })?;
    for (outcome, before) in done.into_inner().unwrap_or_else(|e| e.into_inner()) {
        entries.push(tally(outcome, before.is_some(), reporter, report));
    }
    entries.sort_by(|a, b| a.state.source.cmp(&b.state.source));
    report.skipped.sort();
    Ok(entries)
}

/// What became of one file read.
enum Outcome {
    Unchanged(Entry),
    Written(Entry),
    Skipped(Entry),
}

fn tally(o: Outcome, existed: bool, reporter: &dyn Reporter, report: &mut UpdateReport) -> Entry {
    match o {
        Outcome::Unchanged(e) => {
            report.unchanged += 1;
            e
        }
        Outcome::Written(e) => {
            if existed {
                report.changed += 1;
            } else {
                report.added += 1;
            }
            report.passages_added += e.rows as usize;
            e
        }
        Outcome::Skipped(e) => {
            let why = e.state.skipped().unwrap_or_default().to_string();
            reporter.warning(&Warning::Skipped {
                source: e.state.source.clone(),
                why: why.clone(),
            });
            report.skipped.push((e.state.source.clone(), why));
            e
        }
    }
}

/// The shard of a file.
fn shard_of<'a>(shards: &'a [Shard], source: &str) -> &'a Shard {
    &shards[(file_key(source) % shards.len() as u64) as usize]
}

/// Deletes a file's rows (its entry and passages).
fn delete(shards: &[Shard], e: &Entry) -> Result<()> {
    let shard = shard_of(shards, &e.state.source);
    let key = file_key(&e.state.source);
    let ids: Vec<String> = (0..=e.rows)
        .map(|n| passage_id(key, n).to_string())
        .collect();
    for chunk in ids.chunks(4096) {
        let sql = format!(
            "DELETE FROM {} WHERE id IN ({})",
            shard.table,
            chunk.join(",")
        );
        shard.server.exec(&sql)?;
    }
    Ok(())
}

/// Reads one file that may have changed and writes it when its content did; the old rows
/// of a file that changed go first.
fn process(
    shards: &[Shard],
    corpus: &Path,
    f: &SourceFile,
    prev: Option<&Entry>,
) -> Result<Outcome> {
    let state = |content| FileState {
        source: f.source.clone(),
        size: f.size,
        mtime_ns: f.mtime_ns,
        content,
    };
    let drop_old = || prev.map_or(Ok(()), |e| delete(shards, e));
    let unreadable = |why: String| {
        drop_old()?;
        Ok(Outcome::Skipped(Entry {
            state: state(Content::Unreadable { why }),
            rows: 0,
        }))
    };
    if let Some(why) = &f.unusable {
        return unreadable(why.clone());
    }
    let opened = open::open_plain(corpus, &f.source)
        .map_err(|e| e.to_string())
        .and_then(|mut file| {
            let sniffed = encoding::sniff(&mut file, f.size).map_err(|e| e.to_string())?;
            Ok((file, sniffed))
        });
    let (mut file, sniffed) = match opened {
        Ok(o) => o,
        Err(why) => return unreadable(format!("cannot read it ({why})")),
    };
    if let Some(e) = prev
        && e.state.hash() == Some(sniffed.hash.as_str())
    {
        return Ok(Outcome::Unchanged(Entry {
            state: state(e.state.content.clone()),
            rows: e.rows,
        }));
    }
    drop_old()?;
    let shard = shard_of(shards, &f.source);
    let (rows, read, written) = match encoding::choose(&mut file, &sniffed) {
        Ok(Ok(choice)) => write_file(shard, f, choice, file)?,
        Ok(Err(undecodable)) => (0, None, Err(undecodable.to_string())),
        Err(e) => (0, None, Err(format!("cannot read it ({e})"))),
    };
    // The hash of the bytes written, as the local index records it (see `Choice::chunks`).
    let hash = read.unwrap_or(sniffed.hash);
    Ok(match written {
        Ok(encoding) => Outcome::Written(Entry {
            state: state(Content::Indexed {
                hash,
                encoding: Some(encoding),
            }),
            rows,
        }),
        Err(why) => {
            // What was written of it before a malformed byte goes too.
            let written = Entry {
                state: state(Content::Skipped {
                    hash: hash.clone(),
                    why: why.clone(),
                }),
                rows,
            };
            delete(shards, &written)?;
            Outcome::Skipped(Entry {
                state: state(Content::Skipped { hash, why }),
                rows: 0,
            })
        }
    })
}

/// Rows written, the hash of the bytes read (none when reading failed), and the encoding or why
/// the file is skipped.
type Written = (u64, Option<String>, Result<String, String>);

/// Decodes, parses and writes a file in batches: its rows and encoding, or why it could not
/// be read after all.
fn write_file(
    shard: &Shard,
    f: &SourceFile,
    choice: encoding::Choice,
    file: std::fs::File,
) -> Result<Written> {
    let mut chunks = match choice.chunks(file) {
        Ok(c) => c,
        Err(e) => return Ok((0, None, Err(format!("cannot read it ({e})")))),
    };
    let key = file_key(&f.source);
    let mut parser = corpus::Parser::new(&f.source);
    let mut batch = Batch::new(shard);
    let mut text = String::new();
    let mut n = 0u64;
    loop {
        let more = match chunks.next_into(&mut text) {
            Ok(Ok(more)) => more,
            Ok(Err(undecodable)) => {
                batch.flush()?;
                return Ok((n, chunks.hash().ok(), Err(undecodable.to_string())));
            }
            Err(e) => {
                batch.flush()?;
                return Ok((n, None, Err(format!("cannot read it ({e})"))));
            }
        };
        for p in parser.push(&text) {
            n += 1;
            if n > MAX_ROWS {
                batch.flush()?;
                return Ok((
                    n - 1,
                    chunks.hash().ok(),
                    Err(format!("more than {MAX_ROWS} passages")),
                ));
            }
            batch.add(values(&f.source, passage_id(key, n), &p))?;
        }
        if !more {
            break;
        }
    }
    let (rest, meta) = parser.finish();
    for p in rest {
        n += 1;
        if n > MAX_ROWS {
            batch.flush()?;
            return Ok((
                n - 1,
                chunks.hash().ok(),
                Err(format!("more than {MAX_ROWS} passages")),
            ));
        }
        batch.add(values(&f.source, passage_id(key, n), &p))?;
    }
    batch.add(entry_values(&f.source, key, &meta, choice.name()))?;
    batch.flush()?;
    Ok((n, chunks.hash().ok(), Ok(choice.name().to_string())))
}

/// Rows waiting to be written to one shard in one statement.
struct Batch<'a> {
    shard: &'a Shard,
    sql: String,
}

impl<'a> Batch<'a> {
    fn new(shard: &'a Shard) -> Batch<'a> {
        Batch {
            shard,
            sql: String::new(),
        }
    }

    fn add(&mut self, values: String) -> Result<()> {
        if self.sql.is_empty() {
            self.sql = format!("REPLACE INTO {} {INSERT} VALUES ", self.shard.table);
        } else {
            self.sql.push(',');
        }
        self.sql.push_str(&values);
        if self.sql.len() > BATCH_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if !self.sql.is_empty() {
            self.shard.server.exec(&self.sql)?;
            self.sql.clear();
        }
        Ok(())
    }
}

/// A passage's row.
fn values(source: &str, id: u64, p: &Passage) -> String {
    let a = tokens::passage(p);
    let whole =
        p.visible.len() == 1 && p.visible[0] == analysis::Piece::verbatim(&p.text, 0..p.text.len());
    let visible = if whole {
        String::new()
    } else {
        crate::store::index::encode_pieces(&p.visible)
    };
    let (c0, c1) = p.columns.map_or((0, 0), |(a, b)| (a + 1, b + 1));
    format!(
        "({id},{},{},'',0,{},{},{},{c0},{c1},{},{},{},{},{},'','','','','')",
        quote(&a.chars),
        quote(&a.words),
        p.line_start,
        p.line_end,
        p.paragraph,
        file_key(source),
        quote(source),
        quote(&p.text),
        quote(&visible),
        quote(&a.wordlist),
    )
}

/// A file's entry row: its title (also as tokens) and metadata.
fn entry_values(source: &str, key: u64, meta: &Meta, encoding: &str) -> String {
    let title = meta.title.as_deref().unwrap_or("");
    let opt = |v: &Option<String>| quote(v.as_deref().unwrap_or(""));
    format!(
        "({},'','',{},1,0,0,0,0,0,{key},{},'','','',{},{},{},{},{})",
        passage_id(key, 0),
        quote(&tokens::title(&analysis::normalize(title))),
        quote(source),
        quote(title),
        opt(&meta.author),
        opt(&meta.date),
        opt(&meta.url),
        quote(encoding),
    )
}

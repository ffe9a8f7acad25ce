//! The embedding run that follows a lexical commit, and the vectors a search reads.
//!
//! The run lists the commit's passages, keys each by its folded text, asks the embedder only
//! for the keys without a vector (appended and synced batch by batch: a killed or failed run
//! resumes where it stopped), brings the nearest-neighbour graph ([`crate::embed::ann`]) in
//! step with the passages embedded, then writes the table of the commit's passages and their
//! keys (`zhsearch-semantic.json`): a search that reads a table finds the graph of it written
//! already. A search reads the table, the vectors it names and the graph.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::embed::ann::{self, Ann};
use crate::embed::client::{Client, Kind};
use crate::embed::nearest::{by_similarity, score, top};
use crate::embed::vectors::{self, Appender, Key, Vectors, quantise};
use crate::embed::{EmbedError, EmbedderConfig, worth_embedding};
use crate::store::{Progress, Reporter};

/// The table of the passages of the last embedded commit, in the index folder.
pub const TABLE_FILE: &str = "zhsearch-semantic.json";

/// The file, in the index folder, whose lock one embedding run holds (across processes).
pub const LOCK_FILE: &str = "zhsearch-embed.lock";

/// How long a search waits for its query's vector (connecting included): an embedder that
/// is down or stalled adds at most this to a search (`ZHSEARCH_QUERY_TIMEOUT_MS` sets another).
pub const QUERY_TIMEOUT: Duration = Duration::from_millis(2000);

/// A passage as the embedding run sees it.
#[derive(Debug, Clone)]
pub struct Passage {
    /// Its file, relative to the corpus.
    pub source: String,
    /// Its first line.
    pub line_start: usize,
    /// Its first column, for a piece of a long line.
    pub column_start: Option<usize>,
    /// The text a reader sees.
    pub visible: String,
}

/// What the embedder is given for a passage or a query: the text folded to Simplified, as
/// the index folds it.
pub fn fold(visible: &str) -> String {
    crate::text::t2s::convert(visible.trim())
}

/// A passage of the table: where it is, and the key of its vector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Place {
    /// Its file.
    pub source: String,
    /// Its first line.
    pub line: usize,
    /// Its first column, for a piece of a long line.
    pub column: Option<usize>,
    /// The key of its folded text (hex).
    pub key: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Table {
    commit: String,
    model: String,
    /// Passages with nothing to embed (markup lines).
    markup: usize,
    places: Vec<Place>,
}

/// What an embedding run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmbedReport {
    /// Vectors asked for in this run.
    pub embedded_now: usize,
    /// Passages of the commit with a vector.
    pub embedded: usize,
    /// Passages of the commit with something to embed.
    pub total: usize,
}

/// Brings the vectors of the index in `dir` in step with its commit `commit`: `passages`
/// lists the commit's passages (only called when the table is not of this commit). The
/// recorded config gets the model the endpoint names when none was given.
pub fn run(
    dir: &Path,
    commit: &str,
    config: &mut EmbedderConfig,
    passages: &dyn Fn() -> anyhow::Result<Vec<Passage>>,
    reporter: &dyn Reporter,
) -> Result<EmbedReport, EmbedError> {
    let client = Client::new(config, Duration::from_secs(config.timeout_secs))?;
    let model = match &config.model {
        Some(m) => m.clone(),
        None => {
            let m = client.first_model()?;
            config.model = Some(m.clone());
            m
        }
    };
    let table_path = dir.join(TABLE_FILE);
    // A damaged table is written anew.
    let old = read_table(&table_path).ok().flatten();
    let vpath = vectors::path(dir, &model);
    if let Some(t) = old.filter(|t| t.commit == commit && t.model == model) {
        let have = Vectors::read_or_reset(&vpath, &model)?;
        let embedded = t.places.iter().filter(|p| has(&have, &p.key)).count();
        if embedded == t.places.len() {
            // A graph missing, damaged or stale is rebuilt even when nothing is to embed.
            ann::update(&ann::path(dir, &model), &have, &members(&have, &t.places))?;
            let total = t.places.len();
            return Ok(EmbedReport {
                embedded_now: 0,
                embedded,
                total,
            });
        }
    }
    let listed = passages().map_err(|e| EmbedError::io("list the passages of", dir, e))?;
    let have = Vectors::read_or_reset(&vpath, &model)?;
    let mut table = Table {
        commit: commit.to_string(),
        model: model.clone(),
        markup: 0,
        places: Vec::new(),
    };
    let mut missing: Vec<(Key, String)> = Vec::new();
    let mut seen: HashSet<Key> = HashSet::new();
    for p in listed {
        let text = fold(&p.visible);
        if !worth_embedding(&text) {
            table.markup += 1;
            continue;
        }
        let key = vectors::key(&model, &text);
        if !have.has(&key) && seen.insert(key) {
            missing.push((key, text));
        }
        table.places.push(Place {
            source: p.source,
            line: p.line_start,
            column: p.column_start,
            key: hex(&key),
        });
    }
    let dim = (!have.is_empty()).then_some(have.dim);
    let done = ask(&client, &vpath, &model, dim, &missing, reporter);
    // The graph and the table are written even when the run stopped: a search then finds
    // what is embedded.
    let graph = Vectors::read(&vpath, &model)
        .and_then(|v| ann::update(&ann::path(dir, &model), &v, &members(&v, &table.places)));
    let bytes = serde_json::to_vec(&table).map_err(|e| EmbedError::io("write", &table_path, e))?;
    crate::store::marker::atomic_write(&table_path, &bytes)
        .map_err(|e| EmbedError::io("write", &table_path, e))?;
    let embedded_now = done?;
    graph?;
    let total = table.places.len();
    Ok(EmbedReport {
        embedded_now,
        embedded: total - missing.len() + embedded_now,
        total,
    })
}

fn has(v: &Vectors, key: &str) -> bool {
    unhex(key).is_some_and(|k| v.has(&k))
}

/// The records of `v` that `places` name, ascending, once each.
fn members(v: &Vectors, places: &[Place]) -> Vec<usize> {
    let mut m: Vec<usize> = places
        .iter()
        .filter_map(|p| v.row(&unhex(&p.key)?))
        .collect();
    m.sort_unstable();
    m.dedup();
    m
}

/// Asks for the vectors of `missing`, `config.batch` at a time on `config.concurrency`
/// threads, appending each answer as it comes; stops at the first error.
fn ask(
    client: &Client,
    vpath: &Path,
    model: &str,
    dim: Option<usize>,
    missing: &[(Key, String)],
    reporter: &dyn Reporter,
) -> Result<usize, EmbedError> {
    let config = client.config();
    let total = missing.len();
    if total == 0 {
        return Ok(0);
    }
    reporter.progress(Progress::Embedding { done: 0, total });
    let batches: Vec<&[(Key, String)]> = missing.chunks(config.batch).collect();
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let out: Mutex<(Option<Appender>, usize, Option<EmbedError>)> = Mutex::new((None, 0, None));
    std::thread::scope(|scope| {
        for _ in 0..config.concurrency.min(batches.len()) {
            scope.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let Some(batch) = batches.get(next.fetch_add(1, Ordering::Relaxed)) else {
                        return;
                    };
                    let texts: Vec<String> = batch.iter().map(|(_, t)| t.clone()).collect();
                    let lock = || out.lock().unwrap_or_else(|e| e.into_inner());
                    let known = lock().0.as_ref().map(|a| a.dim).or(dim);
                    let stored = client.embed(&texts, Kind::Passage, known).and_then(|vs| {
                        let mut o = lock();
                        let n = store(&mut o.0, vpath, model, batch, vs)?;
                        o.1 += n;
                        reporter.progress(Progress::Embedding { done: o.1, total });
                        Ok(())
                    });
                    if let Err(e) = stored {
                        stop.store(true, Ordering::Relaxed);
                        lock().2.get_or_insert(e);
                    }
                }
            });
        }
    });
    reporter.progress(Progress::Finish);
    let (_, done, err) = out.into_inner().unwrap_or_else(|e| e.into_inner());
    match err {
        Some(e) => Err(e),
        None => Ok(done),
    }
}

/// Appends one answer, opening the file at the first (its dimension is then known).
fn store(
    appender: &mut Option<Appender>,
    vpath: &Path,
    model: &str,
    batch: &[(Key, String)],
    vs: Vec<Vec<f32>>,
) -> Result<usize, EmbedError> {
    let dim = vs.first().map_or(0, Vec::len);
    if appender.is_none() {
        *appender = Some(Appender::open(vpath, model, dim)?);
    }
    let a = appender.as_mut().expect("opened above");
    if vs.iter().any(|v| v.len() != a.dim) {
        return Err(EmbedError::io(
            "add to",
            vpath,
            format!(
                "the embedder now gives vectors of dimension {dim}, not {}",
                a.dim
            ),
        ));
    }
    let records: Vec<(Key, Vec<f32>)> = batch.iter().map(|(k, _)| *k).zip(vs).collect();
    a.append(&records)?;
    Ok(records.len())
}

/// The table of embedded passages at `path`: `None` when there is none yet, an error when
/// it is there but cannot be read (searches would find no semantic hit without a word; an
/// embedding run writes it anew).
fn read_table(path: &Path) -> Result<Option<Table>, EmbedError> {
    super::read_json(path).map_err(|why| EmbedError::Table {
        path: path.to_path_buf(),
        why,
    })
}

fn hex(key: &Key) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Key> {
    let mut k = [0u8; 32];
    if s.len() != 64 {
        return None;
    }
    for (i, b) in k.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(k)
}

/// The embedded passages of an index, ready to search by meaning.
pub struct Semantic {
    /// The embedder (its model resolved).
    pub config: EmbedderConfig,
    /// Where each row of the index is.
    pub places: Vec<Place>,
    /// The dimension.
    pub dim: usize,
    /// Passages with something to embed, embedded or not.
    pub total: usize,
    vectors: Vectors,
    /// The records of the embedded passages, ascending.
    members: Vec<usize>,
    /// Each row's record, by record then row.
    by_record: Vec<(usize, usize)>,
    /// The graph, when its file is of these vectors (else searches scan them).
    ann: Option<Ann>,
}

impl std::fmt::Debug for Semantic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Semantic")
            .field("rows", &self.places.len())
            .field("total", &self.total)
            .field("ann", &self.ann)
            .finish()
    }
}

impl Semantic {
    /// The embedded passages of the index in `dir`: `None` when it has no embedder or
    /// nothing embedded yet.
    pub fn load(dir: &Path) -> Result<Option<Semantic>, EmbedError> {
        let Some(config) = EmbedderConfig::recorded(dir)? else {
            return Ok(None);
        };
        let Some(model) = config.model.clone() else {
            return Ok(None);
        };
        let Some(table) = read_table(&dir.join(TABLE_FILE))?.filter(|t| t.model == model) else {
            return Ok(None);
        };
        let vectors = Vectors::read(&vectors::path(dir, &model), &model)?;
        let total = table.places.len();
        let mut places = Vec::new();
        let mut by_record = Vec::new();
        for p in table.places {
            if let Some(record) = unhex(&p.key).and_then(|k| vectors.row(&k)) {
                by_record.push((record, places.len()));
                places.push(p);
            }
        }
        if places.is_empty() {
            return Ok(None);
        }
        by_record.sort_unstable();
        let mut members: Vec<usize> = by_record.iter().map(|&(r, _)| r).collect();
        members.dedup();
        let ann = Ann::open(&ann::path(dir, &model), &vectors, &members);
        Ok(Some(Semantic {
            config,
            places,
            dim: vectors.dim,
            total,
            vectors,
            members,
            by_record,
            ann,
        }))
    }

    /// How many vectors the nearest-neighbour graph holds, when searches use one (`None`:
    /// its file is missing or stale, and searches scan every vector).
    pub fn approximate(&self) -> Option<usize> {
        self.ann.as_ref().map(Ann::len)
    }

    /// The rows nearest `vector`, with their similarity: the rows of the
    /// [`ann::CANDIDATES`] passage texts nearest it (by the graph, or by a scan without
    /// one), best first, ties by row. One list for a query: a page is a slice of it.
    pub fn nearest(&self, vector: &[f32]) -> Vec<(f32, usize)> {
        let records = match &self.ann {
            Some(ann) => ann.nearest(&self.vectors, vector),
            None if vector.len() == self.dim => {
                let (qs, q) = quantise(vector);
                let scored = self.members.iter().map(|&r| {
                    let (scale, row) = self.vectors.get(r);
                    (score(qs, &q, scale, row), r)
                });
                top(scored, ann::CANDIDATES)
            }
            None => Vec::new(),
        };
        let mut out: Vec<(f32, usize)> = records
            .into_iter()
            .flat_map(|(sim, record)| {
                let from = self.by_record.partition_point(|&(r, _)| r < record);
                self.by_record[from..]
                    .iter()
                    .take_while(move |&&(r, _)| r == record)
                    .map(move |&(_, row)| (sim, row))
            })
            .collect();
        out.sort_by(by_similarity);
        out
    }

    /// The similarity of `vector` (a query's) to the passage whose visible text is
    /// `visible`, when it has a vector.
    pub fn similarity(&self, vector: &[f32], visible: &str) -> Option<f32> {
        let model = self.config.model.as_deref().unwrap_or("");
        let record = self.vectors.row(&vectors::key(model, &fold(visible)))?;
        if vector.len() != self.dim {
            return None;
        }
        let (qs, q) = quantise(vector);
        let (scale, row) = self.vectors.get(record);
        Some(score(qs, &q, scale, row))
    }

    /// Whether `visible`, the text of the passage at row `row`, is the text its vector is of.
    pub fn holds(&self, row: usize, visible: &str) -> bool {
        let model = self.config.model.as_deref().unwrap_or("");
        let key = vectors::key(model, &fold(visible));
        self.places.get(row).is_some_and(|p| p.key == hex(&key))
    }
}

/// When the table or the nearest-neighbour graph of the index in `dir` was last written.
pub fn written(dir: &Path) -> Option<std::time::SystemTime> {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let graph = EmbedderConfig::recorded(dir)
        .ok()
        .flatten()
        .and_then(|c| c.model)
        .and_then(|m| modified(&ann::path(dir, &m)));
    modified(&dir.join(TABLE_FILE)).max(graph)
}

/// How many passages of the index in `dir` are embedded, of how many: `None` without an
/// embedder.
pub fn status(dir: &Path) -> Option<(usize, usize)> {
    let config = EmbedderConfig::recorded(dir).ok()??;
    let model = config.model?;
    let table = read_table(&dir.join(TABLE_FILE)).ok()??;
    let v = Vectors::read(&vectors::path(dir, &model), &model).ok()?;
    let embedded = table.places.iter().filter(|p| has(&v, &p.key)).count();
    Some((embedded, table.places.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_print_and_read_back() {
        let k = vectors::key("m", "文本");
        assert_eq!(unhex(&hex(&k)), Some(k));
        assert_eq!(unhex("zz"), None);
        assert_eq!(fold(" 軟體開發 "), "软体开发");
    }
}

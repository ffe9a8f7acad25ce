//! The live index: the first build or update runs in the background while the server
//! answers; then the corpus is watched, and a burst of changes is applied with one
//! [`Engine::update_lexical`] once it has been quiet for [`QUIET`]; searches answer from the
//! last commit meanwhile. Each commit is then embedded in the background
//! ([`super::embedding`]). [`Status`] records what the updates did and how far one is.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::embedding::Embedding;
use crate::engine::Engine;
use crate::error::Error;
use crate::store::{Progress, Reporter, Said, UpdateReport, Warning};

/// How long the corpus must be quiet before the changes are indexed.
pub const QUIET: Duration = Duration::from_millis(300);
/// Warnings of the last update that `/api/status` lists, at most.
const STATUS_WARNINGS: usize = 100;

/// What `/api/status` tells of the corpus and its updates.
#[derive(Debug, Default)]
pub struct Status {
    inner: Mutex<StatusInner>,
    ready: AtomicBool,
    connections: AtomicIsize,
    /// The updates' warnings, each said on stderr once while it lasts.
    said: Said,
    /// The embedding runs that follow the updates.
    pub embedding: Arc<Embedding>,
}

#[derive(Debug, Default)]
struct StatusInner {
    corpus: PathBuf,
    updating: bool,
    /// Files read and files to read by the update under way.
    progress: Option<(usize, usize)>,
    last_update: Option<(u64, String)>,
    last_error: Option<String>,
    /// The warnings of the last update (the first [`STATUS_WARNINGS`]).
    warnings: Vec<String>,
}

impl Status {
    fn lock(&self) -> std::sync::MutexGuard<'_, StatusInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The status after the update `report` (or its error); a commit makes it ready.
    pub fn record(&self, result: &crate::Result<UpdateReport>) {
        let mut s = self.lock();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        s.updating = false;
        s.progress = None;
        s.warnings = self.said.finish();
        s.warnings.truncate(STATUS_WARNINGS);
        match result {
            Ok(report) => {
                s.corpus = report.corpus.clone();
                // A check that found nothing to do is no update.
                if !report.is_noop() || s.last_update.is_none() {
                    s.last_update = Some((now, report.to_string()));
                }
                s.last_error = None;
                self.ready.store(true, Ordering::Release);
            }
            Err(e) => s.last_error = Some(e.to_string()),
        }
    }

    fn set_updating(&self) {
        self.lock().updating = true;
    }

    /// Says whether the index has a commit to answer from.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Release);
    }

    /// Whether the index has a commit to answer from (false while a first build runs).
    pub fn ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Counts connections opened (`1`) and closed (`-1`).
    pub fn connections(&self, change: isize) {
        self.connections.fetch_add(change, Ordering::Relaxed);
    }

    /// Files read and files to read by the update under way, if any.
    pub fn progress(&self) -> Option<(usize, usize)> {
        self.lock().progress
    }

    /// The corpus folder the index holds.
    pub fn corpus(&self) -> PathBuf {
        self.lock().corpus.clone()
    }

    /// The status as JSON (with the semantic tier's, see [`Embedding::to_json`]).
    pub fn to_json(&self) -> Value {
        let mut body = self.lexical_json();
        if let (Value::Object(map), Value::Object(more)) = (&mut body, self.embedding.to_json()) {
            map.extend(more);
        }
        body
    }

    fn lexical_json(&self) -> Value {
        let s = self.lock();
        let last = s
            .last_update
            .as_ref()
            .map(|(at, report)| json!({ "unix_time": at, "report": report }));
        let progress = s
            .progress
            .map(|(done, total)| json!({ "done": done, "total": total }));
        json!({
            "corpus": s.corpus.display().to_string(),
            "ready": self.ready(),
            "connections": self.connections.load(Ordering::Relaxed),
            "updating": s.updating,
            "progress": progress,
            "last_update": last,
            "last_error": s.last_error,
            "warnings": s.warnings,
        })
    }
}

/// Progress goes into the status, for `/api/status`; warnings too, and on stderr when news
/// (a corpus watched for hours is updated at every change).
impl Reporter for Status {
    fn warning(&self, w: &Warning) {
        if self.said.news(w) {
            eprintln!("zhsearch: warning: {w}");
        }
    }

    fn progress(&self, p: Progress) {
        let mut s = self.lock();
        match p {
            Progress::Start { files, .. } => s.progress = Some((0, files)),
            Progress::Done { .. } => {
                if let Some((done, _)) = &mut s.progress {
                    *done += 1;
                }
            }
            // Embedding runs report to `Status::embedding`.
            Progress::Committing | Progress::Finish | Progress::Embedding { .. } => {}
        }
    }
}

/// Runs the first update (a build when there is no index), then keeps the index up to date
/// with the corpus until `stop` is set. A first update that fails is sent to `failed` (the
/// server cannot answer without an index, nor from the index of another corpus), unless
/// the index is there and only cannot be written now; later failures are recorded in
/// `status`.
pub fn start(
    engine: Arc<Engine>,
    status: Arc<Status>,
    stop: Arc<AtomicBool>,
    failed: oneshot::Sender<Error>,
) -> JoinHandle<()> {
    status.set_updating();
    status.embedding.clone().run(engine.clone());
    std::thread::spawn(move || {
        let report = match update(&engine, &status) {
            Ok(report) => report,
            // No index yet, or one the server must not answer from (another corpus, the
            // corpus gone or replaced by a link): the server stops with the error. An index
            // that cannot be written now (busy, read-only, disk full) answers as it is.
            Err(e) if !status.ready() || !matches!(&e, Error::Store(s) if s.is_write_failure()) => {
                let _ = failed.send(e);
                return;
            }
            Err(e) => {
                eprintln!("zhsearch: warning: the index was not updated: {e}");
                return;
            }
        };
        eprintln!(
            "zhsearch: index ready: {report} — corpus {}",
            report.corpus.display()
        );
        match watch(&engine, &report.corpus) {
            Ok((_watcher, changes)) => {
                // Changes made while the first update ran were not watched yet.
                warn(update(&engine, &status));
                apply_changes(&engine, &status, &changes, &stop);
            }
            Err(e) => eprintln!("zhsearch: warning: cannot watch the corpus: {e}"),
        }
    })
}

/// One update, recorded in `status`; its commit is then embedded in the background.
fn update(engine: &Engine, status: &Status) -> crate::Result<UpdateReport> {
    status.set_updating();
    let result = engine.update_lexical(false, status);
    status.record(&result);
    if result.is_ok() {
        status.embedding.want();
    }
    result
}

/// Says on stderr that an update failed (the last commit goes on answering).
fn warn(result: crate::Result<UpdateReport>) {
    if let Err(e) = result {
        eprintln!("zhsearch: warning: the index was not updated: {e}");
    }
}

/// A watcher of `corpus` sending one message per change (other than the index's own writes).
fn watch(
    engine: &Engine,
    corpus: &Path,
) -> notify::Result<(RecommendedWatcher, mpsc::Receiver<()>)> {
    let (tx, rx) = mpsc::channel::<()>();
    let index = std::fs::canonicalize(engine.index_dir()).unwrap_or_default();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        // The index's own writes (an index inside the corpus) are no change of the corpus.
        let ours = event
            .as_ref()
            .is_ok_and(|e| !e.paths.is_empty() && e.paths.iter().all(|p| p.starts_with(&index)));
        if !ours {
            let _ = tx.send(());
        }
    })?;
    watcher.watch(corpus, RecursiveMode::Recursive)?;
    Ok((watcher, rx))
}

/// Applies each burst of changes once it has been quiet for [`QUIET`], until `stop`.
fn apply_changes(
    engine: &Engine,
    status: &Status,
    changes: &mpsc::Receiver<()>,
    stop: &AtomicBool,
) {
    let tick = Duration::from_millis(200);
    while !stop.load(Ordering::Relaxed) {
        match changes.recv_timeout(tick) {
            Ok(()) => {}
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return,
        }
        // Coalesce a burst: wait until nothing has happened for QUIET.
        loop {
            match changes.recv_timeout(QUIET) {
                Ok(()) => continue,
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        warn(update(engine, status));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_lists_the_first_hundred_warnings_of_the_last_update() {
        let status = Status::default();
        for i in 0..150 {
            status.warning(&Warning::Unlisted {
                what: format!("folder {i}"),
            });
        }
        status.record(&Ok(UpdateReport::default()));
        let listed = status.lexical_json()["warnings"]
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(listed.len(), STATUS_WARNINGS);
        assert_eq!(listed[0], "skipping folder 0");
        status.record(&Ok(UpdateReport::default()));
        assert!(
            status.lexical_json()["warnings"]
                .as_array()
                .unwrap()
                .is_empty()
        );
    }
}

//! The live index: the corpus is watched, and a burst of changes is applied with one
//! [`Engine::update`] once it has been quiet for [`QUIET`]; searches answer from the last
//! commit meanwhile. [`Status`] records what the last update did.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use serde_json::{Value, json};

use crate::engine::Engine;
use crate::store::{NoReport, UpdateReport};

/// How long the corpus must be quiet before the changes are indexed.
pub const QUIET: Duration = Duration::from_millis(300);

/// What `/api/status` tells of the corpus and its updates.
#[derive(Debug, Default)]
pub struct Status {
    inner: Mutex<StatusInner>,
}

#[derive(Debug, Default)]
struct StatusInner {
    corpus: PathBuf,
    updating: bool,
    last_update: Option<(u64, String)>,
    last_error: Option<String>,
}

impl Status {
    /// The status after the update `report` (or its error).
    pub fn record(&self, result: &crate::Result<UpdateReport>) {
        let mut s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        s.updating = false;
        match result {
            Ok(report) => {
                s.corpus = report.corpus.clone();
                s.last_update = Some((now, report.to_string()));
                s.last_error = None;
            }
            Err(e) => s.last_error = Some(e.to_string()),
        }
    }

    fn set_updating(&self) {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .updating = true;
    }

    /// The corpus folder the index holds.
    pub fn corpus(&self) -> PathBuf {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .corpus
            .clone()
    }

    /// The status as JSON.
    pub fn to_json(&self) -> Value {
        let s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let last = s
            .last_update
            .as_ref()
            .map(|(at, report)| json!({ "unix_time": at, "report": report }));
        json!({
            "corpus": s.corpus.display().to_string(),
            "updating": s.updating,
            "last_update": last,
            "last_error": s.last_error,
        })
    }
}

/// Watches `corpus` and keeps `engine` up to date until the returned watcher is dropped; the
/// thread that updates ends then (after the update it is running, if any).
pub fn watch(
    engine: Arc<Engine>,
    status: Arc<Status>,
    corpus: &Path,
) -> notify::Result<(RecommendedWatcher, std::thread::JoinHandle<()>)> {
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
    let thread = std::thread::spawn(move || {
        while rx.recv().is_ok() {
            // Coalesce a burst: wait until nothing has happened for QUIET.
            loop {
                match rx.recv_timeout(QUIET) {
                    Ok(()) => continue,
                    Err(RecvTimeoutError::Timeout) => break,
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            }
            status.set_updating();
            let result = engine.update(false, &NoReport);
            if let Err(e) = &result {
                eprintln!("zhsearch: warning: the index was not updated: {e}");
            }
            status.record(&result);
        }
    });
    Ok((watcher, thread))
}

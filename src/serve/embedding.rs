//! The server's embedding runs: after each lexical commit the passages it added are embedded
//! on a thread of their own ([`Embedding::run`]), one run at a time, while searches answer
//! (finding the new passages by their words until then) and updates go on. An embedder that
//! fails is said once on stderr per outage, not once per update, and is tried again after
//! each update and every [`RETRY`] until it answers.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{Value, json};

use crate::engine::Engine;
use crate::store::{Progress, Reporter, Warning};

/// How long after a failed run the embedder is tried again (an update tries it at once);
/// `ZHSEARCH_EMBED_RETRY_MS` sets another.
pub const RETRY: Duration = Duration::from_secs(30);

fn retry() -> Duration {
    std::env::var("ZHSEARCH_EMBED_RETRY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(RETRY, Duration::from_millis)
}

/// The embedding runs of a server, and what `/api/status` tells of them.
#[derive(Debug, Default)]
pub struct Embedding {
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// A run is asked for.
    wanted: bool,
    /// A run is under way.
    running: bool,
    /// Passages embedded and to embed by the run under way.
    progress: Option<(usize, usize)>,
    /// Passages with a vector and passages with something to embed, as of the last run
    /// (`None`: the index has no embedder).
    counts: Option<(usize, usize)>,
    /// Why the embedder failed, from its first failure until it answers again.
    outage: Option<String>,
}

impl Embedding {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Asks for a run (after the one under way, if any): a commit was made.
    pub fn want(&self) {
        self.lock().wanted = true;
        self.wake.notify_all();
    }

    /// Starts the thread that runs the embedding of `engine`'s commits when asked, and every
    /// [`RETRY`] while the embedder fails. It is not joined: a run stopped by the end of the
    /// process resumes at the next one (each answer is written as it comes).
    pub fn run(self: Arc<Self>, engine: Arc<Engine>) -> JoinHandle<()> {
        self.lock().counts = engine.semantic_status();
        std::thread::spawn(move || {
            loop {
                let mut s = self.lock();
                while !s.wanted {
                    let wait = if s.outage.is_some() {
                        retry()
                    } else {
                        Duration::from_secs(3600)
                    };
                    let (next, timeout) = self
                        .wake
                        .wait_timeout(s, wait)
                        .unwrap_or_else(|e| e.into_inner());
                    s = next;
                    s.wanted |= timeout.timed_out() && s.outage.is_some();
                }
                s.wanted = false;
                s.running = true;
                drop(s);
                let result = engine.embed(self.as_ref());
                self.finished(&engine, result);
            }
        })
    }

    /// Records the end of a run, saying on stderr when the embedder fails first, and when it
    /// answers again.
    fn finished(&self, engine: &Engine, result: crate::Result<Option<crate::embed::EmbedReport>>) {
        // Counted before the state is locked, so that `/api/status` shows an outage with the
        // counts of the commit it concerns, never with the previous commit's.
        let failed_counts = result.is_err().then(|| engine.semantic_status());
        let mut s = self.lock();
        s.running = false;
        s.progress = None;
        match result {
            Ok(report) => {
                s.counts = report.map(|r| (r.embedded, r.total));
                if s.outage.take().is_some()
                    && let Some((done, total)) = s.counts
                {
                    eprintln!(
                        "zhsearch: semantic tier: the embedder answers again; {done} of {total} passages embedded"
                    );
                }
            }
            Err(e) => {
                if s.outage.is_none() {
                    eprintln!(
                        "zhsearch: warning: passages not embedded: {e}; they are found by their words only until the embedder answers (tried again after each update and every {} s)",
                        retry().as_secs_f32()
                    );
                }
                s.outage = Some(e.to_string());
                s.counts = failed_counts.flatten();
            }
        }
    }

    /// `embedded` and `embeddable` (null without an embedder), `embedding` (the run under
    /// way, once it asks for vectors: `{"done", "total"}`, else null) and `embed_error` (why
    /// the embedder fails, or null).
    pub fn to_json(&self) -> Value {
        let s = self.lock();
        let progress = match (s.running, s.progress) {
            (true, Some((done, total))) => json!({ "done": done, "total": total }),
            _ => Value::Null,
        };
        json!({
            "embedded": s.counts.map(|c| c.0),
            "embeddable": s.counts.map(|c| c.1),
            "embedding": progress,
            "embed_error": s.outage,
        })
    }
}

/// A run's progress goes into the status.
impl Reporter for Embedding {
    fn warning(&self, _: &Warning) {}

    fn progress(&self, p: Progress) {
        if let Progress::Embedding { done, total } = p {
            self.lock().progress = Some((done, total));
        }
    }
}

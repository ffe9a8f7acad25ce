//! The semantic tier as the [`crate::Engine`] holds it: the settings of its callers, the
//! vectors of the index (read once, again after an embedding run), one client of the
//! embedder for all its queries (one kept-alive connection, not one per query), and the last
//! query's vector (a search may run twice, before and after its refresh: one request, one
//! warning).

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::embed::client::{Client, Kind};
use crate::embed::sync::{self, EmbedReport, Passage};
use crate::embed::{EmbedError, EmbedderConfig, Semantic};
use crate::model::Page;
use crate::search::backend::StoredPassage;
use crate::search::{Meaning, TantivyBackend};
use crate::store::Reporter;

/// The vectors of an index (none without an embedder), or why they cannot be read.
type Loaded = Result<Option<Arc<Semantic>>, String>;

/// A query's vector, or why there is none.
type QueryVector = Result<Vec<f32>, EmbedError>;

/// How long a failure to embed a query answers for the same query again: long enough for the
/// two searches of one command (before and after its refresh), short enough that an embedder
/// back up is asked again.
const FAILURE_KEPT: Duration = Duration::from_secs(5);

/// What an engine knows of its semantic tier.
#[derive(Debug)]
pub struct Tier {
    /// The embedder given to the engine (recorded at the next update).
    pub given: Option<EmbedderConfig>,
    /// Whether searches add semantic hits.
    pub on: bool,
    /// Whether citations quote semantic hits.
    pub quote: bool,
    /// The vectors, as read when the table had this modification time (an error: why they
    /// cannot be read).
    loaded: Mutex<Option<(Option<SystemTime>, Loaded)>>,
    /// The last query text and its vector (or why there is none, and when that was).
    last: Mutex<Option<(String, QueryVector, Instant)>>,
    /// The client of the embedder queries are sent to, for the config it was made for.
    client: Mutex<Option<(EmbedderConfig, Arc<Client>)>>,
    /// The last commit whose embedding run completed in this process, and the embedder:
    /// nothing to do for them.
    embedded: Mutex<Option<(String, EmbedderConfig, EmbedReport)>>,
}

impl Default for Tier {
    fn default() -> Tier {
        Tier {
            given: None,
            on: true,
            quote: false,
            loaded: Mutex::new(None),
            last: Mutex::new(None),
            client: Mutex::new(None),
            embedded: Mutex::new(None),
        }
    }
}

impl Tier {
    /// Runs `search` with the semantic tier of the index in `dir` (unless it is off: `on`,
    /// else as the engine was told): the vectors and the query's are read and asked for only
    /// when the search reaches the tier.
    pub fn with(
        &self,
        dir: &Path,
        on: Option<bool>,
        search: impl FnOnce(Option<&Meaning>) -> crate::Result<Page>,
    ) -> crate::Result<Page> {
        if !on.unwrap_or(self.on) {
            return search(None);
        }
        let load = |text: &str| match self.loaded(dir)? {
            Some(semantic) => {
                let v = self.vector(&semantic, text).map_err(|e| e.to_string())?;
                Ok(Some((semantic, v)))
            }
            None => Ok(None),
        };
        search(Some(&Meaning { load: &load }))
    }

    /// The vectors of the index in `dir`, read again when an embedding run (of this process
    /// or another) has written the table or the graph since.
    fn loaded(&self, dir: &Path) -> Loaded {
        let written = sync::written(dir);
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        match loaded.as_ref() {
            Some((when, l)) if *when == written => l.clone(),
            _ => {
                let l = Semantic::load(dir)
                    .map(|s| s.map(Arc::new))
                    .map_err(|e| e.to_string());
                *loaded = Some((written, l.clone()));
                l
            }
        }
    }

    /// The vector of `text`, asked for once for the same text in a row (a failure, once
    /// within [`FAILURE_KEPT`]).
    fn vector(&self, semantic: &Semantic, text: &str) -> Result<Vec<f32>, EmbedError> {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((t, v, at)) = last.as_ref()
            && t == text
            && (v.is_ok() || at.elapsed() < FAILURE_KEPT)
        {
            return v.clone();
        }
        let v = self.client(&semantic.config).and_then(|c| {
            let mut v = c.embed(&[sync::fold(text)], Kind::Query, Some(semantic.dim))?;
            Ok(v.pop().unwrap_or_default())
        });
        *last = Some((text.to_string(), v.clone(), Instant::now()));
        v
    }

    /// The client of `config`'s endpoint for queries, made at the first query and kept (its
    /// connection stays open between queries).
    fn client(&self, config: &EmbedderConfig) -> Result<Arc<Client>, EmbedError> {
        let mut client = self.client.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((c, made)) = client.as_ref()
            && c == config
        {
            return Ok(made.clone());
        }
        let timeout = std::env::var("ZHSEARCH_QUERY_TIMEOUT_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .map_or(sync::QUERY_TIMEOUT, Duration::from_millis);
        let made = Arc::new(Client::new(config, timeout)?);
        *client = Some((config.clone(), made.clone()));
        Ok(made)
    }

    /// Embeds what the commit `commit` of the index in `dir` lacks, with the embedder given
    /// or recorded (nothing without one: `None`); a given one is recorded, even when the run
    /// fails, so that the next update resumes it. A commit this tier embedded completely
    /// before is not looked at again (its report stands). One run at a time.
    pub fn embed(
        &self,
        dir: &Path,
        commit: &str,
        passages: &dyn Fn() -> anyhow::Result<Vec<Passage>>,
        reporter: &dyn Reporter,
    ) -> Result<Option<EmbedReport>, EmbedError> {
        // Damaged settings are replaced by given ones, and stop a run that has none.
        let recorded = match EmbedderConfig::recorded(dir) {
            Err(_) if self.given.is_some() => None,
            recorded => recorded?,
        };
        let Some(mut config) = self.given.clone().or_else(|| recorded.clone()) else {
            return Ok(None);
        };
        // The model the endpoint named before stands unless another is given.
        if config.model.is_none()
            && let Some(r) = recorded.as_ref().filter(|r| r.url == config.url)
        {
            config.model = r.model.clone();
        }
        let mut embedded = self.embedded.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((c, e, report)) = embedded.as_ref()
            && (c.as_str(), e) == (commit, &config)
        {
            return Ok(Some(EmbedReport {
                embedded_now: 0,
                ..report.clone()
            }));
        }
        config.check()?;
        let record = |c: &EmbedderConfig| {
            c.record(dir)
                .map_err(|e| EmbedError::io("write", &dir.join(super::CONFIG_FILE), e))
        };
        // Recorded before the run, so that a killed one resumes without being told again.
        if recorded.as_ref() != Some(&config) {
            record(&config)?;
        }
        let _running = lock_run(dir)?;
        let before = config.clone();
        let ran = sync::run(dir, commit, &mut config, passages, reporter);
        if config != before {
            record(&config)?;
        }
        *self.loaded.lock().unwrap_or_else(|e| e.into_inner()) = None;
        let report = ran?;
        *embedded =
            (report.embedded == report.total).then(|| (commit.to_string(), config, report.clone()));
        Ok(Some(report))
    }
}

/// Holds the index folder's embedding lock until dropped: two processes appending to one
/// vector file would overwrite each other's records (a server embedding its updates while
/// `zhsearch index` runs), so the second leaves the work to the first.
fn lock_run(dir: &Path) -> Result<std::fs::File, EmbedError> {
    let path = dir.join(sync::LOCK_FILE);
    let file = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| EmbedError::io("open", &path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(EmbedError::Busy),
        Err(std::fs::TryLockError::Error(e)) => Err(EmbedError::io("lock", &path, e)),
    }
}

/// The passages of a commit as the embedding run sees them.
pub fn passages(backend: &TantivyBackend) -> anyhow::Result<Vec<Passage>> {
    Ok(backend
        .all_passages()?
        .into_iter()
        .map(|p: StoredPassage| Passage {
            visible: p.visible.iter().map(|v| v.text.as_str()).collect(),
            source: p.source,
            line_start: p.line_start,
            column_start: p.columns.map(|c| c.0),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The queries of one engine go through one client (one kept-alive connection), made
    /// again only for another embedder.
    #[test]
    fn one_client_serves_the_queries_of_an_engine() {
        let tier = Tier::default();
        let config = EmbedderConfig::new("http://127.0.0.1:9/v1");
        let a = tier.client(&config).unwrap();
        assert!(Arc::ptr_eq(&a, &tier.client(&config).unwrap()));
        let other = EmbedderConfig::new("http://127.0.0.1:10/v1");
        assert!(!Arc::ptr_eq(&a, &tier.client(&other).unwrap()));
    }
}

//! The engine: one open index of one corpus, answering searches, citations and lookups from
//! any number of threads while updates replace what it searches.
//!
//! Front ends (the command line, a server) hold an [`Engine`] and do nothing with the index
//! folder themselves. Each search runs on a snapshot of one commit; an update builds the next
//! snapshot and swaps it in, so a search never sees half an update.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use crate::error::{Error, Result};
use crate::model::{Hit, LineSpan, MatchKind, Page};
use crate::present::cite::{self, Citation, QuoteMode, Script};
use crate::present::show::{self, Excerpt, Listed, Refused};
use crate::search::Searcher;
use crate::search::query::{self, Query, QueryError};
use crate::store::update::{self, UpdateOptions, UpdateReport};
use crate::store::{self, StoreError};

/// Where an engine's index is and what it indexes.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// The index folder: new, empty, or one zhsearch made (others are refused).
    pub index: PathBuf,
    /// The corpus folder [default: the one the index was built from, else `./corpus`].
    pub corpus: Option<PathBuf>,
    /// File name extensions of documents [default: as the index remembers, else
    /// `txt, md, markdown`].
    pub extensions: Option<Vec<String>>,
}

impl EngineOptions {
    /// An index in `index`, of the corpus it remembers (else `./corpus`).
    pub fn new(index: impl Into<PathBuf>) -> EngineOptions {
        EngineOptions {
            index: index.into(),
            corpus: None,
            extensions: None,
        }
    }

    /// The corpus folder to index.
    pub fn corpus(mut self, corpus: impl Into<PathBuf>) -> EngineOptions {
        self.corpus = Some(corpus.into());
        self
    }
}

/// What to search for besides the query text.
#[derive(Debug, Clone)]
pub struct SearchOptions {
    /// Number of hits.
    pub limit: usize,
    /// Number of best hits to skip (paging).
    pub offset: usize,
    /// Only files whose path (relative to the corpus) matches one of these globs.
    pub sources: Vec<String>,
}

impl Default for SearchOptions {
    fn default() -> SearchOptions {
        SearchOptions {
            limit: 10,
            offset: 0,
            sources: Vec::new(),
        }
    }
}

/// How a citation is made.
#[derive(Debug, Clone, Copy)]
pub struct CiteOptions {
    /// The sentence(s) holding the match, or the whole paragraph.
    pub quote: QuoteMode,
    /// Also the quote converted to this script (labelled as converted).
    pub to: Option<Script>,
    /// Also quote passages that match only part of the query (labelled).
    pub partial: bool,
}

/// Citations, and what was left out.
#[derive(Debug)]
pub struct Cited {
    /// Each quoted hit with its citation, best first.
    pub quotes: Vec<(Hit, Citation)>,
    /// Files whose hits are not quoted: changed since indexed, or gone.
    pub not_quoted: Vec<Refused>,
    /// Partial matches left out (without [`CiteOptions::partial`]).
    pub partial_left_out: usize,
}

/// What bringing the index up to date came to.
pub enum Refresh {
    /// The index is up to date: the report says what changed (maybe nothing).
    Done(UpdateReport),
    /// The index could not be written now (busy, read-only, disk full): its last commit
    /// answers, and the error says why.
    Stale(StoreError),
}

/// One commit of the index, ready to search.
struct Snapshot {
    searcher: Searcher,
}

/// An open index of one corpus. `Send + Sync`: share it (`Arc<Engine>`) between threads.
pub struct Engine {
    options: EngineOptions,
    snapshot: RwLock<Option<Arc<Snapshot>>>,
    /// One update at a time from this engine (other processes are kept out by the index's
    /// writer lock).
    writing: Mutex<()>,
}

impl Engine {
    /// An engine on the index in `options.index`. Nothing is read or written yet: the index
    /// is opened at the first search, and built or brought up to date by [`Engine::update`]
    /// or [`Engine::refresh`]. Bad extensions are refused here.
    pub fn open(mut options: EngineOptions) -> Result<Engine> {
        if let Some(ext) = &options.extensions {
            options.extensions = Some(update::parse_extensions(ext)?);
        }
        Ok(Engine {
            options,
            snapshot: RwLock::new(None),
            writing: Mutex::new(()),
        })
    }

    /// The index folder.
    pub fn index_dir(&self) -> &Path {
        &self.options.index
    }

    /// Parses `text` in the query language, with `options.sources` as extra `source:` globs.
    pub fn parse(&self, text: &str, options: &SearchOptions) -> Result<Query> {
        let mut q = query::parse(text)?;
        for glob in &options.sources {
            query::check_glob(glob).map_err(QueryError::from)?;
        }
        q.sources.extend(options.sources.iter().cloned());
        Ok(q)
    }

    /// Builds the index, or brings it up to date with the corpus (only changed files are
    /// read); `rebuild` reads every file again. `progress` draws a bar on a terminal.
    pub fn update(&self, rebuild: bool, progress: bool) -> Result<UpdateReport> {
        let _writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        let options = UpdateOptions {
            rebuild,
            extensions: self.options.extensions.clone(),
            progress,
        };
        let mut report = update::update(self.options.corpus.as_deref(), self.index_dir(), options)
            .map_err(Error::classify)?;
        if let Some(index) = report.index.take() {
            let snapshot = open_snapshot(|| Ok(index.clone())).map_err(|e| self.damaged(e))?;
            self.replace(Some(Arc::new(snapshot)));
        }
        Ok(report)
    }

    /// [`Engine::update`], except that an index which cannot be written now (another process
    /// is writing it, it is read-only, the disk is full) is not an error when it has a commit:
    /// searches then answer from that commit.
    pub fn refresh(&self, progress: bool) -> Result<Refresh> {
        match self.update(false, progress) {
            Ok(report) => Ok(Refresh::Done(report)),
            Err(Error::Store(e)) if e.is_write_failure() && self.has_index() => {
                Ok(Refresh::Stale(e))
            }
            Err(e) => Err(e),
        }
    }

    /// The best `options.limit` passages after `options.offset`, on the index as it is (see
    /// [`Engine::search_fresh`] to bring it up to date first).
    pub fn search(&self, query: &Query, options: &SearchOptions) -> Result<Page> {
        let snapshot = self.snapshot()?;
        snapshot
            .searcher
            .page_query(query, options.limit, options.offset)
            .map_err(|e| self.damaged(e))
    }

    /// Brings the index up to date and searches it. The freshness check (a look at every
    /// file's size and time) runs beside parsing the query and searching the last commit;
    /// that answer stands unless the check finds the corpus changed.
    pub fn search_fresh(
        &self,
        text: &str,
        options: &SearchOptions,
        progress: bool,
    ) -> Result<(Page, Refresh)> {
        // Before a first build, a query that will be refused must not leave an index behind.
        if !self.has_index() {
            self.parse(text, options)?;
        }
        let (refreshed, parsed, early) = std::thread::scope(|scope| {
            let check = scope.spawn(|| self.refresh(progress));
            let parsed = self.parse(text, options);
            let early = parsed
                .as_ref()
                .ok()
                .and_then(|q| self.search(q, options).ok());
            let refreshed = check.join().unwrap_or_else(|_| {
                Err(Error::Other(anyhow::anyhow!(
                    "the freshness check panicked"
                )))
            });
            (refreshed, parsed, early)
        });
        let query = parsed?;
        let refresh = refreshed?;
        let unchanged = match &refresh {
            Refresh::Done(report) => report.is_noop(),
            Refresh::Stale(_) => true,
        };
        if let (true, Some(page)) = (unchanged, early) {
            return Ok((page, refresh));
        }
        Ok((self.search(&query, options)?, refresh))
    }

    /// Fills in up to `n` paragraphs around each hit, reading each file once; the files that
    /// changed since they were indexed get none (their paragraphs are not those of the hit)
    /// and are returned.
    pub fn add_context(&self, hits: &mut [Hit], n: usize) -> Result<Vec<String>> {
        let listed = self.listed()?;
        let mut loaded: Vec<(String, Option<show::LoadedDocument>)> = Vec::new();
        let mut stale = Vec::new();
        for hit in hits {
            if !loaded.iter().any(|(s, _)| *s == hit.source) {
                let doc = match show::load(&listed, &hit.source) {
                    Ok(doc) => Some(doc),
                    Err(e) if matches!(e.downcast_ref(), Some(Refused::Stale { .. })) => {
                        stale.push(hit.source.clone());
                        None
                    }
                    Err(e) => return Err(Error::classify(e)),
                };
                loaded.push((hit.source.clone(), doc));
            }
            if let Some((_, Some(doc))) = loaded.iter().find(|(s, _)| *s == hit.source) {
                (hit.context_before, hit.context_after) =
                    doc.context(hit.line_start, hit.line_end, n);
            }
        }
        Ok(stale)
    }

    /// Quotes `hits`: full matches only unless `options.partial`, and only hits whose file is
    /// still as the index recorded it (a quote is a verbatim slice of the file only then).
    pub fn cite(&self, hits: Vec<Hit>, options: CiteOptions) -> Result<Cited> {
        let listed = self.listed()?;
        let mut verdicts: Vec<(String, bool)> = Vec::new();
        let mut cited = Cited {
            quotes: Vec::new(),
            not_quoted: Vec::new(),
            partial_left_out: 0,
        };
        for hit in hits {
            let ok = match verdicts.iter().find(|(s, _)| *s == hit.source) {
                Some((_, ok)) => *ok,
                None => {
                    let ok = listed
                        .open(&hit.source)
                        .map_err(|e| cited.not_quoted.push(e))
                        .is_ok();
                    verdicts.push((hit.source.clone(), ok));
                    ok
                }
            };
            if ok && !options.partial && hit.match_kind != MatchKind::All {
                cited.partial_left_out += 1;
            } else if ok {
                let c = cite::cite(&hit, options.quote, options.to);
                cited.quotes.push((hit, c));
            }
        }
        Ok(cited)
    }

    /// The lines at `at` (`FILE:LINE[-LINE]` or `FILE#L…`) of a document of the index, with
    /// `context` paragraphs around; `stale` is why the index could not be brought up to date,
    /// when it could not (said in the refusal of a changed file).
    pub fn show(&self, at: &str, context: usize, stale: Option<&StoreError>) -> Result<Excerpt> {
        let mut listed = self.listed()?;
        let span = LineSpan::parse(at, |s| listed.contains(s))?;
        listed.not_updated = stale.map(|e| e.to_string());
        show::excerpt(&listed, &span, context).map_err(Error::classify)
    }

    /// The documents of the last commit: the only files the engine reads back.
    pub fn listed(&self) -> Result<Listed> {
        Listed::of_index(self.index_dir()).map_err(Error::classify)
    }

    /// Whether the index folder holds a commit of ours.
    pub fn has_index(&self) -> bool {
        store::manifest::read_head(self.index_dir()).is_some()
    }

    /// The snapshot to search, opened on the last commit at the first call.
    fn snapshot(&self) -> Result<Arc<Snapshot>> {
        if let Some(s) = self
            .snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            return Ok(s.clone());
        }
        let dir = self.index_dir();
        if !self.has_index() {
            return Err(Error::NoIndex(dir.to_path_buf()));
        }
        let snapshot =
            open_snapshot(|| store::open_for_search(dir)).map_err(|e| self.damaged(e))?;
        let snapshot = Arc::new(snapshot);
        let mut slot = self.snapshot.write().unwrap_or_else(|e| e.into_inner());
        // An update may have swapped in a newer one meanwhile: that one stands.
        Ok(slot.get_or_insert(snapshot).clone())
    }

    fn replace(&self, snapshot: Option<Arc<Snapshot>>) {
        *self.snapshot.write().unwrap_or_else(|e| e.into_inner()) = snapshot;
    }

    /// A search error: the store's own, or the index's files are damaged.
    fn damaged(&self, e: anyhow::Error) -> Error {
        match Error::classify(e) {
            Error::Other(e) => Error::Damaged {
                dir: self.index_dir().to_path_buf(),
                why: e.to_string().lines().next().unwrap_or("").to_string(),
            },
            e => e,
        }
    }
}

/// Opens a snapshot on the last commit. Readers take no lock (they may not be able to write
/// one), so a writer's garbage collection may delete the files of a segment that a commit
/// replaced between reading `meta.json` and opening them: the open is then tried again, on
/// the new commit.
fn open_snapshot(open: impl Fn() -> anyhow::Result<tantivy::Index>) -> anyhow::Result<Snapshot> {
    let mut tries = 0;
    loop {
        match open().and_then(Searcher::new) {
            Err(e) if tries < 2 && store::is_missing_file(&e) => tries += 1,
            other => return other.map(|searcher| Snapshot { searcher }),
        }
    }
}

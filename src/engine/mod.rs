//! The engine: one open index of one corpus, answering searches, citations and lookups from
//! any number of threads while updates replace what it searches.
//!
//! Front ends (the command line, a server) hold an [`Engine`] and do nothing with the index
//! folder themselves. Each search runs on a snapshot of one commit; an update builds the next
//! snapshot and swaps it in, so a search never sees half an update.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, RwLock};

use crate::embed::EmbedderConfig;
use crate::error::{Error, Result};
use crate::model::{DocMeta, Hit, LineSpan, MatchKind, Page};
use crate::present::cite::{self, Citation, QuoteMode, Script};
use crate::present::show::{self, Excerpt, Listed, Refused};
use crate::search::query::{self, Query, QueryError};
use crate::search::sphinx::remote::Remote;
use crate::search::{Backend, Meaning, Plan, Searcher};
use crate::store::{
    self, IndexStats, IndexStore, Reporter, StoreError, UpdateOptions, UpdateReport, Warning,
};

mod inventory;
mod snapshot;

use crate::store::update::prelist::{self, Prelisted};
pub use inventory::Document;
pub use snapshot::panic_is_reported;
use snapshot::{Snapshot, damaged};

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
    /// A SphinxQL engine holding the index (`sphinxql://HOST:PORT/TABLE`) instead of the
    /// folder, which then keeps only the manifest of what was written (see
    /// [`crate::search::sphinx`]); searches never write it: `update` does.
    pub backend: Option<String>,
}

impl EngineOptions {
    /// An index in `index`, of the corpus it remembers (else `./corpus`).
    pub fn new(index: impl Into<PathBuf>) -> EngineOptions {
        EngineOptions {
            index: index.into(),
            corpus: None,
            extensions: None,
            backend: None,
        }
    }

    /// The corpus folder to index.
    pub fn corpus(mut self, corpus: impl Into<PathBuf>) -> EngineOptions {
        self.corpus = Some(corpus.into());
        self
    }

    /// The file name extensions of documents (`["txt", "md"]`; checked by [`Engine::open`]).
    pub fn extensions(mut self, extensions: &[&str]) -> EngineOptions {
        self.extensions = Some(extensions.iter().map(|e| e.to_string()).collect());
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
    /// Full matches only: no partial matches (`--exact`).
    pub exact: bool,
    /// Semantic hits or not, for this search [default: as [`Engine::semantic`] says].
    pub semantic: Option<bool>,
}

impl Default for SearchOptions {
    fn default() -> SearchOptions {
        SearchOptions {
            limit: 10,
            offset: 0,
            sources: Vec::new(),
            exact: false,
            semantic: None,
        }
    }
}

/// How a citation is made [default: the sentences holding the match, in the source's script,
/// full matches only].
#[derive(Debug, Clone, Copy)]
pub struct CiteOptions {
    /// The sentence(s) holding the match, or the whole paragraph.
    pub quote: QuoteMode,
    /// Also the quote converted to this script (labelled as converted).
    pub to: Option<Script>,
    /// Also quote passages that match only part of the query (labelled).
    pub partial: bool,
    /// Also quote semantic hits (labelled) [default: as [`Engine::quote_semantic`] says].
    pub semantic: Option<bool>,
}

impl Default for CiteOptions {
    fn default() -> CiteOptions {
        CiteOptions {
            quote: QuoteMode::Sentence,
            to: None,
            partial: false,
            semantic: None,
        }
    }
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
    /// Semantic hits left out (without [`Engine::quote_semantic`] or
    /// [`CiteOptions::semantic`]).
    pub semantic_left_out: usize,
    /// Full matches not quoted, their files being among `not_quoted`.
    pub full_not_quoted: usize,
}

impl Cited {
    /// Why no passage matching every term is quoted, when none is: none matches, or those
    /// that do are in files changed since they were indexed.
    pub fn no_full_match(&self) -> &'static str {
        match self.full_not_quoted {
            0 => "no passage matches every term",
            _ => {
                "no passage matching every term can be quoted: their files changed since the index was last updated"
            }
        }
    }
}

/// What bringing the index up to date came to.
#[derive(Debug)]
pub enum Refresh {
    /// The index is up to date: the report says what changed (maybe nothing).
    Done(UpdateReport),
    /// The index could not be written now (busy, read-only, disk full): its last commit
    /// answers, and the error says why.
    Stale(StoreError),
}

/// An open index of one corpus. `Send + Sync`: share it (`Arc<Engine>`) between threads.
pub struct Engine {
    options: EngineOptions,
    snapshot: RwLock<Option<Arc<Snapshot>>>,
    /// One update at a time from this engine (other processes are kept out by the index's
    /// writer lock).
    writing: Mutex<()>,
    /// The SphinxQL engine of [`EngineOptions::backend`], when given.
    remote: Option<Remote>,
    /// The semantic tier: its settings, its vectors, the last query's vector.
    meaning: crate::embed::engine::Tier,
    /// Whether this process answers once and exits (see [`Engine::one_shot`]).
    one_shot: bool,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("options", &self.options)
            .field("open", &self.cached().map(|s| s.store.clone()))
            .finish()
    }
}

impl Engine {
    /// An engine on the index in `options.index`. Nothing is read or written yet: the index
    /// is opened at the first search, and built or brought up to date by [`Engine::update`]
    /// or [`Engine::refresh`]. Bad extensions are refused here.
    pub fn open(mut options: EngineOptions) -> Result<Engine> {
        if let Some(ext) = &options.extensions {
            options.extensions = Some(store::parse_extensions(ext)?);
        }
        let (b, c, e) = (&options.backend, &options.corpus, &options.extensions);
        let remote = Remote::of(b, &options.index, c, e)?;
        Ok(Engine {
            remote,
            options,
            snapshot: RwLock::new(None),
            writing: Mutex::new(()),
            meaning: Default::default(),
            one_shot: false,
        })
    }

    /// For a process that answers once and exits (a CLI command): searches keep no
    /// decompressed store blocks beyond the one in use, which saves the fresh memory each kept
    /// block costs, and search on a second thread only when they take long; a server's later
    /// searches reuse the blocks, and search a large index on two threads from the start
    /// [default: a server's]. The index files this process opens from now on are read in
    /// ranges, not mapped (see [`crate::store::ranged`]: a process-wide choice).
    pub fn one_shot(mut self) -> Engine {
        self.one_shot = true;
        crate::store::ranged::read_in_ranges(true);
        self
    }

    /// Embeds passages with `embedder` from the next [`Engine::update`] on (recorded in the
    /// index, so later engines use it without being told); `None`: the one recorded, if any.
    pub fn embedder(mut self, embedder: Option<EmbedderConfig>) -> Engine {
        self.meaning.given = embedder;
        self
    }

    /// Whether searches add semantic hits when the index has vectors [default: yes].
    pub fn semantic(mut self, on: bool) -> Engine {
        self.meaning.on = on;
        self
    }

    /// Whether [`Engine::cite`] quotes semantic hits (labelled) [default: no].
    pub fn quote_semantic(mut self, on: bool) -> Engine {
        self.meaning.quote = on;
        self
    }

    /// How many passages of the index are embedded, of how many with something to embed:
    /// `None` when the index has no embedder.
    pub fn semantic_status(&self) -> Option<(usize, usize)> {
        crate::embed::sync::status(self.index_dir())
    }

    /// The index folder.
    pub fn index_dir(&self) -> &Path {
        &self.options.index
    }

    /// Parses `text` in the query language (`options.sources` are checked here, and applied
    /// by the search).
    pub fn parse(&self, text: &str, options: &SearchOptions) -> Result<Query> {
        let (offset, limit) = (options.offset, options.limit);
        if offset.saturating_add(limit) > query::MAX_ROWS {
            return Err(QueryError::TooDeep { offset, limit }.into());
        }
        let q = query::parse(text)?;
        for glob in &options.sources {
            query::check_glob(glob).map_err(QueryError::from)?;
        }
        Ok(q)
    }

    /// Builds the index, or brings it up to date with the corpus (only changed files are
    /// read); `rebuild` reads every file again. Progress and skipped files go to `reporter`.
    /// Searches running meanwhile answer from the last commit; the next ones from the new one.
    ///
    /// With an embedder (given, or recorded in the index), the passages without a vector are
    /// then embedded: an embedding error leaves the lexical commit in place (searches use it)
    /// and is returned; the next update resumes the embedding.
    pub fn update(&self, rebuild: bool, reporter: &dyn Reporter) -> Result<UpdateReport> {
        let report = self.update_lexical(rebuild, reporter)?;
        self.embed(reporter)?;
        Ok(report)
    }

    /// [`Engine::update`] without the embedding: the lexical commit only (a server embeds
    /// after it, in the background, with [`Engine::embed`]).
    pub fn update_lexical(&self, rebuild: bool, reporter: &dyn Reporter) -> Result<UpdateReport> {
        self.update_from(self.cached(), rebuild, None, reporter)
    }

    /// Embeds the passages of the current commit that have no vector yet (one run at a time;
    /// updates and searches go on meanwhile): how many passages have a vector, of how many
    /// (`None` without an embedder, or with a SphinxQL backend, which has no semantic tier).
    pub fn embed(&self, reporter: &dyn Reporter) -> Result<Option<crate::embed::EmbedReport>> {
        if self.remote.is_some() {
            return Ok(None);
        }
        let snapshot = self.snapshot()?;
        let backend = snapshot.searcher.backend();
        let passages = || crate::embed::engine::passages(backend);
        let commit = snapshot.store.head().files_in.clone().unwrap_or_default();
        self.meaning
            .embed(self.index_dir(), &commit, &passages, reporter)
            .map_err(Error::from)
    }

    fn update_from(
        &self,
        current: Option<Arc<Snapshot>>,
        rebuild: bool,
        prelisted: Option<Prelisted>,
        reporter: &dyn Reporter,
    ) -> Result<UpdateReport> {
        let _writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(r) = &self.remote {
            return Ok(r.update(rebuild, reporter)?);
        }
        let options = UpdateOptions {
            rebuild,
            extensions: self.options.extensions.clone(),
        };
        let corpus = self.options.corpus.as_deref();
        let (report, store) = store::update::update_prelisted(
            self.index_dir(),
            corpus,
            &options,
            current.as_ref().map(|s| &s.store),
            prelisted,
            reporter,
        )?;
        // The snapshot already open stands only when it is of the commit now current: another
        // process may have committed since it was opened, with nothing left to do here.
        if !current.is_some_and(|c| c.store.same_commit(&store)) {
            self.replace(Arc::new(Snapshot::new(store, self.one_shot)?));
        }
        Ok(report)
    }

    /// [`Engine::update`], except that an index which cannot be written now (another process
    /// is writing it, it is read-only, the disk is full) is not an error when it has a commit:
    /// searches then answer from that commit.
    pub fn refresh(&self, reporter: &dyn Reporter) -> Result<Refresh> {
        self.refresh_from(self.cached(), None, reporter)
    }

    /// [`Engine::refresh`] from the snapshot `current`, with the corpus as `prelisted` (see
    /// [`crate::store::update::prelist`]) if that still stands.
    fn refresh_from(
        &self,
        current: Option<Arc<Snapshot>>,
        prelisted: Option<Prelisted>,
        reporter: &dyn Reporter,
    ) -> Result<Refresh> {
        if self.remote.is_some() {
            // A search never writes the cluster: `update` does.
            return Ok(Refresh::Done(UpdateReport::default()));
        }
        let had = current.is_some();
        let (mut said, mut prelisted) = (false, prelisted);
        loop {
            return match self.update_from(current.clone(), false, prelisted.take(), reporter) {
                Ok(report) => Ok(Refresh::Done(report)),
                Err(Error::Store(e)) if e.is_write_failure() && (had || self.has_index()) => {
                    Ok(Refresh::Stale(e))
                }
                // Another process is making the first commit: there is nothing to search
                // until it is done, and its lock goes with it if it dies.
                Err(Error::Store(StoreError::Busy { dir })) => {
                    if !std::mem::replace(&mut said, true) {
                        reporter.warning(&Warning::Waiting { dir });
                    }
                    std::thread::sleep(std::time::Duration::from_millis(100));
                    continue;
                }
                Err(e) => Err(e),
            };
        }
    }

    /// The best `options.limit` passages after `options.offset`, on the index as it is (see
    /// [`Engine::search_fresh`] to bring it up to date first).
    ///
    /// This engine's snapshot: commits made by other processes since it was opened are seen
    /// after [`Engine::refresh`]. `options.sources` narrow the query's own `source:` globs.
    pub fn search(&self, query: &Query, options: &SearchOptions) -> Result<Page> {
        if let Some(r) = &self.remote {
            if !query.meta.is_empty() {
                let why = "author: and date: filters are not supported with --backend yet";
                return Err(Error::Other(anyhow::anyhow!(why)));
            }
            let (q, o) = (with_sources(query, options)?, options);
            return Ok(r.page(&q, o.limit, o.offset, o.exact)?);
        }
        let snapshot = self.snapshot()?;
        self.meaning
            .with(self.index_dir(), options.semantic, |meaning| {
                snapshot.page(&with_sources(query, options)?, options, meaning)
            })
    }

    /// The corpus of the index's last commit, listed as an update would list it.
    fn prelist(&self) -> Option<Prelisted> {
        let (corpus, extensions) = (&self.options.corpus, &self.options.extensions);
        prelist::prelist(self.index_dir(), corpus.as_deref(), extensions.as_deref())
    }

    /// Refuses, without looking at the corpus's files, an index of another corpus or other
    /// extensions than this engine was given (what an update would refuse): for searches
    /// that skip the update (`--no-refresh`).
    pub fn check_given(&self) -> Result<()> {
        if self.remote.is_some() {
            return Ok(());
        }
        let snapshot = self.snapshot()?;
        let (corpus, extensions) = (&self.options.corpus, &self.options.extensions);
        crate::store::update::check_given(
            self.index_dir(),
            snapshot.store.head(),
            corpus.as_deref(),
            extensions.as_deref(),
        )
        .map_err(StoreError::from_anyhow)?;
        Ok(())
    }

    /// Parses `text` (see [`Engine::parse`]) and searches the index as it is.
    pub fn search_text(&self, text: &str, options: &SearchOptions) -> Result<Page> {
        self.search(&self.parse(text, options)?, options)
    }

    /// Brings the index up to date and searches it: its last commit is searched and the
    /// corpus checked (a look at every file's size and time); that answer stands unless the
    /// check finds the corpus changed. The check runs beside the search, on a thread started
    /// on another core before the index is opened, and lists the corpus while the index is
    /// being opened (see [`prelist`]; on the ×10 bench corpus, 3,130 files, the default
    /// search took 27.93 → 23.53 ms, median over the bench queries). Before a first build, a
    /// query that will be refused leaves no index behind.
    pub fn search_fresh(
        &self,
        text: &str,
        options: &SearchOptions,
        reporter: &dyn Reporter,
    ) -> Result<(Page, Refresh)> {
        if self.remote.is_some() {
            // The cluster is searched as it is (a local index in the folder is not).
            let done = Refresh::Done(UpdateReport::default());
            return Ok((self.search_text(text, options)?, done));
        }
        let page = |snapshot: &Snapshot, q: &Query| {
            self.meaning
                .with(self.index_dir(), options.semantic, |meaning| {
                    snapshot.page(&with_sources(q, options)?, options, meaning)
                })
                .ok()
        };
        // The check is started first, so that it is running by the time it has something to
        // do, off this thread's core (see `threads`).
        let (give, take) = mpsc::channel::<Option<Option<Arc<Snapshot>>>>();
        let (parsed_ok, may_build) = mpsc::channel::<bool>();
        let busy = crate::threads::Busy::start();
        let check = move || {
            let _busy = busy;
            // The corpus is walked while the index is being opened.
            let prelisted = self.prelist();
            let had = take.recv().ok().flatten()?;
            if had.is_none() && !may_build.recv().unwrap_or(false) {
                return Some(Err(Error::Other(anyhow::anyhow!("the query was refused"))));
            }
            Some(self.refresh_from(had, prelisted, reporter))
        };
        let search = move || {
            let current = self.snapshot().ok();
            let _ = give.send(Some(current.clone()));
            let parsed = self.parse(text, options);
            let _ = parsed_ok.send(parsed.is_ok());
            let early = match (&parsed, &current) {
                (Ok(q), Some(snapshot)) => page(snapshot, q),
                _ => None,
            };
            (current, parsed, early)
        };
        let (checked, (current, parsed, early)) = crate::threads::beside(check, search);
        let refreshed = match checked {
            Ok(Some(refreshed)) => refreshed,
            Ok(None) => self.refresh_from(current, None, reporter),
            Err(_) => Err(Error::Other(anyhow::anyhow!(
                "the freshness check panicked"
            ))),
        };
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

    /// How many passages match every term of `text` (within `options.sources`), counting at
    /// most `cap` candidates: the file of each, best first by the backend's score, and
    /// whether that is all of them (else at least as many match).
    pub fn full_matches(
        &self,
        text: &str,
        options: &SearchOptions,
        cap: usize,
    ) -> Result<(Vec<String>, bool)> {
        let query = with_sources(&self.parse(text, options)?, options)?;
        let snapshot = self.snapshot()?;
        let found = |s: &Snapshot| s.searcher.full_matches(&s.plan(&query, true)?, cap);
        snapshot::reading(|| found(&snapshot)).map_err(|e| damaged(self.index_dir(), e))
    }

    /// Fills in up to `n` paragraphs around each hit, reading each file once; the files that
    /// changed since they were indexed get none (their paragraphs are not those of the hit)
    /// and are returned.
    pub fn add_context(&self, hits: &mut [Hit], n: usize) -> Result<Vec<String>> {
        let listed = self.listed()?;
        let mut loaded: Vec<(String, Option<show::LoadedDocument>)> = Vec::new();
        let mut stale = Vec::new();
        for hit in hits {
            if let Err(e) = as_searched(&listed, hit) {
                stale.push(hit.source.clone());
                if !matches!(e, Refused::Stale { .. }) {
                    return Err(e.into());
                }
                continue;
            }
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
        let mut verdicts: Vec<((String, Option<String>), bool)> = Vec::new();
        let mut cited = Cited {
            quotes: Vec::new(),
            not_quoted: Vec::new(),
            partial_left_out: 0,
            semantic_left_out: 0,
            full_not_quoted: 0,
        };
        // A front matter line (`author: 林小雨`) is quoted only when no body passage matches
        // as well (a full match, then a partial one, then one close in meaning).
        let kind_rank = |k: MatchKind| match k {
            MatchKind::All => 0,
            MatchKind::Partial => 1,
            MatchKind::Semantic => 2,
        };
        let body = (hits.iter().filter(|h| !h.front_matter))
            .map(|h| kind_rank(h.match_kind))
            .min();
        let matched_better = |h: &Hit| body.is_some_and(|b| b <= kind_rank(h.match_kind));
        for hit in hits
            .into_iter()
            .filter(|h| !(h.front_matter && matched_better(h)))
        {
            let key = (hit.source.clone(), hit.indexed.clone());
            let ok = match verdicts.iter().find(|(k, _)| *k == key) {
                Some((_, ok)) => *ok,
                None => {
                    let ok = as_searched(&listed, &hit)
                        .map_err(|e| cited.not_quoted.push(e))
                        .is_ok();
                    verdicts.push((key, ok));
                    ok
                }
            };
            let semantic = options.semantic.unwrap_or(self.meaning.quote);
            if !ok && hit.match_kind == MatchKind::All {
                cited.full_not_quoted += 1;
            } else if ok && hit.match_kind == MatchKind::Semantic && !semantic {
                cited.semantic_left_out += 1;
            } else if ok && !options.partial && hit.match_kind == MatchKind::Partial {
                cited.partial_left_out += 1;
            } else if ok {
                let c = cite::cite(&hit, options.quote, options.to);
                cited.quotes.push((hit, c));
            }
        }
        Ok(cited)
    }

    /// The lines at `at` (`FILE:LINE[-LINE]` or `FILE#L…`) of a document of the index, with
    /// `context` paragraphs around; `not_updated` is why the index could not be brought up
    /// to date, when it could not (said in the refusal of a changed file).
    pub fn show(&self, at: &str, context: usize, not_updated: Option<String>) -> Result<Excerpt> {
        let mut listed = self.listed()?;
        let span = LineSpan::parse(at, |s| listed.contains(s))?;
        listed.not_updated = not_updated;
        show::excerpt(&listed, &span, context).map_err(Error::classify)
    }

    /// Whether the index folder holds a commit of ours.
    pub fn has_index(&self) -> bool {
        if let Some(r) = &self.remote {
            return r.files().is_ok_and(|f| f.is_some());
        }
        self.snapshot().is_ok()
    }

    fn no_index(&self) -> Error {
        Error::NoIndex(self.index_dir().to_path_buf())
    }

    /// The snapshot already open, if any.
    fn cached(&self) -> Option<Arc<Snapshot>> {
        self.snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The snapshot to search, opened on the last commit at the first call.
    fn snapshot(&self) -> Result<Arc<Snapshot>> {
        if let Some(s) = self.cached() {
            return Ok(s);
        }
        let dir = self.index_dir();
        let store = IndexStore::open(dir)?.ok_or_else(|| Error::NoIndex(dir.to_path_buf()))?;
        let snapshot = Arc::new(Snapshot::new(store, self.one_shot)?);
        let mut slot = self.snapshot.write().unwrap_or_else(|e| e.into_inner());
        // An update may have swapped in a newer one meanwhile: that one stands.
        Ok(slot.get_or_insert(snapshot).clone())
    }

    fn replace(&self, snapshot: Arc<Snapshot>) {
        *self.snapshot.write().unwrap_or_else(|e| e.into_inner()) = Some(snapshot);
    }
}

/// `query` narrowed to `options.sources` as well, when any are given.
fn with_sources(query: &Query, options: &SearchOptions) -> Result<Query> {
    let mut q = query.clone();
    for glob in &options.sources {
        query::check_glob(glob).map_err(QueryError::from)?;
        if !q.sources.contains(glob) {
            q.sources.push(glob.clone());
        }
    }
    Ok(q)
}

/// Whether the file of `hit` still holds what was searched: listed and unchanged now
/// ([`Listed::open`]), and with the content it had in the commit the hit came from (a hit
/// kept while an update ran is not quoted from the file's new lines).
fn as_searched(listed: &Listed, hit: &Hit) -> std::result::Result<(), Refused> {
    listed.open(&hit.source)?;
    match (&hit.indexed, listed.hash(&hit.source)) {
        (Some(then), Some(now)) if then != now => Err(Refused::Stale {
            source: hit.source.clone(),
            index: listed.index().to_path_buf(),
            not_updated: None,
        }),
        _ => Ok(()),
    }
}

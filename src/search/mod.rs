//! Running a query: parse it ([`query`]), bind it to an index ([`plan`]), fetch candidates
//! from a [`Backend`] ([`backend`], [`tantivy`]), then verify, rank and highlight them against
//! their stored text ([`rank`]) into ranked passages with their citation.
//!
//! Two tiers: the strict tier's candidates that match every term (each checked against its
//! passage's text), then, when they are fewer than asked for and the query has bare terms (or
//! its phrases match nothing), passages that hold enough of the query in order or of its
//! rarest words ([`fuzzy`]). Every full match ranks above every partial
//! one, and each tier is one order that depends only on the passages indexed.

pub mod backend;
pub mod fuzzy;
pub mod glob;
pub mod meta;
pub mod plan;
pub mod query;
pub mod rank;
pub mod semantic;
pub mod sphinx;
pub mod tantivy;
mod tier;

#[cfg(test)]
mod memory_tests;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use anyhow::{Context, Result};

use crate::embed::Semantic;
use crate::model::{DocMeta, Hit, MatchKind, Page};
pub use backend::{Backend, Tier};
pub use plan::{Plan, Vocabulary, bind};
pub use query::{Query, QueryError, parse};
pub use semantic::Meaning;
pub use tantivy::TantivyBackend;
use tier::{Cand, ranked};

/// For the partial tier: the full matches to leave out, and the measure of the query.
type Partial<'a> = Option<(&'a HashSet<backend::CandidateId>, &'a fuzzy::Relaxed)>;

/// Score of a partial match per unit of [`fuzzy::Measure::score`], added to the backend's
/// for the reranked ones: how much of the query a passage holds in order decides first.
const FUZZY_WEIGHT: f32 = 100.0;

/// Candidates of the partial tier judged beyond the rows asked for (and the full matches,
/// which it finds again): those further down hold little of the query.
const PARTIAL_JUDGED: usize = 300;

/// Searches one index through its backend; shared by threads (`Send + Sync` when the backend
/// is, as every [`Backend`] must be).
pub struct Searcher<B: Backend = TantivyBackend> {
    backend: B,
}

impl Searcher<TantivyBackend> {
    /// Opens the Tantivy index in `dir`.
    pub fn open(dir: &Path) -> Result<Searcher> {
        let index = ::tantivy::Index::open_in_dir(dir)
            .with_context(|| format!("cannot open the index in {}", dir.display()))?;
        Searcher::new(index)
    }

    /// Searches a Tantivy index already open (as [`crate::store::update::update`] leaves
    /// it), at its last commit.
    pub fn new(index: ::tantivy::Index) -> Result<Searcher> {
        Ok(Searcher::with_backend(TantivyBackend::new(index)?))
    }

    /// [`Searcher::new`], for a process that searches once and exits, or not (see
    /// [`TantivyBackend::for_process`]).
    pub fn for_process(index: ::tantivy::Index, one_shot: bool) -> Result<Searcher> {
        Ok(Searcher::with_backend(TantivyBackend::for_process(
            index, one_shot,
        )?))
    }
}

impl<B: Backend> Searcher<B> {
    /// Searches through `backend`.
    pub fn with_backend(backend: B) -> Searcher<B> {
        Searcher { backend }
    }

    /// The backend searched.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// Binds a parsed query to this index (see [`plan::bind`]).
    pub fn bind(&self, query: &Query) -> Result<Plan> {
        plan::bind(query, &self.backend)
    }

    /// The best `limit` passages after skipping `offset`, best first (see [`Searcher::page`]).
    pub fn search(&self, query: &Query, limit: usize, offset: usize) -> Result<Vec<Hit>> {
        Ok(self.page_query(query, limit, offset)?.hits)
    }

    /// [`Searcher::page`] of a parsed query, bound first.
    pub fn page_query(&self, query: &Query, limit: usize, offset: usize) -> Result<Page> {
        self.page(&self.bind(query)?, limit, offset)
    }

    /// [`Searcher::page_query`]; with `exact`, full matches only (no partial tier).
    pub fn page_query_exact(
        &self,
        query: &Query,
        limit: usize,
        offset: usize,
        exact: bool,
    ) -> Result<Page> {
        self.page_meaning(query, limit, offset, exact, None)
    }

    /// [`Searcher::page_query_exact`] with the semantic tier when `meaning` is given.
    pub fn page_meaning(
        &self,
        query: &Query,
        limit: usize,
        offset: usize,
        exact: bool,
        meaning: Option<&Meaning>,
    ) -> Result<Page> {
        let mut plan = self.bind(query)?;
        plan.exact = exact;
        self.page_with(&plan, limit, offset, meaning)
    }

    /// Rows `offset+1 ..= offset+limit` of one ranking that depends only on the passages in
    /// the index: every full match (verified against the passage's text, see
    /// [`rank::matches_all`]), then the partial ones; within each, the first `RERANK_DEPTH`
    /// candidates by the backend's score (ties by file, line and column) reranked with the
    /// passage-level signals, then the rest in that order. Only the candidates up to the last
    /// row asked for are read from the store.
    pub fn page(&self, plan: &Plan, limit: usize, offset: usize) -> Result<Page> {
        self.page_with(plan, limit, offset, None)
    }

    /// [`Searcher::page`], with semantic hits interleaved with the partial ones (see
    /// [`semantic::interleave`]) when `meaning` is given.
    pub fn page_with(
        &self,
        plan: &Plan,
        limit: usize,
        offset: usize,
        meaning: Option<&Meaning>,
    ) -> Result<Page> {
        let want = offset + limit;
        let mut semantic_unavailable = None;
        let mut titles = Titles {
            entries: plan
                .terms()
                .map(|t| self.backend.titled_files(t))
                .collect::<Result<_>>()?,
            files: HashMap::new(),
        };
        let strict = self.backend.fetch(plan, Tier::Strict)?;
        let full = ranked(
            want,
            0,
            None,
            |n| strict.top(n),
            |id, score| self.judge(plan, id, score, None),
            |cand, reranked| self.finish(plan, cand, reranked, &mut titles, None),
        )?;
        let full_matches = !full.ids.is_empty();
        let mut hits = full.hits;
        // Fewer full matches than asked for means the strict tier was read to its end, so
        // `full.ids` holds every full match.
        if hits.len() < want && plan.relaxes(full_matches) {
            let need = want - hits.len();
            let (below, why) =
                self.below_full(plan, &full.ids, want, need, &mut titles, meaning)?;
            hits.extend(below);
            semantic_unavailable = why;
        }
        hits.truncate(want);
        // Only the hits shown need their file's metadata read from the store.
        let mut hits: Vec<Hit> = hits.into_iter().skip(offset).collect();
        let mut sources: Vec<&str> = hits.iter().map(|h| h.source.as_str()).collect();
        sources.sort_unstable();
        sources.dedup();
        let metas = self.backend.doc_metas(&sources)?;
        let metas: HashMap<String, DocMeta> =
            sources.iter().map(|s| s.to_string()).zip(metas).collect();
        for hit in &mut hits {
            hit.meta = metas.get(&hit.source).cloned().unwrap_or_default();
        }
        Ok(Page {
            hits,
            full_matches,
            semantic_unavailable,
        })
    }

    /// The first `need` hits below the full matches `full` (of a page of `want`): partial
    /// matches and, with `meaning`, semantic hits, in one order (see
    /// [`semantic::interleave`]); and why the semantic tier gave nothing, when it failed.
    fn below_full(
        &self,
        plan: &Plan,
        full: &HashSet<backend::CandidateId>,
        want: usize,
        need: usize,
        titles: &mut Titles,
        meaning: Option<&Meaning>,
    ) -> Result<(Vec<Hit>, Option<String>)> {
        let n = self.backend.passages() as f32;
        let idf = |w: &str| {
            let df = self.backend.doc_freq(w) as f32;
            (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
        };
        let measure = fuzzy::Relaxed::new(plan, &idf);
        let mut why = None;
        let loaded = meaning.and_then(|m| match (m.load)(&semantic::query_text(plan)) {
            Ok(near) => near,
            Err(e) => {
                why = Some(e);
                None
            }
        });
        let near = loaded.as_ref().map(|(s, v)| (s.as_ref(), v.as_slice()));
        let relaxed = self.backend.fetch(plan, Tier::Relaxed)?;
        let tier = Some((full, &measure));
        // Every candidate that may be judged is collected in one pass: most of the partial
        // tier's candidates hold too little of the query, and each pass for more scores every
        // passage holding a pair of its characters again.
        let cap = full.len() + want + PARTIAL_JUDGED;
        let partial = ranked(
            need,
            cap,
            Some(cap),
            |n| relaxed.top(n),
            |id, score| self.judge(plan, id, score, tier),
            |cand, reranked| self.finish(plan, cand, reranked, titles, near),
        )?;
        let close = match near {
            Some((s, v)) => semantic::hits(&self.backend, plan, s, v, need, &measure)?,
            None => Vec::new(),
        };
        Ok((semantic::interleave(partial.hits, close, need), why))
    }

    /// The file of each passage that matches every term, in the backend's order, judging
    /// at most `cap` candidates; whether that was all of them (else at least as many match).
    pub fn full_matches(&self, plan: &Plan, cap: usize) -> Result<(Vec<String>, bool)> {
        // Never more than there are passages: the backend may reserve room for `cap`.
        let cap = cap.min(self.backend.passages() as usize + 1);
        let candidates = self.backend.fetch(plan, Tier::Strict)?.top(cap)?;
        let mut sources = Vec::new();
        for &(score, id) in &candidates.top {
            if let Some(cand) = self.judge(plan, id, score, None)? {
                sources.push(cand.stored.source);
            }
        }
        let complete = candidates.complete || candidates.top.len() < cap;
        Ok((sources, complete))
    }

    /// A candidate of its tier, or `None` when it does not belong there: in the strict tier
    /// (`partial` is `None`), a passage that does not match every term; in the partial tier,
    /// a full match, an excluded passage, or one that covers too little of the query.
    fn judge(
        &self,
        plan: &Plan,
        id: backend::CandidateId,
        score: f32,
        partial: Partial,
    ) -> Result<Option<Cand>> {
        if partial.is_some_and(|(seen, _)| seen.contains(&id)) {
            return Ok(None);
        }
        let stored = self.backend.passage(id)?;
        let passage = tier::passage(&stored);
        let is_word = |w: &str| self.backend.has_word(id, w);
        let full = rank::matches_all(plan, &passage, &is_word);
        let (kind, measure) = match partial {
            None if full => (MatchKind::All, None),
            Some((_, relaxed)) if !full && !rank::excluded(plan, &passage) => {
                let m = relaxed.measure(&stored.visible);
                if !relaxed.enough(&m) {
                    return Ok(None);
                }
                (MatchKind::Partial, Some(m))
            }
            _ => return Ok(None),
        };
        let forms = passage.into_forms();
        Ok(Some(Cand {
            score,
            id,
            stored,
            kind,
            measure,
            forms,
        }))
    }

    /// A candidate as a hit, with its highlights and final score (its file's metadata is
    /// filled in for the hits shown). Only `reranked` hits get the passage-level boost: the
    /// rest keep the score they are ordered by, so printed scores never rise down the list.
    fn finish(
        &self,
        plan: &Plan,
        cand: Cand,
        reranked: bool,
        titles: &mut Titles,
        near: Option<(&Semantic, &[f32])>,
    ) -> Result<Hit> {
        let stored = cand.stored;
        let title_terms = titles.terms_in(&stored.source, |s| self.backend.file_id(s));
        let passage = rank::Passage::with_forms(&stored.text, cand.forms);
        let mut found = rank::findings(plan, &passage, title_terms);
        let mut boost = if reranked { found.boost } else { 0.0 };
        if let Some(m) = &cand.measure {
            // A partial match marks what counted: its aligned characters and content words.
            found.highlights = fuzzy::highlights(&stored.visible, &m.spans);
            boost += if reranked {
                FUZZY_WEIGHT * m.score() + semantic::closeness(near, &stored)
            } else {
                0.0
            };
        }
        Ok(tier::into_hit(stored, cand.score + boost, cand.kind, found))
    }
}

/// What the title score needs: for each query term, the files whose title holds it (see
/// [`Backend::titled_files`]), and each file's id as it is looked up.
struct Titles {
    entries: Vec<HashSet<backend::FileId>>,
    files: HashMap<String, Option<backend::FileId>>,
}

impl Titles {
    /// How many query terms the title of file `source` holds; its id is looked up (with
    /// `file_id`, once per file) only when some title holds a term.
    fn terms_in(
        &mut self,
        source: &str,
        file_id: impl FnOnce(&str) -> Option<backend::FileId>,
    ) -> usize {
        if self.entries.iter().all(HashSet::is_empty) {
            return 0;
        }
        let entry = match self.files.get(source) {
            Some(e) => *e,
            None => {
                let e = file_id(source);
                self.files.insert(source.to_string(), e);
                e
            }
        };
        entry.map_or(0, |e| {
            self.entries.iter().filter(|s| s.contains(&e)).count()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_searcher_is_shared_across_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Searcher>();
        send_sync::<Plan>();
        send_sync::<Query>();
    }
}

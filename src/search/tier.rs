//! One tier of a search in its final order, from any backend's candidates: judged in order,
//! the first [`RERANK_DEPTH`] reranked, hits made only for the rows asked for.

use std::cmp::Ordering;
use std::collections::HashSet;

use anyhow::Result;

use crate::model::{Hit, LineSpan, MatchKind};
use crate::search::backend::{CandidateId, Candidates, StoredPassage};
use crate::search::{fuzzy, rank};

/// How many of the best candidates (by the backend's score, then file, line and column) are
/// reranked with proximity, title and runs of the query.
pub(super) const RERANK_DEPTH: usize = 30;

/// A candidate that belongs to its tier, before its file's metadata and highlights are
/// looked up (only the reranked ones and those shown need them).
pub(super) struct Cand {
    /// The backend's score.
    pub(super) score: f32,
    pub(super) id: CandidateId,
    pub(super) stored: StoredPassage,
    pub(super) kind: MatchKind,
    /// How much of the query a partial match holds (none for a full match).
    pub(super) measure: Option<fuzzy::Measure>,
    /// Its normalised texts, made when it was judged.
    pub(super) forms: rank::Forms,
}

/// A tier: its first hits in order, and every passage found to belong to it.
pub(super) struct TierHits {
    pub(super) hits: Vec<Hit>,
    pub(super) ids: HashSet<CandidateId>,
}

/// One tier in its final order: `candidates(n)` gives the backend's best `n` in one total
/// order (see [`Candidates`]), `judge` keeps those of the tier, `finish` makes hits. Candidates are
/// judged in that order until `need` of the tier (or all there are) and the whole rerank
/// window are known, so the result is a prefix of one order whatever `need` is, and no
/// passage after the last row asked for is read from the store. `slack` more candidates than
/// needed are collected at first, for those expected to be judged out of the tier: running
/// the query again for more costs more than collecting a few more at once. At most `cap`
/// candidates are judged (the partial tier's, most of which hold too little of the query
/// far down the backend's order).
pub(super) fn ranked(
    need: usize,
    slack: usize,
    cap: Option<usize>,
    candidates: impl Fn(usize) -> Result<Candidates>,
    mut judge: impl FnMut(CandidateId, f32) -> Result<Option<Cand>>,
    mut finish: impl FnMut(Cand, bool) -> Result<Hit>,
) -> Result<TierHits> {
    let depth = need.max(RERANK_DEPTH);
    let cap = cap.map_or(usize::MAX, |c| c.max(depth));
    let mut n = depth.saturating_add(slack).min(cap);
    // Candidates judged so far: a prefix of the order, which does not depend on `n`.
    let mut judged = 0;
    let mut kept: Vec<(usize, Cand)> = Vec::new();
    loop {
        let Candidates { top, complete } = candidates(n)?;
        while kept.len() < depth && judged < top.len().min(cap) {
            let end = top.len().min(cap).min(judged + depth - kept.len());
            // In index order, so that passages stored in one block are read together.
            let mut batch: Vec<usize> = (judged..end).collect();
            batch.sort_by_key(|&i| top[i].1);
            for i in batch {
                let (score, id) = top[i];
                kept.extend(judge(id, score)?.map(|c| (i, c)));
            }
            judged = end;
        }
        if kept.len() >= depth || complete || judged >= cap {
            break;
        }
        n = n.saturating_mul(4).min(cap);
    }
    kept.sort_by_key(|&(i, _)| i);
    let ids = kept.iter().map(|(_, c)| c.id).collect();
    let mut kept = kept.into_iter().map(|(_, c)| c);
    let mut hits = kept
        .by_ref()
        .take(RERANK_DEPTH)
        .map(|c| finish(c, true))
        .collect::<Result<Vec<Hit>>>()?;
    // Front matter lines (a title, tags) come after the body passages of the window, scored no
    // higher than the last of those, so that printed scores still never rise down the list.
    let body_min = hits
        .iter()
        .filter(|h| !h.front_matter)
        .map(|h| h.score)
        .reduce(f32::min);
    for h in hits.iter_mut().filter(|h| h.front_matter) {
        h.score = body_min.map_or(h.score, |m| h.score.min(m));
    }
    hits.sort_by(|a, b| {
        (a.front_matter.cmp(&b.front_matter))
            .then_with(|| b.score.total_cmp(&a.score))
            .then_with(|| by_place(a, b))
    });
    let rest = need.saturating_sub(hits.len());
    for cand in kept.take(rest) {
        hits.push(finish(cand, false)?);
    }
    Ok(TierHits { hits, ids })
}

/// File, then line, then column: the order of equal scores.
fn by_place(a: &Hit, b: &Hit) -> Ordering {
    (&a.source, a.line_start, a.column_start).cmp(&(&b.source, b.line_start, b.column_start))
}

/// The passage as the ranking sees it.
pub(super) fn passage(p: &StoredPassage) -> rank::Passage<'_> {
    rank::Passage::new(&p.text, &p.visible, is_front_matter(p))
}

/// Front matter: paragraph 0 with a visible value (markup lines have none).
fn is_front_matter(p: &StoredPassage) -> bool {
    p.paragraph == 0 && !p.visible.is_empty()
}

/// A stored passage as a hit; its file's metadata is filled in later.
pub(super) fn into_hit(
    p: StoredPassage,
    score: f32,
    match_kind: MatchKind,
    found: rank::Findings,
) -> Hit {
    let id = LineSpan::new(&p.source, p.line_start, p.line_end).anchor();
    let front_matter = is_front_matter(&p);
    Hit {
        id,
        source: p.source,
        line_start: p.line_start,
        line_end: p.line_end,
        paragraph: p.paragraph,
        column_start: p.columns.map(|c| c.0),
        column_end: p.columns.map(|c| c.1),
        score,
        match_kind,
        variant: found.variant,
        similarity: None,
        meta: Default::default(),
        text: p.text,
        highlights: found
            .highlights
            .into_iter()
            .map(|r| [r.start, r.end])
            .collect(),
        context_before: Vec::new(),
        context_after: Vec::new(),
        front_matter,
        indexed: None,
    }
}

//! The semantic tier: passages close in meaning to the query, found by their vectors (see
//! [`crate::embed`]), below every full match and interleaved with the partial ones.
//!
//! A semantic hit is a passage that is neither a full nor a partial match (so a passage is
//! listed once, in the same tier whatever the page), within the query's filters and without
//! its exclusions, whose vector is of its current text, and at least [`MIN_SIMILARITY`] from
//! the query. Its highlights are the characters it shares with the query. The candidates are
//! one list per query (the passages of the [`crate::embed::ann::CANDIDATES`] texts nearest
//! it, in order of similarity, ties by row), filtered: a page is a slice of it.

use std::collections::HashSet;
use std::ops::Range;
use std::sync::Arc;

use anyhow::Result;

use crate::embed::Semantic;
use crate::model::{Hit, MatchKind};
use crate::search::backend::{Backend, PassagePlace, StoredPassage};
use crate::search::plan::Plan;
use crate::search::{fuzzy, rank, tier};
use crate::text::analysis::normalize;

/// A semantic hit's score: [`SCORE_PER_SIMILARITY`] per unit of similarity above this, on
/// the scale of a partial match's (see [`closeness`]).
pub const SCORE_BASE: f32 = 0.80;

/// See [`SCORE_BASE`]: 0.01 of similarity weighs 20, about what a partial match's BM25 score
/// spans (chosen with the eval sets: README "Meaning search").
pub const SCORE_PER_SIMILARITY: f32 = 2000.0;

/// A similarity on the scale of the partial tier's scores.
fn score_of(similarity: f32) -> f32 {
    (similarity - SCORE_BASE).max(0.0) * SCORE_PER_SIMILARITY
}

/// What closeness in meaning adds to a reranked partial match's score: that of a semantic
/// hit as close, so that the two interleave by one measure.
pub(super) fn closeness(near: Option<(&Semantic, &[f32])>, stored: &StoredPassage) -> f32 {
    let Some((semantic, vector)) = near else {
        return 0.0;
    };
    let visible: String = stored.visible.iter().map(|p| p.text.as_str()).collect();
    semantic.similarity(vector, &visible).map_or(0.0, score_of)
}

/// Below this cosine similarity a passage is not listed: e5 models put unrelated text of one
/// language at about 0.7.
pub const MIN_SIMILARITY: f32 = 0.80;

/// The embedded passages and a query's vector, or why they cannot be had (`None`: the index
/// has no embedder).
pub type Near = Result<Option<(Arc<Semantic>, Vec<f32>)>, String>;

/// What the semantic tier needs of a search: the embedded passages and the vector of a query
/// text, asked for only when the tier is reached.
pub struct Meaning<'a> {
    /// The embedded passages and the vector of a query text.
    pub load: &'a (dyn Fn(&str) -> Near + Sync),
}

/// The text whose meaning is searched: the query's terms (not its exclusions or filters).
pub fn query_text(plan: &Plan) -> String {
    let terms: Vec<&str> = plan.terms().map(|t| t.raw.as_str()).collect();
    terms.join(" ")
}

/// The first `need` semantic hits of the query's one list: the rows nearest its vector
/// ([`Semantic::nearest`]: a fixed number of candidates, in order of similarity, ties by
/// row), at least [`MIN_SIMILARITY`] close, that belong to the tier.
pub(super) fn hits<B: Backend>(
    backend: &B,
    plan: &Plan,
    semantic: &Semantic,
    vector: &[f32],
    need: usize,
    relaxed: &fuzzy::Relaxed,
) -> Result<Vec<Hit>> {
    let shared = query_chars(plan);
    let near: Vec<(f32, usize)> = semantic
        .nearest(vector)
        .into_iter()
        .take_while(|(s, _)| *s >= MIN_SIMILARITY)
        .collect();
    let mut out = Vec::new();
    // Located a part at a time: a short page does not locate every candidate.
    for part in near.chunks(need + 16) {
        if out.len() >= need {
            break;
        }
        let places: Vec<PassagePlace> = part
            .iter()
            .map(|&(_, row)| {
                let p = &semantic.places[row];
                (p.source.clone(), p.line, p.column)
            })
            .collect();
        for (&(sim, row), id) in part.iter().zip(backend.locate(plan, &places)?) {
            let Some(id) = id else { continue };
            if out.len() >= need {
                break;
            }
            let stored = backend.passage(id)?;
            if belongs(backend, plan, semantic, row, id, &stored, relaxed) {
                out.push(hit(stored, sim, &shared));
            }
        }
    }
    Ok(out)
}

/// Whether a located passage is a semantic hit: its vector is of its text, and it is neither
/// excluded nor a full or partial match.
fn belongs<B: Backend>(
    backend: &B,
    plan: &Plan,
    semantic: &Semantic,
    row: usize,
    id: u64,
    stored: &StoredPassage,
    relaxed: &fuzzy::Relaxed,
) -> bool {
    let visible: String = stored.visible.iter().map(|p| p.text.as_str()).collect();
    if !semantic.holds(row, &visible) {
        return false;
    }
    let passage = tier::passage(stored);
    let is_word = |w: &str| backend.has_word(id, w);
    !rank::excluded(plan, &passage)
        && !rank::matches_all(plan, &passage, &is_word)
        && !relaxed.enough(&relaxed.measure(&stored.visible))
}

fn hit(stored: StoredPassage, similarity: f32, shared: &HashSet<char>) -> Hit {
    let found = rank::Findings {
        highlights: shared_highlights(&stored, shared),
        variant: None,
        boost: 0.0,
    };
    let mut hit = tier::into_hit(stored, score_of(similarity), MatchKind::Semantic, found);
    hit.similarity = Some(similarity);
    hit
}

/// The letters, digits and CJK characters of the query, folded, but the most common.
fn query_chars(plan: &Plan) -> HashSet<char> {
    // The term as typed, not its regional variants: those are not the query's characters.
    plan.terms()
        .flat_map(|t| t.norm().chars())
        .filter(|c| c.is_alphanumeric() && !fuzzy::is_stop_word(&c.to_string()))
        .collect()
}

/// Byte ranges of the passage's visible characters that, each folded alone, are in `shared`
/// (folded one by one, not as phrases: a highlight never spans a character the query lacks).
fn shared_highlights(stored: &StoredPassage, shared: &HashSet<char>) -> Vec<Range<usize>> {
    let mut out: Vec<Range<usize>> = Vec::new();
    for piece in stored.visible.iter().filter(|p| p.verbatim) {
        for (at, c) in piece.text.char_indices() {
            let folded = normalize(c.encode_utf8(&mut [0; 4]));
            if folded.is_empty() || !folded.chars().all(|f| shared.contains(&f)) {
                continue;
            }
            let r = piece.orig.start + at..piece.orig.start + at + c.len_utf8();
            match out.last_mut() {
                Some(last) if last.end == r.start => last.end = r.end,
                _ => out.push(r),
            }
        }
    }
    out
}

/// Partial and semantic hits in one order: by score (a partial match's, with its closeness
/// in meaning, against a semantic hit's similarity on the same scale), a partial one first on
/// a tie. Each list keeps its order, and which comes next depends only on the two heads, so a
/// longer page starts with a shorter one.
pub(super) fn interleave(partial: Vec<Hit>, semantic: Vec<Hit>, want: usize) -> Vec<Hit> {
    let mut out = Vec::with_capacity(want);
    let mut p = partial.into_iter().peekable();
    let mut s = semantic.into_iter().peekable();
    while out.len() < want {
        let next = match (p.peek(), s.peek()) {
            (Some(a), Some(b)) if b.score > a.score => s.next(),
            (Some(_), _) => p.next(),
            (None, _) => s.next(),
        };
        match next {
            Some(h) => out.push(h),
            None => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(kind: MatchKind, score: f32) -> Hit {
        let mut h = Hit::sample("文", vec![]);
        h.match_kind = kind;
        h.score = score;
        h
    }

    #[test]
    fn partial_and_semantic_hits_interleave_by_score_and_pages_are_prefixes() {
        let partial = vec![h(MatchKind::Partial, 150.0), h(MatchKind::Partial, 20.0)];
        let semantic = vec![h(MatchKind::Semantic, 90.0), h(MatchKind::Semantic, 20.0)];
        let scores = |v: Vec<Hit>| {
            v.iter()
                .map(|h| (h.match_kind, h.score))
                .collect::<Vec<_>>()
        };
        let all = scores(interleave(partial.clone(), semantic.clone(), 10));
        assert_eq!(
            all,
            [
                (MatchKind::Partial, 150.0),
                (MatchKind::Semantic, 90.0),
                (MatchKind::Partial, 20.0),
                (MatchKind::Semantic, 20.0)
            ]
        );
        for n in 0..4 {
            assert_eq!(
                scores(interleave(partial.clone(), semantic.clone(), n)),
                all[..n]
            );
        }
        assert!((score_of(0.9) - 0.1 * SCORE_PER_SIMILARITY).abs() < 0.01);
        assert_eq!(score_of(0.5), 0.0);
    }
}

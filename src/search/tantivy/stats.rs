//! BM25 statistics of the live entries, the fixed reference length, and how far Tantivy's
//! block-max estimates may fall below a block's true best score.

use std::collections::HashMap;
use std::sync::Mutex;

use tantivy::Term;
use tantivy::query::Bm25StatisticsProvider;
use tantivy::schema::Field;

use super::live::{self, Deleted};

/// BM25's reference passage length, in index tokens (characters and words): about the
/// average of the bundled corpus (77). A fixed length, rather than the index's average, keeps
/// scores independent of entries deleted but not yet merged away (see [`AliveStats`]). On a
/// 20-file slice of the poetry corpus (14.5 tokens a passage) the eval kit's poetry sets
/// score the same with the index's own average: 1 of 103 queries ranks differently.
pub(super) const REFERENCE_TOKENS: u64 = 77;
/// How far below a block's true best score Tantivy's estimate may be in `reader`, as a
/// factor. Tantivy keeps each block's best (length, frequency) pair as BM25 ranked them with
/// the segment's own average length when it was written; scored with another average (the
/// fixed [`REFERENCE_TOKENS`]), another pair of the block may score higher, and block-max WAND
/// skipped it: which passages were found then depended on how the index was cut into
/// segments (two builds of the same files listed different top-100s for `月`). Tantivy is
/// given the threshold divided by this factor; the exact threshold is applied here. See
/// [`slack`] for the bound.
pub(super) fn block_max_slack(reader: &tantivy::SegmentReader, field: Field) -> f32 {
    let tokens = reader
        .inverted_index(field)
        .map_or(0, |ii| ii.total_num_tokens());
    let written = tokens as f32 / reader.max_doc().max(1) as f32;
    if written.is_nan() || written <= 0.0 {
        return 1.0;
    }
    // A hair more, for the rounding of the scores compared.
    slack(written / REFERENCE_TOKENS as f32) * (1.0 + 1e-4)
}

/// BM25's k1 and b, as Tantivy scores.
pub(super) const K1: f32 = 1.2;
pub(super) const B: f32 = 0.75;

/// The bound of [`block_max_slack`] for a segment written with an average length `r` times
/// the one scored with. BM25's frequency factor is f = t / (t + c), c = k1 (1 − b + b·n/avg)
/// for a passage of length n holding the term t times. Let m be the writer's f of its best
/// pair (t*, n*): every pair of the block has f_w ≤ m, i.e. c_w ≥ t (1 − m) / m.
/// - r ≤ 1 (passages shorter than the reference, as in poetry): c_q = k1 (1 − b)(1 − r) +
///   r·c_w, so f_q ≤ 1 / (1 + r (1 − m) / m) = t* / (t* + r·c_w*); Tantivy's estimate is
///   f_q(t*, n*) = t* / (t* + c_q*), and their ratio, 1 + k1 (1 − b)(1 − r) / (t* + r·c_w*),
///   is largest at t* = 1, n* = 0: at most 1 + k1 (1 − b)(1 − r) / (1 + r·k1 (1 − b)) (1.23
///   on poetry, where r ≈ 0.19).
/// - r > 1: c_q ≥ c_w / r, so f_q ≤ m / (m + (1 − m) / r) ≤ r·m, and m ≤ r times the best
///   pair's own f_q: at most r.
///
/// A sum of terms keeps the bound (each term's estimate is within it).
fn slack(r: f32) -> f32 {
    if r <= 1.0 {
        let k = K1 * (1.0 - B);
        1.0 + k * (1.0 - r) / (1.0 + r * k)
    } else {
        r
    }
}

/// BM25 statistics of the passages in the index now. Tantivy's own count entries deleted
/// but not yet merged away, so an index brought up to date by updates would rank otherwise
/// than a fresh build of the same files. Document frequencies are counted over the live
/// entries of segments with deletions (exact; other segments cost a lookup as before), and
/// the reference length is fixed ([`REFERENCE_TOKENS`]).
pub(super) struct AliveStats<'a> {
    pub(super) searcher: &'a tantivy::Searcher,
    /// Live entries.
    pub(super) docs: u64,
    /// Document frequencies already counted at this commit (see [`LiveFreqs`]).
    pub(super) known: Option<&'a LiveFreqs>,
}

/// Live document frequencies counted at one commit: counting a common character's live
/// entries walks its postings in every segment with deletions, and a search asks for each of
/// its terms twice (to segment the query, then to score it).
#[derive(Default)]
pub(super) struct LiveFreqs(Mutex<HashMap<Term, u64>>, Deleted);

/// Terms whose frequency is kept at most (a server meets new terms for as long as it runs).
const KEPT_FREQS: usize = 100_000;

impl<'a> AliveStats<'a> {
    pub(super) fn new(searcher: &'a tantivy::Searcher) -> AliveStats<'a> {
        let docs = searcher
            .segment_readers()
            .iter()
            .map(|r| u64::from(r.num_docs()))
            .sum();
        AliveStats {
            searcher,
            docs,
            known: None,
        }
    }

    /// Tokens of the index, as BM25 and the query segmentation see them.
    pub(super) fn total_tokens(&self) -> u64 {
        self.docs.max(1) * REFERENCE_TOKENS
    }

    /// Live entries holding `term` (0 when it cannot be read).
    pub(super) fn count(&self, term: &Term) -> u64 {
        self.doc_freq(term).unwrap_or(0)
    }
}

impl Bm25StatisticsProvider for AliveStats<'_> {
    fn total_num_tokens(&self, _field: Field) -> tantivy::Result<u64> {
        Ok(self.total_tokens())
    }

    fn total_num_docs(&self) -> tantivy::Result<u64> {
        Ok(self.docs.max(1))
    }

    fn doc_freq(&self, term: &Term) -> tantivy::Result<u64> {
        let kept = |k: &LiveFreqs| k.0.lock().ok().and_then(|m| m.get(term).copied());
        if let Some(n) = self.known.and_then(kept) {
            return Ok(n);
        }
        let total = self.count_live(term)?;
        if let Some(Ok(mut m)) = self.known.map(|k| k.0.lock()) {
            if m.len() >= KEPT_FREQS {
                m.clear();
            }
            m.insert(term.clone(), total);
        }
        Ok(total)
    }
}

impl AliveStats<'_> {
    /// Live entries holding `term`, counted.
    fn count_live(&self, term: &Term) -> tantivy::Result<u64> {
        let deleted = self.known.map(|k| &k.1);
        let mut total = 0u64;
        for reader in self.searcher.segment_readers() {
            total += u64::from(live::count(reader, term, deleted)?);
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::{B, K1, slack};

    /// BM25's frequency factor with average length `avg`.
    fn f(t: f32, n: f32, avg: f32) -> f32 {
        t / (t + K1 * (1.0 - B + B * n / avg))
    }

    /// Blocks of (frequency, length) pairs: the writer keeps the pair it ranks best with its
    /// average; scored with the reference average, no pair of the block may beat that pair's
    /// score times the slack.
    #[test]
    fn the_slack_bounds_every_pair_of_a_block() {
        let reference = 77.0;
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |below: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % below
        };
        let mut tightest = 0.0f32;
        for written in [3.0, 8.0, 14.5, 40.0, 76.0, 77.0, 90.0, 200.0, 1000.0] {
            let bound = slack(written / reference);
            for _ in 0..3000 {
                // Short and long passages, rare and very frequent terms: the bound is reached
                // with the kept pair (1, 0) and another of high frequency.
                let len = 1 + next(8);
                let mut pair = || {
                    let t = 1 + if next(2) == 0 { next(3) } else { next(5000) };
                    let n = if next(2) == 0 { next(3) } else { next(5000) };
                    (t as f32, n as f32)
                };
                let pairs: Vec<(f32, f32)> = (0..len).map(|_| pair()).collect();
                let kept = pairs
                    .iter()
                    .max_by(|a, b| f(a.0, a.1, written).total_cmp(&f(b.0, b.1, written)))
                    .unwrap();
                let estimate = f(kept.0, kept.1, reference);
                let best = pairs
                    .iter()
                    .map(|p| f(p.0, p.1, reference))
                    .fold(0.0, f32::max);
                assert!(
                    best <= estimate * bound * (1.0 + 1e-5),
                    "written average {written}: {pairs:?} best {best}, estimate {estimate}, slack {bound}"
                );
                tightest = tightest.max(best / estimate / bound);
            }
        }
        // The bound is reached closely somewhere (a loose one would prune little).
        assert!(tightest > 0.9, "{tightest}");
    }
}

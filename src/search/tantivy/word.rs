//! One word's BM25 with block bounds that need no slack.
//!
//! Tantivy keeps each postings block's best (length, frequency) pair as BM25 ranked them with
//! the segment's own average length; zhsearch scores with [`super::stats::REFERENCE_TOKENS`],
//! under which another passage of the block may score higher, so [`super::top`] lowers the
//! threshold it gives Tantivy by [`super::stats::block_max_slack`] (1.23 on poetry). For one
//! word nearly every block then looked worth scoring: on poetry, where a word is in a passage
//! once, every block's best is within that factor of the threshold. Here a block is loaded
//! (its documents and frequencies decoded, no length read) and bounded with its own highest
//! frequency, which makes the bound exact when that is the frequency of the kept pair (see
//! [`Bound::best`]); only blocks that may beat the threshold are scored.

use tantivy::fieldnorm::FieldNormReader;
use tantivy::query::{Bm25Weight, EnableScoring, Explanation, Scorer};
use tantivy::query::{Query, TermQuery, Weight};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocId, Score, SegmentReader, Term};

use super::stats::{B, K1};

/// A word's BM25 over the field of its term, as [`TermQuery`] scores it (the same weight, the
/// same scores), with the pruning of this module.
#[derive(Clone, Debug)]
pub(super) struct WordQuery(pub(super) Term);

impl Query for WordQuery {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        let term = TermQuery::new(self.0.clone(), IndexRecordOption::WithFreqs);
        let bm25 = match scoring {
            EnableScoring::Enabled {
                statistics_provider: stats,
                ..
            } => {
                // As `Bm25Weight::for_terms` takes it.
                let tokens = stats.total_num_tokens(self.0.field())?;
                let average = tokens as Score / stats.total_num_docs()? as Score;
                Some((
                    Bm25Weight::for_terms(stats, std::slice::from_ref(&self.0))?,
                    average,
                ))
            }
            EnableScoring::Disabled { .. } => None,
        };
        Ok(Box::new(WordWeight {
            term: self.0.clone(),
            bm25,
            inner: term.weight(scoring)?,
        }))
    }
}

struct WordWeight {
    term: Term,
    /// The weight Tantivy's `TermWeight` scores with and its average length; none without
    /// scoring.
    bm25: Option<(Bm25Weight, f32)>,
    /// That `TermWeight`, for everything but pruning.
    inner: Box<dyn Weight>,
}

impl Weight for WordWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        self.inner.scorer(reader, boost)
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        self.inner.explain(reader, doc)
    }

    fn count(&self, reader: &SegmentReader) -> tantivy::Result<u32> {
        self.inner.count(reader)
    }

    fn for_each_pruning(
        &self,
        mut threshold: Score,
        reader: &SegmentReader,
        callback: &mut dyn FnMut(DocId, Score) -> Score,
    ) -> tantivy::Result<()> {
        let Some((bm25, average)) = &self.bm25 else {
            return self.inner.for_each_pruning(threshold, reader, callback);
        };
        let field = self.term.field();
        let index = reader.inverted_index(field)?;
        let Some(info) = index.get_term_info(&self.term)? else {
            return Ok(());
        };
        let mut block =
            index.read_block_postings_from_terminfo(&info, IndexRecordOption::WithFreqs)?;
        let norms: FieldNormReader = reader.get_fieldnorms_reader(field)?;
        let written = index.total_num_tokens() as f32 / reader.max_doc().max(1) as f32;
        let bound = Bound::new(bm25, *average, written);
        while block.block_len() > 0 {
            let kept = block.block_max_score(&norms, &bound.written);
            let most = block.freqs().iter().copied().max().unwrap_or(1);
            if bound.best(kept, most) > threshold {
                for (&doc, &tf) in block.docs().iter().zip(block.freqs()) {
                    let score = bm25.score(norms.fieldnorm_id(doc), tf);
                    if score > threshold {
                        threshold = callback(doc, score);
                    }
                }
            }
            block.advance();
        }
        Ok(())
    }
}

/// The best score a block can hold, from its kept pair and its highest frequency.
struct Bound {
    /// BM25 with the segment's average length at writing and a known factor: the kept pair's
    /// frequency factor m is its score over [`Bound::unit`].
    written: Bm25Weight,
    unit: f32,
    /// The factor of the weight scored with (its score over its frequency factor).
    scored: f32,
    /// The segment's average over the one scored with; `None` when it cannot be told.
    r: Option<f32>,
}

impl Bound {
    fn new(scored: &Bm25Weight, scored_average: f32, written_average: f32) -> Bound {
        let written = Bm25Weight::for_one_term(1, 3, written_average.max(f32::MIN_POSITIVE));
        // A passage of length 0 (fieldnorm id 0) holding the word once: 1 / (1 + k1 (1 - b)).
        let zero = 1.0 / (1.0 + K1 * (1.0 - B));
        let usable = |a: f32| a.is_finite() && a > 0.0;
        let r = (usable(written_average) && usable(scored_average))
            .then(|| written_average / scored_average);
        Bound {
            unit: written.score(0, 1) / zero,
            written,
            scored: scored.score(0, 1) / zero,
            r,
        }
    }

    /// An upper bound of every score of a block whose kept pair scores `kept` under
    /// [`Bound::written`] and whose highest frequency is `most`.
    ///
    /// BM25's frequency factor is f = t / (t + c), c = k1 (1 - b + b n / avg) for a passage of
    /// n tokens holding the word t times. Every passage of the block has f_w <= m (the kept
    /// pair is the block's best as written), so c_w >= t (1 - m) / m. With r = avg_w / avg_q,
    /// c_q = k1 (1 - b)(1 - r) + r c_w >= A + r t (1 - m) / m = A + B t, and c_q >= k1 (1 - b)
    /// anyway; so f_q <= t / (t + A + B t) and f_q <= t / (t + k1 (1 - b)) for each t <= most.
    /// The first is monotonic in t (increasing when A >= 0, i.e. r <= 1), the second
    /// increasing. When `most` is the kept pair's own frequency t* and r <= 1, the first is
    /// the kept pair's own score as scored: the bound is exact.
    fn best(&self, kept: f32, most: u32) -> f32 {
        let Some(r) = self.r else {
            return f32::INFINITY;
        };
        let m = kept / self.unit;
        let most = most.max(1) as f32;
        let floor = K1 * (1.0 - B);
        let mut f = most / (most + floor);
        if m > 0.0 && m < 1.0 {
            let (a, b) = (floor * (1.0 - r), r * (1.0 - m) / m);
            let at = |t: f32| {
                let d = t + a + b * t;
                if d > 0.0 { t / d } else { 1.0 }
            };
            f = f.min(if a >= 0.0 { at(most) } else { at(1.0) });
        } else if m <= 0.0 {
            return 0.0;
        }
        // A hair more, for the rounding of the factors recovered above.
        self.scored * f * (1.0 + 1e-4)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// For blocks of random (length, frequency) pairs, segments written with averages below
    /// and above the one scored with: the bound is never below a pair's score, and is that
    /// of the kept pair when every frequency is the kept pair's and the segment's average is
    /// at most the scored one.
    #[test]
    fn the_bound_holds_every_pair_and_is_exact_when_frequencies_agree() {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut below = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let scored_average = 77.0;
        let scored = Bm25Weight::for_one_term(40, 10_000, scored_average);
        let mut exact = 0;
        for round in 0..20_000 {
            let written_average = [3.0, 14.5, 40.0, 77.0, 150.0, 900.0][round % 6];
            let bound = Bound::new(&scored, scored_average, written_average);
            let ones = round % 3 == 0;
            let pairs: Vec<(u8, u32)> = (0..1 + below(128))
                .map(|_| {
                    let tf = if ones { 1 } else { 1 + below(6) as u32 };
                    (below(256) as u8, tf)
                })
                .collect();
            // The pair Tantivy keeps: the block's best as written.
            let kept = pairs
                .iter()
                .map(|&(n, t)| bound.written.score(n, t))
                .fold(f32::MIN, f32::max);
            let kept_pair = pairs
                .iter()
                .find(|&&(n, t)| bound.written.score(n, t) == kept)
                .unwrap();
            let most = pairs.iter().map(|p| p.1).max().unwrap();
            let best = pairs
                .iter()
                .map(|&(n, t)| scored.score(n, t))
                .fold(f32::MIN, f32::max);
            let b = bound.best(kept, most);
            assert!(b >= best, "{pairs:?} at {written_average}: {b} < {best}");
            if ones && written_average <= scored_average {
                let own = scored.score(kept_pair.0, kept_pair.1);
                assert!(b <= own * 1.001, "{b} for {own}");
                exact += 1;
            }
        }
        assert!(exact > 1000);
    }
}

//! Tantivy's best candidates in an order that does not depend on how the index was written,
//! and the BM25 statistics of the live entries.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};
use std::sync::Mutex;

use anyhow::Result;
use tantivy::columnar::{Column, ColumnType};
use tantivy::query::{Bm25StatisticsProvider, EnableScoring, Query as TQuery};
use tantivy::schema::Field;
use tantivy::{DocAddress, Term};

use super::columns::{Strings, U64Column};
use super::live::{self, Deleted};
use crate::search::backend::CandidateId;
use crate::store::index::Fields;

/// BM25's reference passage length, in index tokens (characters and words): about the
/// average of the bundled corpus (77). A fixed length, rather than the index's average, keeps
/// scores independent of entries deleted but not yet merged away (see [`AliveStats`]). On a
/// 20-file slice of the poetry corpus (14.5 tokens a passage) the eval kit's poetry sets
/// score the same with the index's own average: 1 of 103 queries ranks differently.
const REFERENCE_TOKENS: u64 = 77;

/// Tantivy's candidates in the order of [`top_ordered`], and whether they are all the query
/// matches.
pub(super) type Candidates = (Vec<(f32, CandidateId)>, bool);

/// A score ordered totally, for the heap of [`top_ordered`].
#[derive(PartialEq)]
struct Score(f32);
impl Eq for Score {}
impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Score {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// A candidate's place in its segment: the order of equal scores, read from fast fields.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Place {
    /// The file's ordinal in the segment's dictionary of sources (the order of their names).
    pub(super) source: u64,
    pub(super) line: u64,
    pub(super) column: Option<u64>,
    doc: u32,
}

/// A candidate of one segment, ordered best first: score, then place.
struct Entry {
    score: f32,
    place: Place,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .score
            .total_cmp(&self.score)
            .then_with(|| self.place.cmp(&other.place))
    }
}

/// The fast fields that place a passage in its segment (see [`columns`] for why they are not
/// opened by Tantivy).
#[derive(Clone)]
pub(super) struct Places {
    source: Option<Strings>,
    line: U64Column,
    column: U64Column,
}

impl Places {
    fn new(reader: &tantivy::SegmentReader, f: &Fields) -> Result<Places> {
        let ff = reader.fast_fields();
        let schema = reader.schema();
        let u64_column = |field| -> Result<U64Column> {
            Ok(
                match ff.dynamic_column_handle(schema.get_field_name(field), ColumnType::U64)? {
                    Some(h) => U64Column::open(&h)?,
                    None => U64Column::Tantivy(Column::build_empty_column(reader.max_doc())),
                },
            )
        };
        let source = ff.dynamic_column_handle(schema.get_field_name(f.source), ColumnType::Str)?;
        Ok(Places {
            source: source.map(|h| Strings::open(&h)).transpose()?,
            line: u64_column(f.line_start)?,
            column: u64_column(f.column_start)?,
        })
    }

    pub(super) fn of(&mut self, doc: u32) -> Place {
        Place {
            source: self
                .source
                .as_mut()
                .and_then(|s| s.ords.first(doc))
                .unwrap_or(0),
            line: self.line.first(doc).unwrap_or(0),
            column: self.column.first(doc),
            doc,
        }
    }

    /// The names of the ordinals `sorted` (ascending, distinct), in one pass over the
    /// dictionary: looked up one by one, each decoded its dictionary block from the start
    /// (a search for `"床前明月光"` on the ×10 index named 613 files for 20 M instructions).
    /// An ordinal past the dictionary's end (a damaged index) gets an empty name, as in
    /// [`Places::name`].
    pub(super) fn names(&self, sorted: &[u64]) -> Result<Vec<String>> {
        let mut out = Vec::with_capacity(sorted.len());
        if let Some(s) = &self.source {
            s.dictionary.sorted_ords_to_term_cb(sorted, |b| {
                out.push(String::from_utf8_lossy(b).into_owned());
            })?;
        }
        out.resize(sorted.len(), String::new());
        Ok(out)
    }

    pub(super) fn name(&self, ord: u64) -> Result<String> {
        let mut bytes = Vec::new();
        if let Some(s) = &self.source
            && !s.dictionary.ord_to_term(ord, &mut bytes)?
        {
            bytes.clear();
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// Each segment's [`Places`], opened once per searcher: a long-lived process keeps the block
/// headers read (see [`columns`](super::columns)).
pub(super) struct PlaceCache {
    pub(super) fields: Fields,
    pub(super) open: Mutex<HashMap<tantivy::index::SegmentId, Places>>,
}

impl PlaceCache {
    pub(super) fn of(&self, reader: &tantivy::SegmentReader) -> Result<Places> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = open.get(&reader.segment_id()) {
            return Ok(p.clone());
        }
        let p = Places::new(reader, &self.fields)?;
        open.insert(reader.segment_id(), p.clone());
        Ok(p)
    }
}

/// A segment's [`Places`], opened at its first candidate: a segment with none (most of them,
/// for a rare phrase) never decodes the columns' block headers.
struct SegmentPlaces<'a> {
    cache: &'a PlaceCache,
    reader: &'a tantivy::SegmentReader,
    open: Option<Places>,
    failed: Option<anyhow::Error>,
}

impl SegmentPlaces<'_> {
    /// The place of `doc`; `None` when the columns cannot be opened (the error is kept).
    fn of(&mut self, doc: u32) -> Option<Place> {
        if self.open.is_none() && self.failed.is_none() {
            match self.cache.of(self.reader) {
                Ok(p) => self.open = Some(p),
                Err(e) => self.failed = Some(e),
            }
        }
        self.open.as_mut().map(|p| p.of(doc))
    }
}

/// The kept entries of segment `segment` with their file names: only the kept ordinals are
/// turned into names, in one pass over the dictionary (see [`Places::names`]).
fn named(
    kept: Vec<Entry>,
    places: &Places,
    segment: u32,
    out: &mut Vec<(f32, DocAddress, String, Place)>,
) -> Result<()> {
    let mut ords: Vec<u64> = kept.iter().map(|e| e.place.source).collect();
    ords.sort_unstable();
    ords.dedup();
    let names = places.names(&ords)?;
    for e in kept {
        let name = ords
            .binary_search(&e.place.source)
            .ok()
            .and_then(|i| names.get(i).cloned())
            .unwrap_or_default();
        out.push((
            e.score,
            DocAddress::new(segment, e.place.doc),
            name,
            e.place,
        ));
    }
    Ok(())
}

/// The `n` best passages for `query` (all of them if fewer) in one total order: score (plus
/// `bonus`) descending, then file, line and column, read from fast fields; the flag says
/// whether these are all the passages it matches. Unlike Tantivy's `TopDocs`, which breaks
/// ties by the passage's place in the segments, the list does not depend on how the index
/// was written, and a longer list starts with a shorter one. Uses Tantivy's pruning
/// (block-max WAND); no stored document is read.
pub(super) fn top_ordered(
    searcher: &tantivy::Searcher,
    places: &PlaceCache,
    stats: &AliveStats,
    query: &dyn TQuery,
    n: usize,
    bonus: f32,
) -> Result<Candidates> {
    if n == 0 {
        return Ok((Vec::new(), false));
    }
    let weight = query.weight(EnableScoring::enabled_from_statistics_provider(
        stats, searcher,
    ))?;
    // The `n` best scores so far, over all segments.
    let mut scores: BinaryHeap<Reverse<Score>> = BinaryHeap::with_capacity(n.min(4096) + 1);
    // Below this (Tantivy's score), a passage cannot be among the best `n` or tied with the
    // `n`-th; with a bonus, a margin for the rounding of the sum.
    let floor = |scores: &BinaryHeap<Reverse<Score>>| match scores.peek() {
        Some(Reverse(Score(s))) if scores.len() >= n => {
            if bonus == 0.0 {
                s.next_down()
            } else {
                (s - bonus).next_down() - s.abs() * f32::EPSILON * 4.0
            }
        }
        _ => f32::NEG_INFINITY,
    };
    let mut best: Vec<(f32, DocAddress, String, Place)> = Vec::new();
    for (ord, reader) in searcher.segment_readers().iter().enumerate() {
        let mut places_of = SegmentPlaces {
            cache: places,
            reader,
            open: None,
            failed: None,
        };
        let alive = reader.alive_bitset();
        let slack = block_max_slack(reader, places.fields.chars);
        let lowered = |f: f32| if f > 0.0 { f / slack } else { f };
        // This segment's best `n`, the worst on top.
        let mut heap: BinaryHeap<Entry> = BinaryHeap::with_capacity(n.min(4096) + 1);
        let start = floor(&scores);
        let mut callback = |doc, score: f32| {
            let exact = floor(&scores);
            if score <= exact || alive.is_some_and(|a| a.is_deleted(doc)) {
                return lowered(exact);
            }
            // Nothing more from a segment whose columns cannot be read: the error is returned.
            let Some(place) = places_of.of(doc) else {
                return f32::INFINITY;
            };
            let entry = Entry {
                score: score + bonus,
                place,
            };
            scores.push(Reverse(Score(entry.score)));
            if scores.len() > n {
                scores.pop();
            }
            keep(&mut heap, entry, n);
            lowered(floor(&scores))
        };
        weight.for_each_pruning(lowered(start), reader, &mut callback)?;
        if let Some(e) = places_of.failed {
            return Err(e);
        }
        if let Some(open) = &places_of.open {
            named(heap.into_vec(), open, ord as u32, &mut best)?;
        }
    }
    let complete = scores.len() < n;
    Ok((in_order(best, n), complete))
}

/// Keeps `entry` among a segment's best `n` (`heap`, the worst on top).
fn keep(heap: &mut BinaryHeap<Entry>, entry: Entry, n: usize) {
    if heap.len() < n {
        heap.push(entry);
    } else if let Some(mut worst) = heap.peek_mut()
        && entry < *worst
    {
        *worst = entry;
    }
}

/// The best `n` of the segments' kept entries in the total order: score descending, then
/// file, line and column.
fn in_order(mut best: Vec<(f32, DocAddress, String, Place)>, n: usize) -> Vec<(f32, CandidateId)> {
    best.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then_with(|| (&a.2, a.3.line, a.3.column).cmp(&(&b.2, b.3.line, b.3.column)))
            .then_with(|| a.1.cmp(&b.1))
    });
    best.truncate(n);
    best.into_iter().map(|(s, a, _, _)| (s, id(a))).collect()
}

/// How far below a block's true best score Tantivy's estimate may be in `reader`, as a
/// factor. Tantivy keeps each block's best (length, frequency) pair as BM25 ranked them with
/// the segment's own average length when it was written; scored with another average (the
/// fixed [`REFERENCE_TOKENS`]), another pair of the block may score higher, and block-max WAND
/// skipped it: which passages were found then depended on how the index was cut into
/// segments (two builds of the same files listed different top-100s for `月`). Tantivy is
/// given the threshold divided by this factor; the exact threshold is applied here. See
/// [`slack`] for the bound.
fn block_max_slack(reader: &tantivy::SegmentReader, field: Field) -> f32 {
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
const K1: f32 = 1.2;
const B: f32 = 0.75;

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

/// A passage's address as the backend's opaque id: segment, then document, so that ids sort
/// in the order the store is best read in.
pub(super) fn id(a: DocAddress) -> CandidateId {
    (u64::from(a.segment_ord) << 32) | u64::from(a.doc_id)
}

/// The address an [`id`] stands for.
pub(super) fn addr(id: CandidateId) -> DocAddress {
    DocAddress::new((id >> 32) as u32, id as u32)
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

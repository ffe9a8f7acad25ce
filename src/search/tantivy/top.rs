//! Tantivy's best candidates in an order that does not depend on how the index was written.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use tantivy::DocAddress;
use tantivy::query::{EnableScoring, Query as TQuery, Weight};

use super::places::{Place, PlaceCache, Places};
use super::stats::{AliveStats, block_max_slack};
use super::word::WordQuery;
use crate::search::backend::CandidateId;
use crate::threads;

/// Tantivy's candidates in the order of [`top_ordered`], and whether they are all the query
/// matches.
pub(super) type Candidates = (Vec<(f32, CandidateId)>, bool);

/// A score ordered totally, for the heap of [`top_ordered`].
#[derive(Clone, PartialEq)]
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
/// (block-max WAND); no stored document is read. A search still running after `help`'s time
/// (never without) shares the segments left with a second thread.
pub(super) fn top_ordered(
    searcher: &tantivy::Searcher,
    places: &PlaceCache,
    stats: &AliveStats,
    query: &dyn TQuery,
    (n, bonus): (usize, f32),
    help: Option<Help>,
) -> Result<Candidates> {
    if n == 0 {
        return Ok((Vec::new(), false));
    }
    let weight = query.weight(EnableScoring::enabled_from_statistics_provider(
        stats, searcher,
    ))?;
    let weight = &*weight;
    // A word's blocks are bounded exactly (see `word`); Tantivy's other bounds may fall short.
    let exact = query.downcast_ref::<WordQuery>().is_some();
    // Largest first: the segments left when a second thread starts are shared by size.
    let all = searcher.segment_readers().iter().enumerate();
    let mut left: Vec<Segment> = all.map(|(ord, r)| (ord as u32, r)).collect();
    left.sort_by_key(|(ord, r)| (Reverse(r.max_doc()), *ord));
    left.reverse();
    let started = Instant::now();
    let _running = threads::Busy::start();
    let mut mine = Collect::new(n, bonus, exact);
    while let Some(segment) = left.pop() {
        let due = help.is_some_and(|h| started.elapsed() >= h.after && h.core_free());
        if due && !left.is_empty() {
            left.push(segment);
            let (kept, theirs) = shared(std::mem::take(&mut left));
            let mut found = mine.helper();
            let running = threads::Busy::start();
            let helper = move || {
                let _running = running;
                for segment in theirs {
                    found.segment(weight, segment, places)?;
                }
                Ok::<_, anyhow::Error>(found)
            };
            let rest = || {
                kept.into_iter()
                    .rev()
                    .try_for_each(|s| mine.segment(weight, s, places))
            };
            let (theirs, rest) = threads::beside(helper, rest);
            rest?;
            mine.merge(theirs.unwrap_or_else(|_| Err(anyhow!("a search thread panicked")))?);
            break;
        }
        mine.segment(weight, segment, places)?;
    }
    // Fewer than `n` found means that every match was found.
    let complete = mine.found < n;
    Ok((in_order(mine.best, n), complete))
}

/// A segment and its ordinal in the searcher.
type Segment<'a> = (u32, &'a tantivy::SegmentReader);

/// `left` (popped from its end, two segments or more) in two shares of about as many
/// passages: this thread's, in the same order, and the second thread's.
fn shared(left: Vec<Segment<'_>>) -> (Vec<Segment<'_>>, Vec<Segment<'_>>) {
    let (mut kept, mut theirs) = (Vec::new(), Vec::new());
    let (mut kept_size, mut their_size) = (0u64, 0u64);
    // Largest first.
    for segment in left.into_iter().rev() {
        let size = u64::from(segment.1.max_doc());
        if kept_size <= their_size {
            kept_size += size;
            kept.push(segment);
        } else {
            their_size += size;
            theirs.push(segment);
        }
    }
    kept.reverse();
    (kept, theirs)
}

/// When [`top_ordered`] gets a second thread.
#[derive(Clone, Copy, Debug)]
pub(super) struct Help {
    /// After the search has taken this long...
    after: Duration,
    /// ... and only while a core is left over by the threads at work (see
    /// [`threads::Busy`]).
    when_idle: bool,
}

impl Help {
    fn core_free(&self) -> bool {
        !self.when_idle || threads::idle_core()
    }
}

/// When [`top_ordered`] gets a second thread, in a process that searches once (`one_shot`)
/// or again and again, in an index of `passages`. In a long-lived process, from the start
/// when the index is large: the ×10 poetry index's misremembered quotes, in process, p95
/// 62.6 → 37.2 ms (p50 19.9 → 13.3). A process's first search is another matter: both
/// threads would fault in the pages and read the column headers of their segments, and
/// whole-process searches of the 74 MB index (a few ms each) took 1.4 ms longer with a second
/// thread from the start. It is started after 2 ms there, which only long searches reach.
pub(super) fn help_after(one_shot: bool, passages: u64) -> Option<Help> {
    if threads::cores() < 2 {
        return None;
    }
    let after = match one_shot || passages < 1_000_000 {
        true => Duration::from_millis(2),
        false => Duration::ZERO,
    };
    Some(Help {
        after,
        when_idle: true,
    })
}

/// What one thread found in the segments it searched.
struct Collect {
    n: usize,
    bonus: f32,
    /// The `n` best scores so far.
    scores: BinaryHeap<Reverse<Score>>,
    /// Passages found, up to `n` (or more, counted by two threads).
    found: usize,
    /// Each segment's best `n`, named.
    best: Vec<(f32, DocAddress, String, Place)>,
    /// Whether the weight's block bounds are exact (no [`block_max_slack`]).
    exact: bool,
}

impl Collect {
    fn new(n: usize, bonus: f32, exact: bool) -> Collect {
        Collect {
            n,
            bonus,
            scores: BinaryHeap::with_capacity(n.min(4096) + 1),
            found: 0,
            best: Vec::new(),
            exact,
        }
    }

    /// A second thread's: it starts from this thread's floor when there is one. The `n`-th
    /// best score of some segments is never above that of all, so no passage of the overall
    /// best `n` falls below it, and each thread keeps its segments' best `n`: the two lists
    /// hold the same best `n` as one thread's.
    fn helper(&self) -> Collect {
        let mut theirs = Collect::new(self.n, self.bonus, self.exact);
        if self.scores.len() >= self.n {
            theirs.scores = self.scores.clone();
        }
        theirs
    }

    fn merge(&mut self, theirs: Collect) {
        self.found += theirs.found;
        self.best.extend(theirs.best);
    }

    /// Below this (Tantivy's score), a passage cannot be among the best `n` or tied with the
    /// `n`-th; with a bonus, a margin for the rounding of the sum.
    fn floor(scores: &BinaryHeap<Reverse<Score>>, n: usize, bonus: f32) -> f32 {
        match scores.peek() {
            Some(Reverse(Score(s))) if scores.len() >= n => {
                if bonus == 0.0 {
                    s.next_down()
                } else {
                    (s - bonus).next_down() - s.abs() * f32::EPSILON * 4.0
                }
            }
            _ => f32::NEG_INFINITY,
        }
    }

    /// Searches one segment, keeping its best `n`.
    fn segment(
        &mut self,
        weight: &dyn Weight,
        segment: Segment,
        places: &PlaceCache,
    ) -> Result<()> {
        let ((ord, reader), n, bonus) = (segment, self.n, self.bonus);
        let mut places_of = SegmentPlaces {
            cache: places,
            reader,
            open: None,
            failed: None,
        };
        let alive = reader.alive_bitset();
        let slack = match self.exact {
            true => 1.0,
            false => block_max_slack(reader, places.fields.chars),
        };
        let lowered = |f: f32| if f > 0.0 { f / slack } else { f };
        // This segment's best `n`, the worst on top.
        let mut heap: BinaryHeap<Entry> = BinaryHeap::with_capacity(n.min(4096) + 1);
        let (scores, found) = (&mut self.scores, &mut self.found);
        let start = Collect::floor(scores, n, bonus);
        let mut callback = |doc, score: f32| {
            let exact = Collect::floor(scores, n, bonus);
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
            *found = (*found + 1).min(n);
            keep(&mut heap, entry, n);
            lowered(Collect::floor(scores, n, bonus))
        };
        weight.for_each_pruning(lowered(start), reader, &mut callback)?;
        if let Some(e) = places_of.failed {
            return Err(e);
        }
        if let Some(open) = &places_of.open {
            named(heap.into_vec(), open, ord, &mut self.best)?;
        }
        Ok(())
    }
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
    use std::collections::HashMap;
    use std::sync::Mutex;

    use tantivy::indexer::NoMergePolicy;
    use tantivy::query::TermQuery;
    use tantivy::schema::IndexRecordOption;
    use tantivy::{Index, IndexWriter, TantivyDocument, Term};

    use super::*;
    use crate::ingest::corpus::parse_document;
    use crate::store::index::{Fields, passage_doc, register_tokenizers, schema};

    /// Searched on one thread, or with a second one from the first segment on, the list is
    /// the same: for common and rare terms (many equal scores), lists short and long, with
    /// and without a bonus, over segments of different sizes whose files' names interleave.
    #[test]
    fn a_second_thread_finds_the_same_list() {
        let index = Index::create_in_ram(schema());
        register_tokenizers(&index);
        let f = Fields::new(&index.schema()).unwrap();
        let mut w: IndexWriter<TantivyDocument> =
            index.writer_with_num_threads(1, 15_000_000).unwrap();
        w.set_merge_policy(Box::new(NoMergePolicy));
        let lines = ["明月山", "山", "明月", "月山月", "山山明", "明", "風月"];
        let mut k = 0;
        for segment in 0..5 {
            for file in 0..2 + segment {
                let mut text = String::new();
                for _ in 0..40 {
                    k += 3;
                    text += &format!("{}\n\n", lines[k % lines.len()]);
                }
                let doc = parse_document(&format!("{file}-{segment}.txt"), &text);
                for p in &doc.passages {
                    w.add_document(passage_doc(&f, &doc.source, p)).unwrap();
                }
            }
            w.commit().unwrap();
        }
        let searcher = index.reader().unwrap().searcher();
        assert_eq!(searcher.segment_readers().len(), 5);
        let places = PlaceCache {
            fields: f,
            open: Mutex::new(HashMap::new()),
        };
        let stats = AliveStats::new(&searcher);
        for word in ["明", "月", "山", "明月", "风"] {
            let term = Term::from_field_text(f.chars, word);
            let q = TermQuery::new(term, IndexRecordOption::WithFreqs);
            for n in [1, 5, 17, 60, 1000] {
                for bonus in [0.0, 1000.0] {
                    let top = |after| {
                        top_ordered(&searcher, &places, &stats, &q, (n, bonus), after).unwrap()
                    };
                    let now = Help {
                        after: Duration::ZERO,
                        when_idle: false,
                    };
                    let (one, two) = (top(None), top(Some(now)));
                    assert_eq!(one, two, "{word} {n} {bonus}");
                    // Exact block bounds for one word find what Tantivy's give.
                    let w = WordQuery(Term::from_field_text(f.chars, word));
                    let word_top = top_ordered(&searcher, &places, &stats, &w, (n, bonus), None);
                    assert_eq!(word_top.unwrap(), one, "{word} {n} {bonus}");
                    assert!(!one.0.is_empty(), "{word}");
                }
            }
        }
    }
}

//! Running a query against the index: ranked passages with their citation and highlights.
//!
//! Two tiers: the strict query's candidates that match every term (each checked against its
//! passage's text), then, when they are fewer than asked for and the query has bare terms,
//! passages that cover most of the query's words. Every full match ranks above every partial
//! one, and each tier is one order that depends only on the passages indexed.

pub mod query;
pub mod rank;

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::path::Path;
use std::sync::Mutex;

use anyhow::{Context, Result};
use tantivy::collector::{DocSetCollector, TopDocs};
use tantivy::query::{
    Bm25StatisticsProvider, BooleanQuery, ConstScoreQuery, EnableScoring, Occur, Query as TQuery,
    TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption, Value};
use tantivy::{DocAddress, DocSet, Index, ReloadPolicy, TantivyDocument, Term};

use crate::search::query::{EXACT_SCORE, Query, exact_query};
use crate::store::index::{self, Fields};

use crate::model::{DocMeta, Hit, LineSpan, MatchKind, Page};

/// How many of the best candidates (by Tantivy's score, then file, line and column) are
/// reranked with proximity, title and runs of the query.
const RERANK_DEPTH: usize = 30;

/// BM25's reference passage length, in index tokens (characters and words): about the
/// average of the bundled corpus (77). A fixed length, rather than the index's average, keeps
/// scores independent of entries deleted but not yet merged away (see [`AliveStats`]). On a
/// 20-file slice of the poetry corpus (14.5 tokens a passage) the eval kit's poetry sets
/// score the same with the index's own average: 1 of 103 queries ranks differently.
const REFERENCE_TOKENS: u64 = 77;

/// Tantivy's candidates in the order of [`top_ordered`], and whether they are all the query
/// matches.
type Candidates = (Vec<(f32, DocAddress)>, bool);

/// For the partial tier: the full matches to leave out, and each word's weight (IDF).
type Partial<'a> = Option<(&'a HashSet<DocAddress>, &'a dyn Fn(&str) -> f32)>;

/// A read-only view of an index.
pub struct Searcher {
    reader: tantivy::IndexReader,
    fields: Fields,
    places: PlaceCache,
}

impl Searcher {
    pub fn open(dir: &Path) -> Result<Searcher> {
        let index = Index::open_in_dir(dir).with_context(|| {
            format!(
                "cannot open the index in {}: run `zhsearch index --rebuild`",
                dir.display()
            )
        })?;
        Searcher::new(index)
    }

    /// Searches an index already open (as [`crate::store::update::update`] leaves it).
    pub fn new(index: Index) -> Result<Searcher> {
        let fields = Fields::new(&index.schema())?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Searcher {
            reader,
            fields,
            places: PlaceCache {
                fields,
                open: Mutex::new(HashMap::new()),
            },
        })
    }

    /// The best `limit` passages after skipping `offset`, best first (see [`Searcher::page`]).
    pub fn search(&self, query: &Query, limit: usize, offset: usize) -> Result<Vec<Hit>> {
        Ok(self.page(query, limit, offset)?.hits)
    }

    /// Rows `offset+1 ..= offset+limit` of one ranking that depends only on the passages in
    /// the index: every full match (verified against the passage's text, see
    /// [`rank::matches_all`]), then the partial ones; within each, the first `RERANK_DEPTH`
    /// candidates by Tantivy's score (ties by file, line and column) reranked with the
    /// passage-level signals, then the rest in that order. Only the candidates up to the last
    /// row asked for are read from the store.
    pub fn page(&self, query: &Query, limit: usize, offset: usize) -> Result<Page> {
        let searcher = self.reader.searcher();
        let stats = AliveStats::new(&searcher);
        let words = self.fields.chars;
        let doc_freq = |w: &str| stats.count(&Term::from_field_text(words, w));
        let mut query = query.clone();
        query.segment(stats.total_tokens(), doc_freq);
        if !query.titles.is_empty() {
            query.title_sources = Some(self.titled_sources(&searcher, &query.titles)?);
        }
        let want = offset + limit;
        let mut titles = Titles {
            entries: self.titled_entries(&searcher, &query)?,
            files: HashMap::new(),
        };
        let strict = query.strict(&self.fields);
        let single = query.single_word().map(str::to_string);
        let full = ranked(
            want,
            0,
            |n| match &single {
                Some(word) => self.single_word_top(&searcher, &stats, word, n),
                None => top_ordered(&searcher, &self.places, &stats, &*strict, n, 0.0),
            },
            |addr, score| self.judge(&searcher, &query, addr, score, None),
            |cand, reranked| self.finish(&searcher, &query, cand, reranked, &mut titles),
        )?;
        let full_matches = !full.addrs.is_empty();
        let mut hits = full.hits;
        // Fewer full matches than asked for means the strict tier was read to its end, so
        // `full.addrs` holds every full match.
        if hits.len() < want && query.can_relax() {
            let n = stats.docs as f32;
            let idf = |w: &str| {
                let df = doc_freq(w) as f32;
                (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
            };
            let relaxed = query.relaxed(&self.fields);
            let tier = Some((&full.addrs, &idf as &dyn Fn(&str) -> f32));
            let partial = ranked(
                want - hits.len(),
                // The full matches, and a few that cover too little of the query.
                full.addrs.len() + RERANK_DEPTH / 2,
                |n| top_ordered(&searcher, &self.places, &stats, &*relaxed, n, 0.0),
                |addr, score| self.judge(&searcher, &query, addr, score, tier),
                |cand, reranked| self.finish(&searcher, &query, cand, reranked, &mut titles),
            )?;
            hits.extend(partial.hits);
        }
        hits.truncate(want);
        // Only the hits shown need their file's metadata read from the store.
        let mut metas: HashMap<String, DocMeta> = HashMap::new();
        let mut hits: Vec<Hit> = hits.into_iter().skip(offset).collect();
        for hit in &mut hits {
            let meta = self.file_meta(&searcher, &hit.source, &mut metas)?;
            hit.meta = meta;
        }
        Ok(Page { hits, full_matches })
    }

    /// A candidate of its tier, or `None` when it does not belong there: in the strict tier
    /// (`partial` is `None`), a passage that does not match every term; in the partial tier,
    /// a full match, an excluded passage, or one that covers too little of the query.
    fn judge(
        &self,
        searcher: &tantivy::Searcher,
        query: &Query,
        addr: DocAddress,
        score: f32,
        partial: Partial,
    ) -> Result<Option<Cand>> {
        if partial.is_some_and(|(seen, _)| seen.contains(&addr)) {
            return Ok(None);
        }
        let doc: TantivyDocument = searcher.doc(addr)?;
        let stored = Stored::new(&self.fields, &doc);
        let visible = stored.visible();
        let passage = stored.passage(&visible);
        let is_word = |w: &str| self.has_word(searcher, addr, w);
        let full = rank::matches_all(query, &passage, &is_word);
        let kind = match partial {
            None if full => MatchKind::All,
            Some((_, idf))
                if !full
                    && !rank::excluded(query, &passage)
                    && rank::coverage(query, &passage, idf) >= rank::MIN_COVERAGE =>
            {
                MatchKind::Partial
            }
            _ => return Ok(None),
        };
        Ok(Some(Cand {
            score,
            addr,
            stored,
            kind,
        }))
    }

    /// A candidate as a hit, with its highlights and final score (its file's metadata is
    /// filled in for the hits shown). Only `reranked` hits get the passage-level boost: the
    /// rest keep the score they are ordered by, so printed scores never rise down the list.
    fn finish(
        &self,
        searcher: &tantivy::Searcher,
        query: &Query,
        cand: Cand,
        reranked: bool,
        titles: &mut Titles,
    ) -> Result<Hit> {
        let stored = cand.stored;
        let entry = match titles.files.get(&stored.source) {
            Some(e) => *e,
            None => {
                let e = self.file_entry(searcher, &stored.source);
                titles.files.insert(stored.source.clone(), e);
                e
            }
        };
        let title_terms = entry.map_or(0, |e| {
            titles.entries.iter().filter(|s| s.contains(&e)).count()
        });
        let visible = stored.visible();
        let found = rank::findings(query, &stored.passage(&visible), title_terms);
        let boost = if reranked { found.boost } else { 0.0 };
        Ok(stored.into_hit(cand.score + boost, cand.kind, found))
    }

    /// For each term of the query, the file entries whose title contains it (in any form):
    /// the title score without reading any title from the store.
    fn titled_entries(
        &self,
        searcher: &tantivy::Searcher,
        query: &Query,
    ) -> Result<Vec<HashSet<DocAddress>>> {
        let f = &self.fields;
        let mut out = Vec::new();
        for t in query.terms() {
            let forms = t
                .forms
                .iter()
                .map(|form| exact_query(f.title_chars, &form.norm));
            let q = BooleanQuery::new(vec![
                (Occur::Must, any_of_queries(forms.collect())),
                (Occur::Must, file_entries(f)),
            ]);
            out.push(searcher.search(&q, &DocSetCollector)?);
        }
        Ok(out)
    }

    /// The index entry of file `source` (its metadata), found in the postings alone.
    fn file_entry(&self, searcher: &tantivy::Searcher, source: &str) -> Option<DocAddress> {
        let f = &self.fields;
        let source = Term::from_field_text(f.source, source);
        let file = Term::from_field_u64(f.file, 1);
        for (ord, reader) in searcher.segment_readers().iter().enumerate() {
            let read = |field, term: &Term| {
                let ii = reader.inverted_index(field).ok()?;
                ii.read_postings(term, IndexRecordOption::Basic).ok()?
            };
            let (Some(mut docs), Some(mut files)) = (read(f.source, &source), read(f.file, &file))
            else {
                continue;
            };
            let alive = reader.alive_bitset();
            while docs.doc() != tantivy::TERMINATED {
                let d = docs.doc();
                if files.seek(d) == d && !alive.is_some_and(|a| a.is_deleted(d)) {
                    return Some(DocAddress::new(ord as u32, d));
                }
                docs.advance();
            }
        }
        None
    }

    /// Whether the index holds `word` as a word (or character) of the passage at `addr`.
    fn has_word(&self, searcher: &tantivy::Searcher, addr: DocAddress, word: &str) -> bool {
        let reader = searcher.segment_reader(addr.segment_ord);
        let term = Term::from_field_text(self.fields.chars, word);
        let postings = reader
            .inverted_index(self.fields.chars)
            .and_then(|ii| Ok(ii.read_postings(&term, IndexRecordOption::Basic)?));
        match postings {
            Ok(Some(mut p)) => p.seek(addr.doc_id) == addr.doc_id,
            _ => false,
        }
    }
}

impl Searcher {
    /// The strict tier's candidates for a query that is one index word (see
    /// [`Query::single_word`]), scored as the general query scores them: the word's passages
    /// by BM25 (pruned by Tantivy), then those holding the term only inside other words.
    fn single_word_top(
        &self,
        searcher: &tantivy::Searcher,
        stats: &AliveStats,
        word: &str,
        n: usize,
    ) -> Result<Candidates> {
        let f = &self.fields;
        let bm25 = TermQuery::new(
            Term::from_field_text(f.chars, word),
            IndexRecordOption::WithFreqs,
        );
        let (mut top, complete) =
            top_ordered(searcher, &self.places, stats, &bm25, n, EXACT_SCORE)?;
        // Every passage with the word scores above EXACT_SCORE, every other one exactly it.
        if !complete {
            return Ok((top, false));
        }
        let rest = BooleanQuery::new(vec![
            (
                Occur::Must,
                Box::new(ConstScoreQuery::new(
                    exact_query(f.chars, word),
                    EXACT_SCORE,
                )) as Box<dyn TQuery>,
            ),
            (Occur::MustNot, term(f.chars, word)),
        ]);
        let (more, complete) =
            top_ordered(searcher, &self.places, stats, &rest, n - top.len(), 0.0)?;
        top.extend(more);
        Ok((top, complete))
    }

    /// The metadata entry of file `source`, looked up once per search.
    fn file_meta(
        &self,
        searcher: &tantivy::Searcher,
        source: &str,
        cache: &mut HashMap<String, DocMeta>,
    ) -> Result<DocMeta> {
        if let Some(m) = cache.get(source) {
            return Ok(m.clone());
        }
        let f = &self.fields;
        let q = BooleanQuery::new(vec![
            (Occur::Must, term(f.source, source)),
            (
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_u64(f.file, 1),
                    IndexRecordOption::Basic,
                )),
            ),
        ]);
        let top = searcher.search(&q, &TopDocs::with_limit(1).order_by_score())?;
        let meta = match top.first() {
            Some((_, addr)) => {
                let doc: TantivyDocument = searcher.doc(*addr)?;
                DocMeta {
                    title: text_of(&doc, f.title),
                    author: text_of(&doc, f.author),
                    date: text_of(&doc, f.date),
                    url: text_of(&doc, f.url),
                    encoding: text_of(&doc, f.encoding),
                }
            }
            None => DocMeta::default(),
        };
        cache.insert(source.to_string(), meta.clone());
        Ok(meta)
    }

    /// The files whose title contains every `title:` text of the query.
    fn titled_sources(
        &self,
        searcher: &tantivy::Searcher,
        titles: &[String],
    ) -> Result<Vec<String>> {
        let f = &self.fields;
        let mut clauses: Vec<(Occur, Box<dyn TQuery>)> = titles
            .iter()
            .map(|t| (Occur::Must, exact_query(f.title_chars, t)))
            .collect();
        clauses.push((
            Occur::Must,
            Box::new(TermQuery::new(
                Term::from_field_u64(f.file, 1),
                IndexRecordOption::Basic,
            )),
        ));
        let docs = searcher.search(&BooleanQuery::new(clauses), &DocSetCollector)?;
        let mut sources = Vec::new();
        for addr in docs {
            let doc: TantivyDocument = searcher.doc(addr)?;
            sources.extend(text_of(&doc, f.source));
        }
        Ok(sources)
    }
}

/// A candidate that belongs to its tier, before its file's metadata and highlights are
/// looked up (only the reranked ones and those shown need them).
struct Cand {
    /// Tantivy's score.
    score: f32,
    addr: DocAddress,
    stored: Stored,
    kind: MatchKind,
}

/// What the title score needs: for each query term, the file entries whose title holds it
/// (see [`Searcher::titled_entries`]), and each file's entry as it is looked up.
struct Titles {
    entries: Vec<HashSet<DocAddress>>,
    files: HashMap<String, Option<DocAddress>>,
}

/// A tier: its first hits in order, and every passage found to belong to it.
struct Tier {
    hits: Vec<Hit>,
    addrs: HashSet<DocAddress>,
}

/// One tier in its final order: `candidates(n)` gives Tantivy's best `n` in one total order
/// (see [`top_ordered`]), `judge` keeps those of the tier, `finish` makes hits. Candidates are
/// judged in that order until `need` of the tier (or all there are) and the whole rerank
/// window are known, so the result is a prefix of one order whatever `need` is, and no
/// passage after the last row asked for is read from the store. `slack` more candidates than
/// needed are collected at first, for those expected to be judged out of the tier: running
/// the query again for more costs more than collecting a few more at once.
fn ranked(
    need: usize,
    slack: usize,
    mut candidates: impl FnMut(usize) -> Result<Candidates>,
    mut judge: impl FnMut(DocAddress, f32) -> Result<Option<Cand>>,
    mut finish: impl FnMut(Cand, bool) -> Result<Hit>,
) -> Result<Tier> {
    let depth = need.max(RERANK_DEPTH);
    let mut n = depth.saturating_add(slack);
    // Candidates judged so far: a prefix of the order, which does not depend on `n`.
    let mut judged = 0;
    let mut kept: Vec<(usize, Cand)> = Vec::new();
    loop {
        let (top, complete) = candidates(n)?;
        while kept.len() < depth && judged < top.len() {
            let end = top.len().min(judged + depth - kept.len());
            // In index order, so that passages stored in one block are read together.
            let mut batch: Vec<usize> = (judged..end).collect();
            batch.sort_by_key(|&i| top[i].1);
            for i in batch {
                let (score, addr) = top[i];
                kept.extend(judge(addr, score)?.map(|c| (i, c)));
            }
            judged = end;
        }
        if kept.len() >= depth || complete {
            break;
        }
        n = n.saturating_mul(4);
    }
    kept.sort_by_key(|&(i, _)| i);
    let addrs = kept.iter().map(|(_, c)| c.addr).collect();
    let mut kept = kept.into_iter().map(|(_, c)| c);
    let mut hits = kept
        .by_ref()
        .take(RERANK_DEPTH)
        .map(|c| finish(c, true))
        .collect::<Result<Vec<Hit>>>()?;
    hits.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| by_place(a, b)));
    let rest = need.saturating_sub(hits.len());
    for cand in kept.take(rest) {
        hits.push(finish(cand, false)?);
    }
    Ok(Tier { hits, addrs })
}

/// File, then line, then column: the order of equal scores.
fn by_place(a: &Hit, b: &Hit) -> Ordering {
    (&a.source, a.line_start, a.column_start).cmp(&(&b.source, b.line_start, b.column_start))
}

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
struct Place {
    /// The file's ordinal in the segment's dictionary of sources (the order of their names).
    source: u64,
    line: u64,
    column: Option<u64>,
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

/// The fast fields that place a passage in its segment.
#[derive(Clone)]
struct Places {
    source: Option<tantivy::columnar::StrColumn>,
    line: tantivy::columnar::Column<u64>,
    column: tantivy::columnar::Column<u64>,
}

impl Places {
    fn new(reader: &tantivy::SegmentReader, f: &Fields) -> Result<Places> {
        let ff = reader.fast_fields();
        let schema = reader.schema();
        Ok(Places {
            source: ff.str(schema.get_field_name(f.source))?,
            line: ff.u64(schema.get_field_name(f.line_start))?,
            column: ff.u64(schema.get_field_name(f.column_start))?,
        })
    }

    fn of(&self, doc: u32) -> Place {
        Place {
            source: self
                .source
                .as_ref()
                .and_then(|s| s.term_ords(doc).next())
                .unwrap_or(0),
            line: self.line.first(doc).unwrap_or(0),
            column: self.column.first(doc),
            doc,
        }
    }

    fn name(&self, ord: u64) -> Result<String> {
        let mut out = String::new();
        if let Some(s) = &self.source {
            s.ord_to_str(ord, &mut out)?;
        }
        Ok(out)
    }
}

/// Each segment's [`Places`], opened once per searcher: opening a column decodes its block
/// headers, which costs more than a search with few candidates.
struct PlaceCache {
    fields: Fields,
    open: Mutex<HashMap<tantivy::index::SegmentId, Places>>,
}

impl PlaceCache {
    fn of(&self, reader: &tantivy::SegmentReader) -> Result<Places> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = open.get(&reader.segment_id()) {
            return Ok(p.clone());
        }
        let p = Places::new(reader, &self.fields)?;
        open.insert(reader.segment_id(), p.clone());
        Ok(p)
    }
}

/// The kept entries of segment `segment` with their file names, looked up once per file:
/// only the few kept ordinals are turned into names.
fn named(
    kept: Vec<Entry>,
    places: &Places,
    segment: u32,
    out: &mut Vec<(f32, DocAddress, String, Place)>,
) -> Result<()> {
    let mut names: HashMap<u64, String> = HashMap::new();
    for e in kept {
        let name = match names.get(&e.place.source) {
            Some(name) => name.clone(),
            None => {
                let name = places.name(e.place.source)?;
                names.insert(e.place.source, name.clone());
                name
            }
        };
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
fn top_ordered(
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
        let places = places.of(reader)?;
        let alive = reader.alive_bitset();
        // This segment's best `n`, the worst on top.
        let mut heap: BinaryHeap<Entry> = BinaryHeap::with_capacity(n.min(4096) + 1);
        let start = floor(&scores);
        let mut callback = |doc, score: f32| {
            if alive.is_some_and(|a| a.is_deleted(doc)) {
                return floor(&scores);
            }
            let entry = Entry {
                score: score + bonus,
                place: places.of(doc),
            };
            scores.push(Reverse(Score(entry.score)));
            if scores.len() > n {
                scores.pop();
            }
            if heap.len() < n {
                heap.push(entry);
            } else if let Some(mut worst) = heap.peek_mut()
                && entry < *worst
            {
                *worst = entry;
            }
            floor(&scores)
        };
        weight.for_each_pruning(start, reader, &mut callback)?;
        named(heap.into_vec(), &places, ord as u32, &mut best)?;
    }
    let complete = scores.len() < n;
    best.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then_with(|| (&a.2, a.3.line, a.3.column).cmp(&(&b.2, b.3.line, b.3.column)))
            .then_with(|| a.1.cmp(&b.1))
    });
    best.truncate(n);
    Ok((
        best.into_iter().map(|(s, a, _, _)| (s, a)).collect(),
        complete,
    ))
}

/// BM25 statistics of the passages in the index now. Tantivy's own count entries deleted
/// but not yet merged away, so an index brought up to date by updates would rank otherwise
/// than a fresh build of the same files. Document frequencies are counted over the live
/// entries of segments with deletions (exact; other segments cost a lookup as before), and
/// the reference length is fixed ([`REFERENCE_TOKENS`]).
struct AliveStats<'a> {
    searcher: &'a tantivy::Searcher,
    /// Live entries.
    docs: u64,
}

impl<'a> AliveStats<'a> {
    fn new(searcher: &'a tantivy::Searcher) -> AliveStats<'a> {
        let docs = searcher
            .segment_readers()
            .iter()
            .map(|r| u64::from(r.num_docs()))
            .sum();
        AliveStats { searcher, docs }
    }

    /// Tokens of the index, as BM25 and the query segmentation see them.
    fn total_tokens(&self) -> u64 {
        self.docs.max(1) * REFERENCE_TOKENS
    }

    /// Live entries holding `term` (0 when it cannot be read).
    fn count(&self, term: &Term) -> u64 {
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
        let mut total = 0u64;
        for reader in self.searcher.segment_readers() {
            let ii = reader.inverted_index(term.field())?;
            let n = match reader.alive_bitset().filter(|_| reader.has_deletes()) {
                Some(alive) => ii
                    .read_postings(term, IndexRecordOption::Basic)?
                    .map_or(0, |mut p| p.count(alive)),
                None => ii.doc_freq(term)?,
            };
            total += u64::from(n);
        }
        Ok(total)
    }
}

/// The entries holding files' metadata.
fn file_entries(f: &Fields) -> Box<dyn TQuery> {
    Box::new(TermQuery::new(
        Term::from_field_u64(f.file, 1),
        IndexRecordOption::Basic,
    ))
}

fn any_of_queries(mut queries: Vec<Box<dyn TQuery>>) -> Box<dyn TQuery> {
    if queries.len() == 1 {
        return queries.pop().expect("one query");
    }
    Box::new(BooleanQuery::new(
        queries.into_iter().map(|q| (Occur::Should, q)).collect(),
    ))
}

fn term(field: tantivy::schema::Field, text: &str) -> Box<dyn TQuery> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, text),
        IndexRecordOption::Basic,
    ))
}

fn text_of(doc: &TantivyDocument, field: tantivy::schema::Field) -> Option<String> {
    doc.get_first(field)
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

/// The stored fields of a passage.
struct Stored {
    source: String,
    line_start: usize,
    line_end: usize,
    paragraph: usize,
    columns: Option<(usize, usize)>,
    text: String,
    visible: Option<String>,
    meta: DocMeta,
}

impl Stored {
    /// The stored fields of a passage; its file's metadata is filled in later.
    fn new(f: &Fields, doc: &TantivyDocument) -> Stored {
        let opt = |field| {
            doc.get_first(field)
                .and_then(|v| v.as_u64())
                .map(|v| v as usize)
        };
        let num = |field| opt(field).unwrap_or(0);
        Stored {
            columns: opt(f.column_start).zip(opt(f.column_end)),
            source: text_of(doc, f.source).unwrap_or_default(),
            line_start: num(f.line_start),
            line_end: num(f.line_end),
            paragraph: num(f.paragraph),
            text: text_of(doc, f.text).unwrap_or_default(),
            visible: text_of(doc, f.visible),
            meta: DocMeta::default(),
        }
    }

    /// The passage as the ranking sees it, given its [`Stored::visible`] pieces.
    fn passage<'a>(&'a self, visible: &[crate::text::analysis::Piece]) -> rank::Passage<'a> {
        // Front matter: paragraph 0 with a visible value (markup lines have none).
        let front_matter = self.paragraph == 0 && !visible.is_empty();
        rank::Passage::new(&self.text, visible, front_matter)
    }

    fn visible(&self) -> Vec<crate::text::analysis::Piece> {
        index::stored_pieces(&self.text, self.visible.as_deref())
    }

    fn into_hit(self, score: f32, match_kind: MatchKind, found: rank::Findings) -> Hit {
        let id = LineSpan::new(&self.source, self.line_start, self.line_end).anchor();
        Hit {
            id,
            source: self.source,
            line_start: self.line_start,
            line_end: self.line_end,
            paragraph: self.paragraph,
            column_start: self.columns.map(|c| c.0),
            column_end: self.columns.map(|c| c.1),
            score,
            match_kind,
            variant: found.variant,
            meta: self.meta,
            text: self.text,
            highlights: found
                .highlights
                .into_iter()
                .map(|r| [r.start, r.end])
                .collect(),
            context_before: Vec::new(),
            context_after: Vec::new(),
        }
    }
}

//! The relaxed tier's union of clauses (see `query::relaxed`), in which a pair of two common
//! characters finds passages only where it must: the pairs of a rare character find passages,
//! and of the others the cheapest set such that every run of half a form's characters holds
//! one (see [`cover::finding`]). The rest only add their score to the passages found, looked
//! up at those passages alone.
//!
//! A misremembered quote's pairs of common characters (`之日`, `今日`, `不可`) are each in
//! hundreds of thousands of passages of a large index, and finding them costs an intersection
//! of two long lists of positions: most of the tier's time, for candidates that share one or
//! two common pairs with the quote and nothing else. Every passage found still gets the score
//! the plain union gives it, to the bit (the same clauses' scores summed in the same order).

use tantivy::fieldnorm::FieldNormReader;
use tantivy::postings::{Postings, SegmentPostings};
use tantivy::query::{
    Bm25StatisticsProvider, Bm25Weight, ConstScoreQuery, EmptyScorer, EnableScoring, Explanation,
    PhraseQuery, Query as TQuery, Scorer, Weight,
};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocId, DocSet, Score, SegmentReader, TERMINATED, TantivyError, Term};

use super::cover;
use super::query::{any_of, phrase_query};

/// A character in more than this share of the passages is common: a pair of two common
/// characters finds passages only where [`cover::finding`] needs it.
const COMMON_SHARE: f64 = 0.002;
/// ... and in more than this many: in a smaller index every pair finds passages, as finding
/// them costs little there.
const COMMON_MIN: u64 = 10_000;

/// The clauses of the relaxed tier, scored as their union: a passage matching any clause but
/// a pair that only scores, scored by the sum of every clause it matches (see the module doc
/// and [`cover::finding`]).
#[derive(Clone, Debug)]
pub(super) struct RelaxedUnion {
    /// The queries, then the pairs, in the order their scores are summed.
    clauses: Vec<Clause>,
    /// The pairs' indices (among the pairs) along each relaxed form: see [`cover::form_pairs`].
    forms: Vec<Vec<Option<usize>>>,
    /// When a character is common.
    common: Common,
}

#[derive(Debug)]
enum Clause {
    Query(Box<dyn TQuery>),
    /// The string of a relaxed form (its index): its terms at their offsets, scored a
    /// constant.
    String(usize, Vec<(usize, Term)>, Score),
    /// Two characters side by side, scored as a phrase (BM25).
    Pair([Term; 2]),
}

/// When a character is common: in more than `share` of the passages and more than `min`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Common {
    pub(super) share: f64,
    pub(super) min: u64,
}

impl Default for Common {
    fn default() -> Self {
        Common {
            share: COMMON_SHARE,
            min: COMMON_MIN,
        }
    }
}

impl RelaxedUnion {
    /// The union of `queries` (first, in order) and `pairs` (after them, in order), the pairs
    /// along each relaxed form given by `forms`.
    pub(super) fn new(
        queries: Vec<Box<dyn TQuery>>,
        pairs: Vec<[Term; 2]>,
        forms: Vec<Vec<Option<usize>>>,
        common: Common,
    ) -> RelaxedUnion {
        let clauses = queries
            .into_iter()
            .map(Clause::Query)
            .chain(pairs.into_iter().map(Clause::Pair))
            .collect();
        RelaxedUnion {
            clauses,
            forms,
            common,
        }
    }

    /// Makes query `at` the string of form `form`: `terms` at their offsets, scored `score`.
    pub(super) fn set_string(
        &mut self,
        at: usize,
        form: usize,
        terms: Vec<(usize, Term)>,
        score: Score,
    ) {
        self.clauses[at] = Clause::String(form, terms, score);
    }

    /// The plain union of every clause (each pair a phrase query).
    fn plain(&self) -> Box<dyn TQuery> {
        any_of(self.clauses.iter().map(Clause::query).collect())
    }

    /// For each clause, whether it only adds to the score: the pairs that do not find
    /// passages (see [`cover::finding`]), and when there are such pairs, the strings of the
    /// forms with a pair: a passage holding one holds all its pairs, so it is found by those
    /// that find. None when every pair finds passages.
    fn scoring_only(&self, stats: &dyn Bm25StatisticsProvider) -> tantivy::Result<Vec<bool>> {
        let docs = stats.total_num_docs()?;
        let limit = ((docs as f64 * self.common.share) as u64).max(self.common.min);
        let mut rarer = Vec::new();
        for c in &self.clauses {
            if let Clause::Pair(p) = c {
                rarer.push(stats.doc_freq(&p[0])?.min(stats.doc_freq(&p[1])?));
            }
        }
        let finds = cover::finding(&rarer, limit, &self.forms);
        if finds.iter().all(|&f| f) {
            return Ok(vec![false; self.clauses.len()]);
        }
        let paired = |k: usize| {
            self.forms
                .get(k)
                .is_some_and(|f| f.iter().any(Option::is_some))
        };
        let queries = self.clauses.len() - finds.len();
        Ok((0..self.clauses.len())
            .map(|i| match &self.clauses[i] {
                Clause::Query(_) => false,
                Clause::String(form, ..) => paired(*form),
                Clause::Pair(_) => !finds[i - queries],
            })
            .collect())
    }
}

impl Clone for Clause {
    fn clone(&self) -> Self {
        match self {
            Clause::Query(q) => Clause::Query(q.box_clone()),
            Clause::String(form, t, score) => Clause::String(*form, t.clone(), *score),
            Clause::Pair(p) => Clause::Pair(p.clone()),
        }
    }
}

impl Clause {
    fn query(&self) -> Box<dyn TQuery> {
        match self {
            Clause::Query(q) => q.box_clone(),
            Clause::String(_, t, score) => {
                Box::new(ConstScoreQuery::new(phrase_query(t.clone()), *score))
            }
            Clause::Pair(p) => Box::new(PhraseQuery::new(p.to_vec())),
        }
    }
}

impl TQuery for RelaxedUnion {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        let EnableScoring::Enabled {
            statistics_provider: stats,
            ..
        } = scoring
        else {
            return self.plain().weight(scoring);
        };
        let only = self.scoring_only(stats)?;
        if !only.contains(&true) {
            return self.plain().weight(scoring);
        }
        let mut slots = Vec::with_capacity(self.clauses.len());
        let mut chars: Vec<Term> = Vec::new();
        let mut at = |t: &Term| {
            chars.iter().position(|c| c == t).unwrap_or_else(|| {
                chars.push(t.clone());
                chars.len() - 1
            })
        };
        for (c, only) in self.clauses.iter().zip(only) {
            slots.push(match c {
                Clause::Pair(p) if only => {
                    SlotWeight::Pair([at(&p[0]), at(&p[1])], Bm25Weight::for_terms(stats, p)?)
                }
                Clause::String(_, terms, score) if only => {
                    let mut placed = Vec::with_capacity(terms.len());
                    for (offset, t) in terms {
                        placed.push((stats.doc_freq(t)?, at(t), *offset as u32));
                    }
                    // The rarest first: most passages found lack one.
                    placed.sort_unstable();
                    let placed = placed.into_iter().map(|(_, c, o)| (c, o)).collect();
                    SlotWeight::String(placed, *score)
                }
                c => SlotWeight::Finds(c.query().weight(scoring)?),
            });
        }
        Ok(Box::new(UnionWeight { slots, chars }))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        for c in &self.clauses {
            match c {
                Clause::Query(q) => q.query_terms(visitor),
                Clause::String(_, t, _) => t.iter().for_each(|(_, t)| visitor(t, true)),
                Clause::Pair(p) => p.iter().for_each(|t| visitor(t, true)),
            }
        }
    }
}

enum SlotWeight {
    Finds(Box<dyn Weight>),
    /// A form's string, which only scores: its characters (indices in `chars`) with their
    /// offsets, the rarest first, and its score.
    String(Vec<(usize, u32)>, Score),
    /// A pair that only scores: its characters' indices in `chars`, and its BM25 weight.
    Pair([usize; 2], Bm25Weight),
}

struct UnionWeight {
    slots: Vec<SlotWeight>,
    /// The characters of the pairs that only score, each once.
    chars: Vec<Term>,
}

impl Weight for UnionWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let mut finders = Vec::new();
        let mut slots = Vec::with_capacity(self.slots.len());
        for s in &self.slots {
            match s {
                SlotWeight::Finds(w) => {
                    let scorer = w.scorer(reader, boost)?;
                    if scorer.doc() != TERMINATED {
                        slots.push(Slot::Finds(finders.len()));
                        finders.push(scorer);
                    }
                }
                SlotWeight::String(placed, score) => {
                    slots.push(Slot::String(placed.clone(), boost * score))
                }
                SlotWeight::Pair(at, weight) => slots.push(Slot::Pair(*at, weight.boost_by(boost))),
            }
        }
        if finders.is_empty() {
            return Ok(Box::new(EmptyScorer));
        }
        let chars = self
            .chars
            .iter()
            .map(|t| CharAt::open(reader, t))
            .collect::<tantivy::Result<_>>()?;
        let field = self.chars.first().map(Term::field);
        // As Tantivy's phrase query: the field's lengths, or 1 when it has none.
        let norms = match field.map(|f| reader.fieldnorms_readers().get_field(f)) {
            Some(n) => n?,
            None => None,
        };
        let norms = norms.unwrap_or_else(|| FieldNormReader::constant(reader.max_doc(), 1));
        let mut scorer = UnionScorer {
            slots,
            finders,
            chars,
            norms,
            doc: 0,
        };
        scorer.doc = scorer.min_doc();
        Ok(Box::new(scorer))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let mut scorer = self.scorer(reader, 1.0)?;
        if scorer.seek(doc) != doc {
            return Err(TantivyError::InvalidArgument(format!(
                "document {doc} does not match"
            )));
        }
        Ok(Explanation::new("relaxed union", scorer.score()))
    }
}

/// A clause of a segment's union, in the order of the sum.
enum Slot {
    Finds(usize),
    /// A form's string: see [`SlotWeight::String`].
    String(Vec<(usize, u32)>, Score),
    /// A pair that only scores: its characters' indices in `chars`, and its BM25 weight.
    Pair([usize; 2], Bm25Weight),
}

/// The union of the finding clauses, doc at a time; each pair that only scores is looked up
/// at the passages they find, in its characters' postings (each read once per passage).
struct UnionScorer {
    slots: Vec<Slot>,
    finders: Vec<Box<dyn Scorer>>,
    chars: Vec<CharAt>,
    norms: FieldNormReader,
    doc: DocId,
}

impl UnionScorer {
    fn min_doc(&self) -> DocId {
        self.finders
            .iter()
            .map(|f| f.doc())
            .min()
            .unwrap_or(TERMINATED)
    }
}

impl DocSet for UnionScorer {
    fn advance(&mut self) -> DocId {
        let doc = self.doc;
        for f in &mut self.finders {
            if f.doc() == doc {
                f.advance();
            }
        }
        self.doc = self.min_doc();
        self.doc
    }

    fn seek(&mut self, target: DocId) -> DocId {
        if target <= self.doc {
            return self.doc;
        }
        for f in &mut self.finders {
            if f.doc() < target {
                f.seek(target);
            }
        }
        self.doc = self.min_doc();
        self.doc
    }

    fn doc(&self) -> DocId {
        self.doc
    }

    fn size_hint(&self) -> u32 {
        self.finders
            .iter()
            .map(|f| f.size_hint())
            .max()
            .unwrap_or(0)
    }
}

impl Scorer for UnionScorer {
    /// The clauses' scores summed in their order, as Tantivy's union sums them.
    fn score(&mut self) -> Score {
        let doc = self.doc;
        let mut score: Score = 0.0;
        for slot in &self.slots {
            match *slot {
                Slot::Finds(i) => {
                    let f = &mut self.finders[i];
                    if f.doc() == doc {
                        score += f.score();
                    }
                }
                Slot::String(ref placed, s) => {
                    if holds_string(&mut self.chars, placed, doc) {
                        score += s;
                    }
                }
                Slot::Pair([a, b], ref weight) => {
                    // Positions are read only once both characters are known to be there.
                    if !(self.chars[a].held(doc) && self.chars[b].held(doc)) {
                        continue;
                    }
                    self.chars[a].load();
                    self.chars[b].load();
                    let count = meeting(&self.chars[a].positions, &self.chars[b].positions);
                    if count > 0 {
                        score += weight.score(self.norms.fieldnorm_id(doc), count);
                    }
                }
            }
        }
        score
    }
}

/// Whether passage `doc` holds every character of `placed` at its offset from one position
/// (as Tantivy's phrase query matches it).
fn holds_string(chars: &mut [CharAt], placed: &[(usize, u32)], doc: DocId) -> bool {
    if !placed.iter().all(|&(c, _)| chars[c].held(doc)) {
        return false;
    }
    for &(c, _) in placed {
        chars[c].load();
    }
    let Some(&(first, offset)) = placed.first() else {
        return false;
    };
    chars[first].positions.iter().any(|&p| {
        let start = p.checked_sub(offset);
        start.is_some_and(|s| {
            placed
                .iter()
                .all(|&(c, o)| chars[c].positions.binary_search(&(s + o)).is_ok())
        })
    })
}

/// A character's postings, read passage by passage in increasing order, with its positions
/// in the last passage asked for once read.
struct CharAt {
    /// `None` when the segment does not hold the character.
    postings: Option<SegmentPostings>,
    /// The passage asked for last, whether it holds the character, and whether its positions
    /// there are read.
    doc: DocId,
    held: bool,
    loaded: bool,
    positions: Vec<u32>,
}

impl CharAt {
    fn open(reader: &SegmentReader, term: &Term) -> tantivy::Result<CharAt> {
        let index = reader.inverted_index(term.field())?;
        Ok(CharAt {
            postings: index.read_postings(term, IndexRecordOption::WithFreqsAndPositions)?,
            doc: TERMINATED,
            held: false,
            loaded: false,
            positions: Vec::new(),
        })
    }

    /// Whether passage `doc` (no lower than any asked before) holds the character.
    fn held(&mut self, doc: DocId) -> bool {
        if self.doc != doc {
            self.doc = doc;
            self.loaded = false;
            self.held = self.postings.as_mut().is_some_and(|p| {
                if p.doc() < doc {
                    p.seek(doc);
                }
                p.doc() == doc
            });
        }
        self.held
    }

    /// Reads the positions in the passage last found to hold the character.
    fn load(&mut self) {
        if !self.loaded
            && let Some(p) = &mut self.postings
        {
            p.positions(&mut self.positions);
            self.loaded = true;
        }
    }
}

/// How many positions of the first character are followed by one of the second (each list
/// increasing): how often the pair occurs, as Tantivy's phrase query counts it.
fn meeting(first: &[u32], second: &[u32]) -> u32 {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < first.len() && j < second.len() {
        match (first[i] + 1).cmp(&second[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use tantivy::collector::TopDocs;
    use tantivy::schema::{Field, Schema, TEXT};
    use tantivy::{DocAddress, Index, TantivyDocument};

    use super::*;

    /// A one-segment index of `lines`, one passage each, a token per character.
    fn index(lines: &[String]) -> (Index, Field) {
        let mut b = Schema::builder();
        let field = b.add_text_field("t", TEXT);
        let index = Index::create_in_ram(b.build());
        let mut w = index.writer_with_num_threads(1, 15_000_000).unwrap();
        for l in lines {
            let spaced: Vec<String> = l.chars().map(String::from).collect();
            let mut d = TantivyDocument::new();
            d.add_text(field, spaced.join(" "));
            w.add_document(d).unwrap();
        }
        w.commit().unwrap();
        (index, field)
    }

    /// Every passage the query finds, with its score.
    fn scores(index: &Index, q: &dyn TQuery) -> HashMap<DocAddress, Score> {
        let searcher = index.reader().unwrap().searcher();
        let top = TopDocs::with_limit(1000).order_by_score();
        let found = searcher.search(q, &top).unwrap();
        found.into_iter().map(|(s, a)| (a, s)).collect()
    }

    fn union(field: Field, quote: &str, common: Common) -> RelaxedUnion {
        let chars: Vec<char> = quote.chars().collect();
        let pairs: Vec<[char; 2]> = chars.windows(2).map(|w| [w[0], w[1]]).collect();
        let forms = vec![cover::form_pairs(quote, &pairs)];
        let term = |c: char| Term::from_field_text(field, &c.to_string());
        let word: Box<dyn TQuery> = Box::new(tantivy::query::TermQuery::new(
            term('子'),
            IndexRecordOption::WithFreqs,
        ));
        let pairs = pairs.iter().map(|p| p.map(term)).collect();
        let string = chars.iter().map(|&c| term(c)).enumerate().collect();
        let placeholder = Box::new(tantivy::query::EmptyQuery);
        let mut union = RelaxedUnion::new(vec![placeholder, word], pairs, forms, common);
        union.set_string(0, 0, string, 1000.0);
        union
    }

    #[test]
    fn passages_found_score_as_in_the_plain_union_and_runs_of_half_the_quote_are_found() {
        let quote = "甲乙丙丁戊己";
        let mut lines: Vec<String> = [
            "甲乙丙丁戊己",   // the quote
            "甲乙丙丁戊庚",   // misremembered
            "庚甲乙丙辛",     // the first half of it in a row
            "辛丁戊己",       // the second half
            "丙丁庚辛",       // one pair alone, of common characters
            "子丙丁甲乙",     // two pairs, found by the word 子
            "甲庚乙丙庚丁戊", // two pairs apart
        ]
        .map(String::from)
        .to_vec();
        // Every character common, none of the quote's pairs in order.
        lines.extend((0..40).map(|k| format!("己戊丁丙乙甲{k}")));
        let (index, field) = index(&lines);
        let plain = scores(&index, &*union(field, quote, Common::default()).plain());
        let all_common = Common { share: 0.0, min: 0 };
        let found = scores(&index, &union(field, quote, all_common));
        for (doc, score) in &found {
            assert_eq!(score.to_bits(), plain[doc].to_bits(), "{doc:?}");
        }
        let found_lines: Vec<u32> = {
            let mut d: Vec<u32> = found.keys().map(|a| a.doc_id).collect();
            d.sort();
            d
        };
        // The passages holding three characters of six in a row, the word's, and those of
        // the pairs chosen to cover the runs (乙丙 and 丁戊, the cheapest); not the passage
        // holding only 丙丁, nor the others.
        assert_eq!(found_lines, vec![0, 1, 2, 3, 5, 6]);
        // The quote's string is looked up, not found: it scores where it is only.
        assert!(found.iter().all(|(a, s)| (*s > 1000.0) == (a.doc_id == 0)));
        assert!(plain.len() > found.len());
        // In an index where no character is common, the union is the plain one.
        let rare = scores(&index, &union(field, quote, Common::default()));
        assert_eq!(rare, plain);
    }
}

//! Running a query against the index: ranked passages with their citation and highlights.
//!
//! Two tiers: the strict query (every term matched), then, when it finds fewer hits than asked
//! for and the query has bare terms, passages that cover most of the query's words. Every
//! strict hit ranks above every partial one.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;
use tantivy::collector::{DocSetCollector, TopDocs};
use tantivy::query::{BooleanQuery, ConstScoreQuery, Occur, Query as TQuery, TermQuery};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{DocAddress, Index, ReloadPolicy, TantivyDocument, Term};

use crate::index::{self, Fields};
use crate::query::{EXACT_SCORE, Query, exact_query};
use crate::rank;
use crate::show::Neighbour;

/// How many of Tantivy's best candidates are reranked with proximity, title and runs of the
/// query (each costs reading its stored passage).
const RERANK_DEPTH: usize = 30;

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MatchKind {
    /// Every term of the query matched.
    All,
    /// Most of the query's words matched (a fill-up below the strict hits).
    Partial,
}

/// For the partial tier: the strict hits to leave out, and each word's weight (IDF).
type Partial<'a> = Option<(&'a HashSet<DocAddress>, &'a dyn Fn(&str) -> f32)>;

/// One ranked passage.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Hit {
    /// `FILE#L57` or `FILE#L57-L59`.
    pub id: String,
    pub source: String,
    pub line_start: usize,
    pub line_end: usize,
    /// 1-based paragraph number in the file; 0 for a line that is not a paragraph a reader
    /// sees (front matter, markup).
    pub paragraph: usize,
    /// For a piece of a very long line: its first and last character columns (1-based).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column_start: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column_end: Option<usize>,
    pub score: f32,
    #[serde(rename = "match")]
    pub match_kind: MatchKind,
    /// The passage's own words where a term matched only through a regional variant.
    pub variant: Option<String>,
    pub title: Option<String>,
    pub author: Option<String>,
    pub date: Option<String>,
    pub url: Option<String>,
    /// The encoding the file was read with (`UTF-8`, `gb18030`, `Big5`, `UTF-16LE`…).
    pub encoding: Option<String>,
    /// The passage exactly as in the file, lines joined with `\n`.
    pub text: String,
    /// Byte ranges of `text` that match the query.
    pub highlights: Vec<[usize; 2]>,
    /// Paragraphs before and after, with `--context N`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub context_before: Vec<Neighbour>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub context_after: Vec<Neighbour>,
}

impl Hit {
    /// A hit for unit tests: `a.txt` line 57, paragraph 54, titled 標題.
    #[cfg(test)]
    pub(crate) fn sample(text: &str, highlights: Vec<[usize; 2]>) -> Hit {
        Hit {
            id: "a.txt#L57".into(),
            source: "a.txt".into(),
            line_start: 57,
            line_end: 57,
            paragraph: 54,
            column_start: None,
            column_end: None,
            score: 1.0,
            match_kind: MatchKind::All,
            variant: None,
            title: Some("標題".into()),
            author: None,
            date: None,
            url: None,
            encoding: None,
            text: text.into(),
            highlights,
            context_before: Vec::new(),
            context_after: Vec::new(),
        }
    }

    /// `file:57` or `file:57-59`.
    pub fn location(&self) -> String {
        crate::cite::location(&self.source, self.line_start, self.line_end)
    }
}

/// A read-only view of an index.
pub struct Searcher {
    reader: tantivy::IndexReader,
    fields: Fields,
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

    /// Searches an index already open (as [`crate::update::update`] leaves it).
    pub fn new(index: Index) -> Result<Searcher> {
        let fields = Fields::new(&index.schema())?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Searcher { reader, fields })
    }

    /// The best `limit` passages after skipping `offset`, best first; ties by file and line.
    pub fn search(&self, query: &Query, limit: usize, offset: usize) -> Result<Vec<Hit>> {
        let searcher = self.reader.searcher();
        // Words live in the character field (a one-character word is its character's token).
        let words = self.fields.chars;
        let doc_freq = |w: &str| {
            searcher
                .doc_freq(&Term::from_field_text(words, w))
                .unwrap_or(0)
        };
        let total: u64 = searcher
            .segment_readers()
            .iter()
            .filter_map(|r| r.inverted_index(words).ok())
            .map(|ii| ii.total_num_tokens())
            .sum();
        let mut query = query.clone();
        query.segment(total, doc_freq);
        if !query.titles.is_empty() {
            query.title_sources = Some(self.titled_sources(&searcher, &query.titles)?);
        }

        let want = offset + limit;
        let fetch = want.max(RERANK_DEPTH);
        let top = match query.single_word() {
            Some(word) => self.single_word_top(&searcher, word, fetch)?,
            None => searcher.search(
                &*query.strict(&self.fields),
                &TopDocs::with_limit(fetch).order_by_score(),
            )?,
        };
        let strict = self.tier(&searcher, &query, top, want, None)?;
        let mut hits: Vec<Hit> = strict.iter().map(|(_, h)| h.clone()).collect();
        if hits.len() < want && query.can_relax() {
            let n = searcher.num_docs() as f32;
            let idf = |w: &str| {
                let df = doc_freq(w) as f32;
                (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
            };
            let seen: HashSet<DocAddress> = strict.iter().map(|(a, _)| *a).collect();
            let relaxed = query.relaxed(&self.fields);
            let fetch = (want + seen.len()).max(RERANK_DEPTH);
            let top = searcher.search(&*relaxed, &TopDocs::with_limit(fetch).order_by_score())?;
            let partial = self.tier(
                &searcher,
                &query,
                top,
                want + seen.len(),
                Some((&seen, &idf)),
            )?;
            hits.extend(partial.into_iter().map(|(_, h)| h));
        }
        Ok(hits.into_iter().skip(offset).take(limit).collect())
    }

    /// One tier of hits, reranked; `partial` gives the strict hits to skip and word weights.
    fn tier(
        &self,
        searcher: &tantivy::Searcher,
        query: &Query,
        top: Vec<(f32, DocAddress)>,
        want: usize,
        partial: Partial,
    ) -> Result<Vec<(DocAddress, Hit)>> {
        // Tantivy's best RERANK_DEPTH candidates are reranked with the passage-level signals;
        // the rest keep Tantivy's order after them. The depth does not depend on the page, so
        // every page (`--offset`) is a slice of one ranking; equal scores go by file and line.
        let mut metas: HashMap<String, FileMeta> = HashMap::new();
        let mut cands: Vec<(f32, DocAddress, Hit)> = Vec::with_capacity(top.len());
        for (score, addr) in top {
            if let Some(hit) = self.rerank(searcher, query, addr, score, partial, &mut metas)? {
                cands.push((score, addr, hit));
            }
        }
        let by_file_line = |a: &Hit, b: &Hit| {
            a.source
                .cmp(&b.source)
                .then_with(|| a.line_start.cmp(&b.line_start))
        };
        cands.sort_by(|(x, _, a), (y, _, b)| y.total_cmp(x).then_with(|| by_file_line(a, b)));
        let tail = cands.split_off(cands.len().min(RERANK_DEPTH));
        cands.sort_by(|(_, _, a), (_, _, b)| {
            b.score.total_cmp(&a.score).then_with(|| by_file_line(a, b))
        });
        Ok(cands
            .into_iter()
            .chain(tail)
            .take(want)
            .map(|(_, addr, hit)| (addr, hit))
            .collect())
    }

    /// A candidate as a hit with its final score; `None` when a partial match covers too
    /// little of the query.
    fn rerank(
        &self,
        searcher: &tantivy::Searcher,
        query: &Query,
        addr: DocAddress,
        score: f32,
        partial: Partial,
        metas: &mut HashMap<String, FileMeta>,
    ) -> Result<Option<Hit>> {
        if partial.is_some_and(|(seen, _)| seen.contains(&addr)) {
            return Ok(None);
        }
        let doc: TantivyDocument = searcher.doc(addr)?;
        let source = text_of(&doc, self.fields.source).unwrap_or_default();
        let meta = self.file_meta(searcher, &source, metas)?;
        let stored = Stored::new(&self.fields, &doc, meta);
        let visible = stored.visible();
        // Front matter: paragraph 0 with a visible value (markup lines have none).
        let front_matter = stored.paragraph == 0 && !visible.is_empty();
        let passage = rank::Passage::new(&stored.text, &visible, front_matter);
        if let Some((_, idf)) = partial
            && rank::coverage(query, &passage, idf) < rank::MIN_COVERAGE
        {
            return Ok(None);
        }
        let found = rank::findings(query, &passage, stored.meta.title.as_deref());
        let kind = if partial.is_some() {
            MatchKind::Partial
        } else {
            MatchKind::All
        };
        Ok(Some(stored.into_hit(score + found.boost, kind, found)))
    }
}

impl Searcher {
    /// The strict tier's best `fetch` candidates for a query that is one index word (see
    /// [`Query::single_word`]), scored as the general query scores them: the word's best by
    /// BM25 (pruned by Tantivy), then passages holding the term only inside other words.
    fn single_word_top(
        &self,
        searcher: &tantivy::Searcher,
        word: &str,
        fetch: usize,
    ) -> Result<Vec<(f32, DocAddress)>> {
        let f = &self.fields;
        let bm25 = TermQuery::new(
            Term::from_field_text(f.chars, word),
            IndexRecordOption::WithFreqs,
        );
        let mut top: Vec<(f32, DocAddress)> = searcher
            .search(&bm25, &TopDocs::with_limit(fetch).order_by_score())?
            .into_iter()
            .map(|(score, addr)| (score + EXACT_SCORE, addr))
            .collect();
        if top.len() < fetch {
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
            let more = TopDocs::with_limit(fetch - top.len()).order_by_score();
            top.extend(searcher.search(&rest, &more)?);
        }
        Ok(top)
    }

    /// The metadata entry of file `source`, looked up once per search.
    fn file_meta(
        &self,
        searcher: &tantivy::Searcher,
        source: &str,
        cache: &mut HashMap<String, FileMeta>,
    ) -> Result<FileMeta> {
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
                FileMeta {
                    title: text_of(&doc, f.title),
                    author: text_of(&doc, f.author),
                    date: text_of(&doc, f.date),
                    url: text_of(&doc, f.url),
                    encoding: text_of(&doc, f.encoding),
                }
            }
            None => FileMeta::default(),
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
    meta: FileMeta,
}

/// Metadata of a file, from its index entry.
#[derive(Debug, Clone, Default)]
struct FileMeta {
    title: Option<String>,
    author: Option<String>,
    date: Option<String>,
    url: Option<String>,
    encoding: Option<String>,
}

impl Stored {
    fn new(f: &Fields, doc: &TantivyDocument, meta: FileMeta) -> Stored {
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
            meta,
        }
    }

    fn visible(&self) -> Vec<crate::analysis::Piece> {
        index::stored_pieces(&self.text, self.visible.as_deref())
    }

    fn into_hit(self, score: f32, match_kind: MatchKind, found: rank::Findings) -> Hit {
        let id = if self.line_start == self.line_end {
            format!("{}#L{}", self.source, self.line_start)
        } else {
            format!("{}#L{}-L{}", self.source, self.line_start, self.line_end)
        };
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
            title: self.meta.title,
            author: self.meta.author,
            date: self.meta.date,
            url: self.meta.url,
            encoding: self.meta.encoding,
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

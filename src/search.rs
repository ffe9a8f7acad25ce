//! Running a query against the index: ranked passages with their citation and highlights.

use std::ops::Range;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;
use tantivy::collector::TopDocs;
use tantivy::schema::Value;
use tantivy::{DocAddress, Index, ReloadPolicy, TantivyDocument};

use crate::analysis::{self, Piece};
use crate::index::{self, Fields};
use crate::query::Query;

/// One ranked passage.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Hit {
    /// `FILE#L57` or `FILE#L57-L59`.
    pub id: String,
    pub source: String,
    pub line_start: usize,
    pub line_end: usize,
    /// 1-based paragraph number in the file; 0 for a front matter line.
    pub paragraph: usize,
    pub score: f32,
    pub title: Option<String>,
    pub date: Option<String>,
    /// The passage exactly as in the file, lines joined with `\n`.
    pub text: String,
    /// Byte ranges of `text` that match the query.
    pub highlights: Vec<[usize; 2]>,
}

impl Hit {
    /// `file:57` or `file:57-59`.
    pub fn location(&self) -> String {
        if self.line_start == self.line_end {
            format!("{}:{}", self.source, self.line_start)
        } else {
            format!("{}:{}-{}", self.source, self.line_start, self.line_end)
        }
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
        let mut query = query.clone();
        let words = self.fields.words;
        let total: u64 = searcher
            .segment_readers()
            .iter()
            .filter_map(|r| r.inverted_index(words).ok())
            .map(|ii| ii.total_num_tokens())
            .sum();
        query.segment(total, |w| {
            searcher
                .doc_freq(&tantivy::Term::from_field_text(words, w))
                .unwrap_or(0)
        });
        let query = &query;
        let tq = query.to_tantivy(&self.fields);
        // Fetch a margin beyond the page so that ties at its edge are ordered by file and line.
        let want = offset + limit;
        let top = searcher.search(&tq, &TopDocs::with_limit(want + 32).order_by_score())?;
        let mut hits = Vec::with_capacity(top.len());
        for (score, addr) in top {
            hits.push(self.hit(&searcher, addr, score, query)?);
        }
        hits.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.source.cmp(&b.source))
                .then_with(|| a.line_start.cmp(&b.line_start))
        });
        Ok(hits.into_iter().skip(offset).take(limit).collect())
    }

    fn hit(&self, s: &tantivy::Searcher, addr: DocAddress, score: f32, q: &Query) -> Result<Hit> {
        let doc: TantivyDocument = s.doc(addr)?;
        let f = &self.fields;
        let text_of = |field| {
            doc.get_first(field)
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        let num_of = |field| doc.get_first(field).and_then(|v| v.as_u64()).unwrap_or(0) as usize;
        let source = text_of(f.source).unwrap_or_default();
        let text = text_of(f.text).unwrap_or_default();
        let visible = index::decode_pieces(&text, &text_of(f.visible).unwrap_or_default());
        let (line_start, line_end) = (num_of(f.line_start), num_of(f.line_end));
        let paragraph = num_of(f.paragraph);
        let id = if line_start == line_end {
            format!("{source}#L{line_start}")
        } else {
            format!("{source}#L{line_start}-L{line_end}")
        };
        let highlights = highlights(&text, &visible, paragraph == 0, q)
            .into_iter()
            .map(|r| [r.start, r.end])
            .collect();
        Ok(Hit {
            id,
            source,
            line_start,
            line_end,
            paragraph,
            score,
            title: text_of(f.title),
            date: text_of(f.date),
            text,
            highlights,
        })
    }
}

/// Byte ranges of `text` to highlight: each term where it occurs as a string (in the raw text,
/// else in the visible text), else each of its words.
pub fn highlights(
    text: &str,
    visible: &[Piece],
    front_matter: bool,
    q: &Query,
) -> Vec<Range<usize>> {
    let raw = if front_matter {
        None
    } else {
        Some(analysis::normalize_mapped(text))
    };
    let vis = analysis::normalize_pieces(visible);
    let mut out: Vec<Range<usize>> = Vec::new();
    for t in &q.terms {
        let mut found = false;
        for n in raw.iter().chain(std::iter::once(&vis)) {
            let hits = n.find_all(&t.norm);
            if !hits.is_empty() {
                out.extend(hits.into_iter().map(|h| n.orig_range(h)));
                found = true;
                break;
            }
        }
        if !found && !t.quoted {
            for w in &t.words {
                out.extend(vis.find_all(w).into_iter().map(|h| vis.orig_range(h)));
            }
        }
    }
    merge(out)
}

fn merge(mut ranges: Vec<Range<usize>>) -> Vec<Range<usize>> {
    ranges.sort_by_key(|r| (r.start, r.end));
    let mut out: Vec<Range<usize>> = Vec::new();
    for r in ranges {
        match out.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::parse;

    #[test]
    fn highlights_land_on_original_characters() {
        let text = "突破「５Ｋ瓶頸」與5k瓶颈";
        let q = parse("5k瓶颈").unwrap();
        let got = highlights(text, &[Piece::verbatim(text, 0..text.len())], false, &q);
        let spans: Vec<&str> = got.iter().map(|r| &text[r.clone()]).collect();
        assert_eq!(spans, vec!["５Ｋ瓶頸", "5k瓶颈"]);
    }

    #[test]
    fn merges_overlaps() {
        assert_eq!(merge(vec![3..5, 0..2, 1..4, 7..8]), vec![0..5, 7..8]);
    }
}

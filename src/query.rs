//! The query language and its translation to Tantivy queries.
//!
//! `zhsearch search 5k瓶颈 "開源不是慈善"`: space-separated terms, all required. A quoted term is
//! an exact phrase: it matches exactly the passages whose normalised text contains it. A bare
//! term matches the same passages, and also those that hold all of its jieba words; passages
//! with the exact string rank above the others.

use anyhow::{Result, bail};
use tantivy::Term;
use tantivy::query::{
    BooleanQuery, ConstScoreQuery, Occur, PhraseQuery, Query as TQuery, TermQuery,
};
use tantivy::schema::IndexRecordOption;

use crate::analysis;
use crate::index::Fields;

/// Score of a passage that contains a term as an exact string, added to its BM25 score; far
/// above any BM25 sum, so exact matches always rank first.
pub const EXACT_SCORE: f32 = 1000.0;

/// Longest query accepted, in characters after normalisation.
pub const MAX_QUERY_CHARS: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryTerm {
    /// As typed.
    pub raw: String,
    /// Normalised like the text (NFKC, lowercase, t2s).
    pub norm: String,
    pub quoted: bool,
    /// Words of `norm`, deduplicated, in order; filled by [`Query::segment`] from the index's
    /// vocabulary.
    pub words: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub terms: Vec<QueryTerm>,
}

/// Parses a query. Unbalanced quotes are read leniently (the phrase runs to the end).
pub fn parse(input: &str) -> Result<Query> {
    let mut terms = Vec::new();
    let mut chars = input.chars().peekable();
    let mut current = String::new();
    let push = |raw: &str, quoted: bool, terms: &mut Vec<QueryTerm>| {
        let norm = analysis::normalize(raw);
        if norm.trim().is_empty() {
            return;
        }
        // A bare term's surrounding spaces are separators; a phrase's are part of it.
        let norm = if quoted {
            norm
        } else {
            norm.trim().to_string()
        };
        terms.push(QueryTerm {
            raw: raw.to_string(),
            norm,
            quoted,
            words: Vec::new(),
        });
    };
    while let Some(c) = chars.next() {
        if c == '"' || c == '＂' {
            push(&current, false, &mut terms);
            current.clear();
            let phrase: String = chars
                .by_ref()
                .take_while(|&c| c != '"' && c != '＂')
                .collect();
            push(&phrase, true, &mut terms);
        } else if c.is_whitespace() {
            push(&current, false, &mut terms);
            current.clear();
        } else {
            current.push(c);
        }
    }
    push(&current, false, &mut terms);

    if terms.is_empty() {
        bail!("the query is empty: give a word or a \"phrase\" to search for");
    }
    let len: usize = terms.iter().map(|t| t.norm.chars().count()).sum();
    if len > MAX_QUERY_CHARS {
        bail!(
            "the query is too long ({len} characters, at most {MAX_QUERY_CHARS}): search for a shorter phrase"
        );
    }
    Ok(Query { terms })
}

impl Query {
    /// Fills each term's words by segmenting it against the index's vocabulary (see
    /// [`analysis::segment`]).
    pub fn segment(&mut self, total: u64, freq: impl Fn(&str) -> u64) {
        for t in &mut self.terms {
            t.words.clear();
            for w in analysis::segment(&t.norm, total, &freq) {
                if !t.words.contains(&w.text) {
                    t.words.push(w.text);
                }
            }
        }
    }

    /// The Tantivy query: every term required.
    pub fn to_tantivy(&self, f: &Fields) -> Box<dyn TQuery> {
        let mut clauses: Vec<(Occur, Box<dyn TQuery>)> = self
            .terms
            .iter()
            .map(|t| (Occur::Must, term_query(f, t)))
            .collect();
        if clauses.len() == 1 {
            return clauses.pop().expect("one clause").1;
        }
        Box::new(BooleanQuery::new(clauses))
    }
}

fn term_query(f: &Fields, t: &QueryTerm) -> Box<dyn TQuery> {
    let exact: Box<dyn TQuery> =
        Box::new(ConstScoreQuery::new(exact_query(f, &t.norm), EXACT_SCORE));
    if t.words.is_empty() {
        return exact;
    }
    let word = |w: &String| -> Box<dyn TQuery> {
        Box::new(TermQuery::new(
            Term::from_field_text(f.words, w),
            IndexRecordOption::WithFreqs,
        ))
    };
    // BM25 over the term's words ranks the passages that match.
    let bm25: Box<dyn TQuery> = Box::new(BooleanQuery::new(
        t.words.iter().map(|w| (Occur::Should, word(w))).collect(),
    ));
    let gate: Box<dyn TQuery> = if t.quoted {
        exact
    } else {
        let all_words = BooleanQuery::new(t.words.iter().map(|w| (Occur::Must, word(w))).collect());
        Box::new(BooleanQuery::new(vec![
            (Occur::Should, exact),
            (
                Occur::Should,
                Box::new(ConstScoreQuery::new(Box::new(all_words), 0.0)),
            ),
        ]))
    };
    Box::new(BooleanQuery::new(vec![
        (Occur::Must, gate),
        (Occur::Should, bm25),
    ]))
}

/// Passages whose normalised text contains `norm`: consecutive character tokens.
fn exact_query(f: &Fields, norm: &str) -> Box<dyn TQuery> {
    let terms: Vec<Term> = norm
        .chars()
        .map(|c| Term::from_field_text(f.chars, c.encode_utf8(&mut [0; 4])))
        .collect();
    if terms.len() == 1 {
        let term = terms.into_iter().next().expect("one term");
        Box::new(TermQuery::new(term, IndexRecordOption::Basic))
    } else {
        Box::new(PhraseQuery::new(terms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(q: &str) -> Vec<(String, bool)> {
        parse(q)
            .unwrap()
            .terms
            .into_iter()
            .map(|t| (t.norm, t.quoted))
            .collect()
    }

    #[test]
    fn splits_terms_and_phrases() {
        assert_eq!(
            terms("苹果  阿里巴巴\u{3000}\"開源 不是\" ５Ｋ瓶頸"),
            vec![
                ("苹果".into(), false),
                ("阿里巴巴".into(), false),
                ("开源 不是".into(), true),
                ("5k瓶颈".into(), false)
            ]
        );
    }

    #[test]
    fn unbalanced_quote_runs_to_the_end() {
        assert_eq!(
            terms("a \"b c"),
            vec![("a".into(), false), ("b c".into(), true)]
        );
        assert_eq!(terms("\"\" x"), vec![("x".into(), false)]);
    }

    #[test]
    fn empty_and_overlong_queries_are_refused() {
        assert!(parse("").is_err());
        assert!(parse("  \"\" ").is_err());
        let long = "字".repeat(MAX_QUERY_CHARS + 1);
        assert!(parse(&long).unwrap_err().to_string().contains("too long"));
    }

    #[test]
    fn words_are_deduplicated() {
        let mut q = parse("瓶颈瓶颈").unwrap();
        q.segment(100, |w| u64::from(w == "瓶颈"));
        assert_eq!(q.terms[0].words, vec!["瓶颈".to_string()]);
    }
}

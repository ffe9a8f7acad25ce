//! A plan's tiers as Tantivy queries over the passages' character and word terms.

use tantivy::Term;
use tantivy::query::{
    BooleanQuery, ConstScoreQuery, EmptyQuery, Occur, PhraseQuery, Query as TQuery, RegexQuery,
    TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};

use super::cover;
use super::relaxed::{Common, RelaxedUnion};
use crate::search::backend::{EXACT_SCORE, VARIANT_SCORE};
use crate::search::fuzzy;
use crate::search::glob::glob_regex;
use crate::search::plan::{Plan, Term as PlanTerm};
use crate::store::index::Fields;
use crate::text::analysis::{is_long_word, is_spacing};

/// The strict tier: every group matched, as a string or by all of a term's pieces (see
/// `term_query`). The searcher verifies each candidate against its text.
pub(super) fn strict(plan: &Plan, f: &Fields) -> Box<dyn TQuery> {
    let mut clauses: Vec<(Occur, Box<dyn TQuery>)> = Vec::new();
    for group in &plan.groups {
        let alternatives: Vec<Box<dyn TQuery>> = group.iter().map(|t| term_query(f, t)).collect();
        clauses.push((Occur::Must, any_of(alternatives)));
    }
    add_filters(plan, f, &mut clauses);
    Box::new(BooleanQuery::new(clauses))
}

/// The relaxed tier: passages with any word of the bare terms or any two of their characters
/// side by side (ranked by BM25, exact strings first), so that a line whose words a
/// misremembered character broke is still found; quoted phrases, exclusions and filters still
/// hold. When every term is quoted (phrases that match nothing), the phrases relax like bare
/// terms. The searcher keeps the candidates that hold enough of the query (see
/// [`crate::search::fuzzy`]).
pub(super) fn relaxed(plan: &Plan, f: &Fields) -> Box<dyn TQuery> {
    let mut should: Vec<Box<dyn TQuery>> = Vec::new();
    // The forms' strings: their place in `should`, their form, terms and score.
    let mut strings = Vec::new();
    let mut clauses: Vec<(Occur, Box<dyn TQuery>)> = Vec::new();
    let loose: Vec<&PlanTerm> = fuzzy::relaxed_terms(plan).collect();
    let mut pairs: Vec<[char; 2]> = Vec::new();
    let mut forms: Vec<&str> = Vec::new();
    for t in plan.terms() {
        if !loose.contains(&t) {
            clauses.push((Occur::Must, term_query(f, t)));
            continue;
        }
        for (k, form) in t.forms.iter().enumerate() {
            let score = if k == 0 { EXACT_SCORE } else { VARIANT_SCORE };
            let exact = exact_terms(f.chars, &form.norm);
            strings.push((should.len(), forms.len(), exact, score));
            should.push(Box::new(EmptyQuery));
            // A one-character word alone would fetch every passage holding the character,
            // a question word every passage that asks something.
            let long = form
                .words
                .iter()
                .filter(|w| is_long_word(w) && !fuzzy::is_stop_word(w));
            should.extend(long.map(|w| word_query(f, w)));
            for pair in bigrams(&form.norm) {
                if pairs.len() < MAX_BIGRAMS && !pairs.contains(&pair) {
                    pairs.push(pair);
                }
            }
            forms.push(form.norm.as_str());
        }
    }
    let forms = forms.iter().map(|n| cover::form_pairs(n, &pairs)).collect();
    let pairs = pairs
        .iter()
        .map(|p| p.map(|c| char_term(f.chars, c)))
        .collect();
    let mut union = RelaxedUnion::new(should, pairs, forms, Common::default());
    for (at, form, terms, score) in strings {
        union.set_string(at, form, terms, score);
    }
    clauses.push((Occur::Must, Box::new(union)));
    add_filters(plan, f, &mut clauses);
    Box::new(BooleanQuery::new(clauses))
}

/// At most this many character pairs of a query are looked up.
const MAX_BIGRAMS: usize = 64;

/// Pairs of letters or digits side by side in `norm` once its whitespace is gone, as in the
/// index (punctuation is no part of what a writer remembers; spacing is typography).
fn bigrams(norm: &str) -> Vec<[char; 2]> {
    let chars: Vec<char> = norm.chars().filter(|c| !c.is_whitespace()).collect();
    chars
        .windows(2)
        .filter(|w| w.iter().all(|c| c.is_alphanumeric()))
        .map(|w| [w[0], w[1]])
        .collect()
}

/// The term of one character.
fn char_term(field: Field, c: char) -> Term {
    Term::from_field_text(field, c.encode_utf8(&mut [0; 4]))
}

pub(super) fn add_filters(plan: &Plan, f: &Fields, clauses: &mut Vec<(Occur, Box<dyn TQuery>)>) {
    for t in &plan.excluded {
        for form in &t.forms {
            clauses.push((Occur::MustNot, exact_query(f.chars, &form.norm)));
        }
    }
    if !plan.sources.is_empty() {
        // Globs were checked when parsed; one Tantivy still refuses matches nothing.
        let globs: Vec<Box<dyn TQuery>> = plan
            .sources
            .iter()
            .filter_map(|g| glob_regex(g).ok())
            .filter_map(|re| RegexQuery::from_pattern(&re, f.source).ok())
            .map(|q| Box::new(ConstScoreQuery::new(Box::new(q), 0.0)) as Box<dyn TQuery>)
            .collect();
        clauses.push((Occur::Must, any_of(globs)));
    }
    if let Some(sources) = &plan.title_sources {
        let files: Vec<Box<dyn TQuery>> = sources
            .iter()
            .map(|s| {
                let q =
                    TermQuery::new(Term::from_field_text(f.source, s), IndexRecordOption::Basic);
                Box::new(ConstScoreQuery::new(Box::new(q), 0.0)) as Box<dyn TQuery>
            })
            .collect();
        // No file with such a title: nothing matches.
        let filter = if files.is_empty() {
            Box::new(EmptyQuery) as Box<dyn TQuery>
        } else {
            any_of(files)
        };
        clauses.push((Occur::Must, filter));
    }
}

/// One query matching any of `queries`.
pub(super) fn any_of(mut queries: Vec<Box<dyn TQuery>>) -> Box<dyn TQuery> {
    if queries.len() == 1 {
        return queries.pop().expect("one query");
    }
    Box::new(BooleanQuery::new(
        queries.into_iter().map(|q| (Occur::Should, q)).collect(),
    ))
}

fn word_query(f: &Fields, w: &str) -> Box<dyn TQuery> {
    Box::new(TermQuery::new(
        Term::from_field_text(f.chars, w),
        IndexRecordOption::WithFreqs,
    ))
}

/// A term: its exact string (or a regional variant's), or for a bare term every piece of one
/// form's segmentation: its words of two characters or more as words of the passage, its other
/// characters as characters. A form without such a word is matched as a string only (`京大`
/// is not `东京、大阪`). BM25 over the words ranks the passages that match.
fn term_query(f: &Fields, t: &PlanTerm) -> Box<dyn TQuery> {
    let mut gate: Vec<Box<dyn TQuery>> = Vec::new();
    let mut words: Vec<&String> = Vec::new();
    for (k, form) in t.forms.iter().enumerate() {
        let score = if k == 0 { EXACT_SCORE } else { VARIANT_SCORE };
        gate.push(Box::new(ConstScoreQuery::new(
            exact_query(f.chars, &form.norm),
            score,
        )));
        if !t.quoted && form.matches_by_words() {
            let pieces = form.long_words().chain(&form.singles);
            let all = pieces.map(|w| (Occur::Must, word_query(f, w))).collect();
            gate.push(Box::new(ConstScoreQuery::new(
                Box::new(BooleanQuery::new(all)),
                0.0,
            )));
        }
        for w in &form.words {
            if !words.contains(&w) {
                words.push(w);
            }
        }
    }
    let gate = any_of(gate);
    if words.is_empty() {
        return gate;
    }
    let bm25 = any_of(words.into_iter().map(|w| word_query(f, w)).collect());
    Box::new(BooleanQuery::new(vec![
        (Occur::Must, gate),
        (Occur::Should, bm25),
    ]))
}

/// Passages whose normalised text contains `norm`, whitespace aside: consecutive character
/// tokens (whitespace is no token and takes no position, see `TextTokenizer`).
pub(super) fn exact_query(field: Field, norm: &str) -> Box<dyn TQuery> {
    phrase_query(exact_terms(field, norm))
}

/// The character terms of `norm` that [`exact_query`] looks for, with their offsets.
pub(super) fn exact_terms(field: Field, norm: &str) -> Vec<(usize, Term)> {
    norm.chars()
        .filter(|&c| !is_spacing(c))
        .map(|c| Term::from_field_text(field, c.encode_utf8(&mut [0; 4])))
        .enumerate()
        .collect()
}

/// Passages holding `terms` at their offsets from one position.
pub(super) fn phrase_query(mut terms: Vec<(usize, Term)>) -> Box<dyn TQuery> {
    match terms.len() {
        // A blank phrase is dropped when the query is parsed.
        0 => Box::new(EmptyQuery),
        1 => {
            let (_, term) = terms.pop().expect("one term");
            Box::new(TermQuery::new(term, IndexRecordOption::Basic))
        }
        _ => Box::new(PhraseQuery::new_with_offset(terms)),
    }
}

/// Entries holding `text` in `field` as one term.
pub(super) fn term(field: Field, text: &str) -> Box<dyn TQuery> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, text),
        IndexRecordOption::Basic,
    ))
}

/// The entries holding files' metadata.
pub(super) fn file_entries(f: &Fields) -> Box<dyn TQuery> {
    Box::new(TermQuery::new(
        Term::from_field_u64(f.file, 1),
        IndexRecordOption::Basic,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bigrams_are_pairs_of_letters_or_digits_side_by_side() {
        assert_eq!(
            bigrams("近身，藥裹a1 b"),
            vec![
                ['近', '身'],
                ['藥', '裹'],
                ['裹', 'a'],
                ['a', '1'],
                ['1', 'b']
            ]
        );
        assert!(bigrams("近").is_empty());
    }

    #[test]
    fn globs() {
        let m = |g: &str, s: &str| glob_matches(&glob_regex(g).unwrap(), s);
        assert!(m("00*.txt", "001_a.txt"));
        assert!(m("00*.txt", "sub/001_a.txt"));
        assert!(!m("00*.txt", "001_a.md"));
        assert!(m("notes/*.md", "notes/a.md"));
        assert!(!m("notes/*.md", "notes/x/a.md"));
        assert!(m("notes/**/*.md", "notes/x/y/a.md"));
        assert!(m("notes/**/*.md", "notes/a.md"));
        assert!(m("a+b (1).txt", "a+b (1).txt"));
        assert!(m("00[0-1]_*.txt", "001_a.txt"));
        assert!(!m("00[0-1]_*.txt", "002_a.txt"));
        assert!(m("[!0]*.md", "a.md") && !m("[!0]*.md", "0.md"));
        assert!(m("[]]x", "]x"));
        assert!(
            glob_regex("a[/]b").is_err(),
            "a set never matches a folder separator"
        );
    }

    /// Runs the regex as Tantivy does, on a one-document index holding `path`.
    fn glob_matches(re: &str, path: &str) -> bool {
        use tantivy::schema::{STRING, Schema};
        use tantivy::{Index, TantivyDocument, collector::Count};
        let mut b = Schema::builder();
        let field = b.add_text_field("p", STRING);
        let index = Index::create_in_ram(b.build());
        let mut w = index.writer_with_num_threads(1, 15_000_000).unwrap();
        let mut d = TantivyDocument::new();
        d.add_text(field, path);
        w.add_document(d).unwrap();
        w.commit().unwrap();
        let q = RegexQuery::from_pattern(re, field).unwrap();
        index
            .reader()
            .unwrap()
            .searcher()
            .search(&q, &Count)
            .unwrap()
            == 1
    }
}

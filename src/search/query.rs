//! The query language: a query string read into a syntax tree that knows nothing of any index
//! (see [`crate::search::plan`] for binding it to one).
//!
//! ```text
//! 5k瓶颈              a term: the passages that contain it as a string (in either script,
//!                     inside longer words too) or, failing that, all of its words
//! 苹果 合作            all terms are required
//! "开源不是慈善"        an exact phrase: exactly the passages that contain it
//! -广告 -"付费阅读"     exclude passages containing a term or phrase
//! 软件 OR 硬件         either is enough
//! source:00*.txt      only files whose path matches the glob
//! title:阿里           only documents whose title contains the text
//! author:林小雨 date:>=2024   only documents whose front matter says so
//! ```
//! Input is folded like the text (full width, case, script); `OR` must be upper case.

use unicode_normalization::UnicodeNormalization;

pub use crate::search::glob::{GlobError, check_glob};
use crate::text::analysis;

/// The deepest row a search shows (offset + limit): every row before it is ranked to show it,
/// so deeper pages would cost time and memory without bound.
pub const MAX_ROWS: usize = 10_000;

/// Longest query accepted, in characters (spaces included) after NFKC.
pub const MAX_QUERY_CHARS: usize = 1000;
/// Most terms, phrases, exclusions and filters a query may hold: each costs a clause of the
/// backend's query and a scan of every candidate passage.
pub const MAX_QUERY_TERMS: usize = 100;

/// Why a query is refused. The messages are the ones a user reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// Nothing at all to search for.
    #[error("the query is empty: give a word or a \"phrase\" to search for")]
    Empty,
    /// Only exclusions and filters.
    #[error(
        "the query has nothing to search for: add a word or a \"phrase\" besides the exclusions and filters"
    )]
    NothingToSearch,
    /// Over [`MAX_QUERY_CHARS`].
    #[error(
        "the query is too long ({chars} characters with spaces, at most {MAX_QUERY_CHARS}): search for a shorter phrase"
    )]
    TooLong {
        /// Characters after NFKC, spaces included.
        chars: usize,
    },
    /// Over [`MAX_QUERY_TERMS`].
    #[error(
        "the query has too many terms ({terms}, at most {MAX_QUERY_TERMS}): search for fewer words, or quote a phrase"
    )]
    TooManyTerms {
        /// Terms, phrases, exclusions and filters.
        terms: usize,
    },
    /// A page that starts or ends past [`MAX_ROWS`].
    #[error(
        "rows past the first {MAX_ROWS} are not shown (offset {offset} + limit {limit}): narrow the query instead, e.g. with source:, title: or date:"
    )]
    TooDeep {
        /// Rows skipped.
        offset: usize,
        /// Rows asked for.
        limit: usize,
    },
    /// A `source:` glob that cannot be read.
    #[error(transparent)]
    BadGlob(#[from] GlobError),
    /// `source:` with nothing after it.
    #[error("`source:` needs a file glob, e.g. source:'notes/*.md'")]
    EmptySource,
    /// `title:` with nothing after it.
    #[error("`title:` needs the text of a title, e.g. title:阿里")]
    EmptyTitle,
    /// An `author:` or `date:` filter that cannot be read.
    #[error(transparent)]
    Meta(#[from] crate::search::meta::MetaError),
    /// `-source:` or `-title:`.
    #[error(
        "`-{field}:` is not supported: a filter keeps files, it does not leave them out; narrow the search with `{field}:` instead"
    )]
    UnsupportedExclusion {
        /// `source` or `title`.
        field: String,
    },
}

/// A term or phrase of the query, as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// As typed (after NFKC).
    pub raw: String,
    /// Normalised like the text (NFKC, lowercase, t2s); never blank.
    pub norm: String,
    /// A `"phrase"`: matched as a string only, without regional variants.
    pub quoted: bool,
}

impl Term {
    fn new(raw: &str, quoted: bool) -> Option<Term> {
        let norm = analysis::normalize(raw);
        // A bare term's surrounding spaces are separators; a phrase's are part of it.
        let norm = if quoted {
            norm
        } else {
            norm.trim().to_string()
        };
        if norm.trim().is_empty() {
            return None;
        }
        Some(Term {
            raw: raw.to_string(),
            norm,
            quoted,
        })
    }
}

/// A parsed query: what was asked, before any index is consulted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Query {
    /// Every group is required; within a group (`a OR b`) one term is enough.
    pub groups: Vec<Vec<Term>>,
    /// Passages containing any of these are left out.
    pub excluded: Vec<Term>,
    /// File path globs (`source:`); a passage must match one of them.
    pub sources: Vec<String>,
    /// Normalised texts that the document title must contain (`title:`).
    pub titles: Vec<String>,
    /// `author:` and `date:` filters, all of which a document must pass.
    pub meta: Vec<crate::search::meta::MetaFilter>,
}

impl Query {
    /// Every positive term, in order.
    pub fn terms(&self) -> impl Iterator<Item = &Term> {
        self.groups.iter().flatten()
    }
}

/// A lexical item of the query string.
#[derive(Debug, PartialEq)]
enum Token {
    Text {
        text: String,
        quoted: bool,
        negated: bool,
    },
    Or,
}

fn is_open_quote(c: char) -> bool {
    c == '"' || c == '“'
}

fn is_close_quote(c: char) -> bool {
    c == '"' || c == '”'
}

/// Whether `chars` is a field name with its colon (`title:`, `source:`).
fn is_field(chars: &[char]) -> bool {
    matches!(
        chars,
        ['t', 'i', 't', 'l', 'e', ':']
            | ['s', 'o', 'u', 'r', 'c', 'e', ':']
            | ['a', 'u', 't', 'h', 'o', 'r', ':']
    )
}

/// Splits the (NFKC-folded) query into terms, phrases and `OR`. Lenient: an unbalanced quote
/// runs to the end, a lone `-` is a literal dash.
fn tokenize(input: &str) -> Vec<Token> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let negated = chars[i] == '-'
            && chars
                .get(i + 1)
                .is_some_and(|c| !c.is_whitespace() && *c != '-');
        if negated {
            i += 1;
        }
        if is_open_quote(chars[i]) {
            let start = i + 1;
            let mut end = start;
            while end < chars.len() && !is_close_quote(chars[end]) {
                end += 1;
            }
            out.push(Token::Text {
                text: chars[start..end].iter().collect(),
                quoted: true,
                negated,
            });
            i = end + 1;
            continue;
        }
        let start = i;
        while i < chars.len() && !chars[i].is_whitespace() && !is_open_quote(chars[i]) {
            // `source:'notes/*.md'`: a field's value may be in single quotes too.
            if chars[i] == '\'' && is_field(&chars[start..i]) {
                break;
            }
            i += 1;
        }
        let mut text: String = chars[start..i].iter().collect();
        // `title:"two words"`: the quoted part is the field's value.
        let open = chars.get(i).copied();
        if is_field(&chars[start..i]) && open.is_some_and(|c| is_open_quote(c) || c == '\'') {
            let closes = |c: char| {
                if open == Some('\'') {
                    c == '\''
                } else {
                    is_close_quote(c)
                }
            };
            let vstart = i + 1;
            let mut vend = vstart;
            while vend < chars.len() && !closes(chars[vend]) {
                vend += 1;
            }
            text.extend(&chars[vstart..vend]);
            i = vend + 1;
        }
        if text == "OR" && !negated {
            out.push(Token::Or);
        } else {
            out.push(Token::Text {
                text,
                quoted: false,
                negated,
            });
        }
    }
    out
}

/// Parses a query. Only an empty query, one with nothing to search for but exclusions, an
/// empty or excluded filter, a bad glob and an overlong query are errors.
pub fn parse(input: &str) -> Result<Query, QueryError> {
    let folded: String = input.nfkc().collect();
    // Everything typed counts, spaces too: the limit is on what the program must read.
    let chars = folded.chars().count();
    if chars > MAX_QUERY_CHARS {
        return Err(QueryError::TooLong { chars });
    }
    let tokens = tokenize(&folded);
    let terms = tokens.iter().filter(|t| **t != Token::Or).count();
    if terms > MAX_QUERY_TERMS {
        return Err(QueryError::TooManyTerms { terms });
    }
    let mut q = Query::default();
    let mut join_next = false;
    for token in tokens {
        let (text, quoted, negated) = match token {
            Token::Or => {
                join_next = !q.groups.is_empty();
                continue;
            }
            Token::Text {
                text,
                quoted,
                negated,
            } => (text, quoted, negated),
        };
        if !quoted && filter(&mut q, &text, negated)? {
            join_next = false;
            continue;
        }
        let Some(term) = Term::new(&text, quoted) else {
            continue;
        };
        if negated {
            q.excluded.push(term);
        } else if join_next {
            q.groups.last_mut().expect("a group to join").push(term);
        } else {
            q.groups.push(vec![term]);
        }
        join_next = false;
    }
    if q.groups.is_empty() {
        if q.excluded.is_empty() && q.sources.is_empty() && q.titles.is_empty() && q.meta.is_empty()
        {
            return Err(QueryError::Empty);
        }
        return Err(QueryError::NothingToSearch);
    }
    dedupe(&mut q);
    Ok(q)
}

/// A term given twice asks nothing more, but cost a pass over every hit each time (a hundred
/// times `字` over long lines took seconds): a repeated term of a group, a group the same as
/// an earlier one and a repeated exclusion are dropped.
fn dedupe(q: &mut Query) {
    let same = |a: &Term, b: &Term| a.norm == b.norm && a.quoted == b.quoted;
    let once = |terms: Vec<Term>| {
        let mut kept: Vec<Term> = Vec::with_capacity(terms.len());
        for t in terms {
            if !kept.iter().any(|k| same(k, &t)) {
                kept.push(t);
            }
        }
        kept
    };
    let mut groups: Vec<Vec<Term>> = Vec::with_capacity(q.groups.len());
    for g in std::mem::take(&mut q.groups).into_iter().map(once) {
        let seen =
            |h: &Vec<Term>| h.len() == g.len() && h.iter().all(|t| g.iter().any(|u| same(t, u)));
        if !groups.iter().any(seen) {
            groups.push(g);
        }
    }
    q.groups = groups;
    q.excluded = once(std::mem::take(&mut q.excluded));
}

/// Reads a bare token that is a `source:` or `title:` filter into `q`; false when it is none.
fn filter(q: &mut Query, text: &str, negated: bool) -> Result<bool, QueryError> {
    if negated {
        if let Some((field @ ("source" | "title" | "author" | "date"), _)) = text.split_once(':') {
            return Err(QueryError::UnsupportedExclusion {
                field: field.to_string(),
            });
        }
        return Ok(false);
    }
    if let Some(glob) = text.strip_prefix("source:") {
        if glob.is_empty() {
            return Err(QueryError::EmptySource);
        }
        check_glob(glob)?;
        q.sources.push(glob.to_string());
        return Ok(true);
    }
    if let Some(filter) = crate::search::meta::parse(text) {
        q.meta.push(filter?);
        return Ok(true);
    }
    if let Some(title) = text.strip_prefix("title:") {
        let norm = analysis::normalize(title);
        if norm.trim().is_empty() {
            return Err(QueryError::EmptyTitle);
        }
        q.titles.push(norm);
        return Ok(true);
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norms(q: &Query) -> Vec<Vec<(String, bool)>> {
        q.groups
            .iter()
            .map(|g| g.iter().map(|t| (t.norm.clone(), t.quoted)).collect())
            .collect()
    }

    #[test]
    fn splits_terms_and_phrases() {
        let q = parse("苹果  阿里巴巴\u{3000}\"開源 不是\" ５Ｋ瓶頸").unwrap();
        assert_eq!(
            norms(&q),
            vec![
                vec![("苹果".into(), false)],
                vec![("阿里巴巴".into(), false)],
                vec![("开源 不是".into(), true)],
                vec![("5k瓶颈".into(), false)]
            ]
        );
        // Chinese quotation marks quote too.
        let q = parse("“开源不是慈善”").unwrap();
        assert_eq!(norms(&q), vec![vec![("开源不是慈善".into(), true)]]);
    }

    #[test]
    fn exclusions_or_and_filters() {
        let q = parse("软件 OR 硬件 -广告 -\"付费 阅读\" source:00*.txt title:\"阿里 云\" ＯＲ")
            .unwrap();
        assert_eq!(
            norms(&q),
            vec![vec![("软件".into(), false), ("硬件".into(), false)]]
        );
        let ex: Vec<_> = q
            .excluded
            .iter()
            .map(|t| (t.norm.as_str(), t.quoted))
            .collect();
        assert_eq!(ex, vec![("广告", false), ("付费 阅读", true)]);
        assert_eq!(q.sources, vec!["00*.txt"]);
        assert_eq!(q.titles, vec!["阿里 云"]);
        // Lower-case `or` is a word.
        assert_eq!(parse("a or b").unwrap().groups.len(), 3);
        // Repeats ask nothing more.
        let q = parse("字 字 風 风 \"字\" a OR b b OR a -c -c").unwrap();
        let norms: Vec<Vec<&str>> = q
            .groups
            .iter()
            .map(|g| g.iter().map(|t| t.norm.as_str()).collect())
            .collect();
        assert_eq!(norms, [vec!["字"], vec!["风"], vec!["字"], vec!["a", "b"]]);
        assert_eq!(q.excluded.len(), 1);
    }

    #[test]
    fn lenient_reading_of_odd_input() {
        let q = parse("a \"b c").unwrap();
        assert_eq!(
            norms(&q),
            vec![vec![("a".into(), false)], vec![("b c".into(), true)]]
        );
        assert_eq!(
            norms(&parse("\"\" x").unwrap()),
            vec![vec![("x".into(), false)]]
        );
        assert_eq!(norms(&parse("-").unwrap()), vec![vec![("-".into(), false)]]);
        assert_eq!(
            norms(&parse("。。").unwrap()),
            vec![vec![("。。".into(), false)]]
        );
        assert_eq!(
            norms(&parse("OR x OR").unwrap()),
            vec![vec![("x".into(), false)]]
        );
    }

    #[test]
    fn refusals_are_typed_and_worded_as_before() {
        assert_eq!(parse(""), Err(QueryError::Empty));
        assert_eq!(parse("-广告 source:x"), Err(QueryError::NothingToSearch));
        assert_eq!(
            parse("软件 -title:阿里"),
            Err(QueryError::UnsupportedExclusion {
                field: "title".into()
            })
        );
        assert_eq!(parse("x title: "), Err(QueryError::EmptyTitle));
        let glob = parse("x source:[z-a]").unwrap_err();
        assert!(matches!(
            &glob,
            QueryError::BadGlob(GlobError::Backwards { range, .. }) if range == "z-a"
        ));
        assert_eq!(
            glob.to_string(),
            "the file glob `[z-a]` has the range `z-a` backwards: write the lower character first"
        );
        assert_eq!(
            parse(&"字".repeat(1001)).unwrap_err().to_string(),
            "the query is too long (1001 characters with spaces, at most 1000): search for a shorter phrase"
        );
    }

    #[test]
    fn refused_queries_say_why() {
        assert!(parse("").unwrap_err().to_string().contains("empty"));
        assert!(parse("  \"\" ").is_err());
        assert!(
            parse("-广告")
                .unwrap_err()
                .to_string()
                .contains("nothing to search")
        );
        assert!(
            parse("x source:")
                .unwrap_err()
                .to_string()
                .contains("source:")
        );
        let long = "字".repeat(MAX_QUERY_CHARS + 1);
        assert!(parse(&long).unwrap_err().to_string().contains("too long"));
        // Spaces count: what is typed is what is read.
        let spaced = format!("{}字", " ".repeat(MAX_QUERY_CHARS));
        assert!(parse(&spaced).unwrap_err().to_string().contains("too long"));
        let terms = |n: usize| vec!["字"; n].join(" ");
        assert!(parse(&terms(MAX_QUERY_TERMS)).is_ok());
        let many = parse(&terms(MAX_QUERY_TERMS + 1)).unwrap_err().to_string();
        assert!(
            many.contains("too many terms") && many.contains("100"),
            "{many}"
        );
        for bad in ["[", "a[b", "x/[]", "[!"] {
            let e = parse(&format!("字 source:{bad}")).unwrap_err().to_string();
            assert!(e.contains(&format!("`{bad}`")), "{e}");
        }
    }

    #[test]
    fn filters_take_single_quotes_refuse_exclusion_and_backward_ranges() {
        let q = parse("软件 source:'notes/*.md' title:'阿里 云'").unwrap();
        assert_eq!(q.sources, vec!["notes/*.md"]);
        assert_eq!(q.titles, vec!["阿里 云"]);
        // An apostrophe elsewhere is text.
        assert_eq!(
            norms(&parse("it's").unwrap()),
            vec![vec![("it's".into(), false)]]
        );
        for bad in ["软件 -source:a.txt", "软件 -title:阿里"] {
            assert!(
                parse(bad)
                    .unwrap_err()
                    .to_string()
                    .contains("not supported"),
                "{bad}"
            );
        }
        let err = parse("软件 source:[z-a].txt").unwrap_err().to_string();
        assert!(err.contains("`z-a` backwards"), "{err}");
    }
}

//! The query language and its translation to Tantivy queries.
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
//! ```
//! Input is folded like the text (full width, case, script); `OR` must be upper case.

use anyhow::{Result, bail};
use tantivy::Term;
use tantivy::query::{
    BooleanQuery, ConstScoreQuery, Occur, PhraseQuery, Query as TQuery, RegexQuery, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use unicode_normalization::UnicodeNormalization;

use crate::store::index::Fields;
use crate::text::analysis::{self, is_long_word};
use crate::text::regional;

/// Score of a passage that contains a term as an exact string, added to its BM25 score; far
/// above any BM25 sum, so exact matches always rank first.
pub const EXACT_SCORE: f32 = 1000.0;
/// The same for a regional variant of the term: just below the form the user typed.
pub const VARIANT_SCORE: f32 = 900.0;

/// Longest query accepted, in characters (spaces included) after NFKC.
pub const MAX_QUERY_CHARS: usize = 1000;
/// Most terms, phrases, exclusions and filters a query may hold: each costs a Tantivy clause
/// and a scan of every candidate passage.
pub const MAX_QUERY_TERMS: usize = 100;

/// One form of a term: the term as typed, or a regional variant of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    /// Normalised like the text (NFKC, lowercase, t2s).
    pub norm: String,
    /// Words of `norm` in the index's vocabulary, deduplicated; see [`Query::segment`].
    pub words: Vec<String>,
    /// The characters of `norm` outside its words of two characters or more (one-character
    /// words, punctuation): a passage matching the form by its words must hold each of them.
    pub singles: Vec<String>,
}

impl Form {
    fn new(norm: String) -> Form {
        Form {
            norm,
            words: Vec::new(),
            singles: Vec::new(),
        }
    }

    /// The words of two characters or more, which a passage must hold as its own words.
    pub fn long_words(&self) -> impl Iterator<Item = &String> {
        self.words.iter().filter(|w| is_long_word(w))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryTerm {
    /// As typed (after NFKC).
    pub raw: String,
    pub quoted: bool,
    /// The term itself first, then its regional variants (none for a quoted phrase).
    pub forms: Vec<Form>,
}

impl QueryTerm {
    fn new(raw: &str, quoted: bool) -> Option<QueryTerm> {
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
        let mut forms = vec![Form::new(norm)];
        if !quoted {
            forms.extend(regional::variants(raw).into_iter().map(Form::new));
        }
        Some(QueryTerm {
            raw: raw.to_string(),
            quoted,
            forms,
        })
    }

    /// The normalised term as typed.
    pub fn norm(&self) -> &str {
        &self.forms[0].norm
    }

    /// The words of the term as typed.
    pub fn words(&self) -> &[String] {
        &self.forms[0].words
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Query {
    /// Every group is required; within a group (`a OR b`) one term is enough.
    pub groups: Vec<Vec<QueryTerm>>,
    /// Passages containing any of these are left out.
    pub excluded: Vec<QueryTerm>,
    /// File path globs (`source:`); a passage must match one of them.
    pub sources: Vec<String>,
    /// Normalised texts that the document title must contain (`title:`).
    pub titles: Vec<String>,
    /// The files whose title matches `titles`, once the searcher has looked them up.
    pub title_sources: Option<Vec<String>>,
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
        ['t', 'i', 't', 'l', 'e', ':'] | ['s', 'o', 'u', 'r', 'c', 'e', ':']
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
/// empty filter and an overlong query are errors.
pub fn parse(input: &str) -> Result<Query> {
    let folded: String = input.nfkc().collect();
    // Everything typed counts, spaces too: the limit is on what the program must read.
    let len = folded.chars().count();
    if len > MAX_QUERY_CHARS {
        bail!(
            "the query is too long ({len} characters with spaces, at most {MAX_QUERY_CHARS}): search for a shorter phrase"
        );
    }
    let tokens = tokenize(&folded);
    let terms = tokens.iter().filter(|t| **t != Token::Or).count();
    if terms > MAX_QUERY_TERMS {
        bail!(
            "the query has too many terms ({terms}, at most {MAX_QUERY_TERMS}): search for fewer words, or quote a phrase"
        );
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
        if !quoted
            && negated
            && let Some((field @ ("source" | "title"), _)) = text.split_once(':')
        {
            bail!(
                "`-{field}:` is not supported: a filter keeps files, it does not leave them out; narrow the search with `{field}:` instead"
            );
        }
        if !quoted && !negated {
            if let Some(glob) = text.strip_prefix("source:") {
                if glob.is_empty() {
                    bail!("`source:` needs a file glob, e.g. source:'notes/*.md'");
                }
                check_glob(glob)?;
                q.sources.push(glob.to_string());
                join_next = false;
                continue;
            }
            if let Some(title) = text.strip_prefix("title:") {
                let norm = analysis::normalize(title);
                if norm.trim().is_empty() {
                    bail!("`title:` needs the text of a title, e.g. title:阿里");
                }
                q.titles.push(norm);
                join_next = false;
                continue;
            }
        }
        let Some(term) = QueryTerm::new(&text, quoted) else {
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
        if q.excluded.is_empty() && q.sources.is_empty() && q.titles.is_empty() {
            bail!("the query is empty: give a word or a \"phrase\" to search for");
        }
        bail!(
            "the query has nothing to search for: add a word or a \"phrase\" besides the exclusions and filters"
        );
    }
    Ok(q)
}

impl Query {
    /// Every positive term, in order.
    pub fn terms(&self) -> impl Iterator<Item = &QueryTerm> {
        self.groups.iter().flatten()
    }

    /// The one word this query is, when it is a single term (bare or quoted) that is itself one
    /// word of the index, without variants, exclusions or filters. Every passage holding the
    /// word then contains the term, so its best passages are the word's best by BM25, which
    /// Tantivy finds without scoring every passage that contains the term.
    pub fn single_word(&self) -> Option<&str> {
        let [group] = self.groups.as_slice() else {
            return None;
        };
        let [term] = group.as_slice() else {
            return None;
        };
        let plain = self.excluded.is_empty() && self.sources.is_empty() && self.titles.is_empty();
        (plain && term.forms.len() == 1 && term.words() == [term.norm().to_string()])
            .then(|| term.norm())
    }

    /// Whether some term is bare, so that a partial match means something.
    pub fn can_relax(&self) -> bool {
        self.terms().any(|t| !t.quoted)
    }

    /// Fills the words of every form by segmenting it against the index's vocabulary (see
    /// [`analysis::segment`]).
    pub fn segment(&mut self, total: u64, freq: impl Fn(&str) -> u64) {
        let terms = self.groups.iter_mut().flatten();
        for t in terms.chain(self.excluded.iter_mut()) {
            for form in &mut t.forms {
                let words = analysis::segment(&form.norm, total, &freq);
                form.words.clear();
                let mut covered = vec![false; form.norm.chars().count()];
                for w in words {
                    if is_long_word(&w.text) {
                        covered[w.chars.clone()].fill(true);
                    }
                    if !form.words.contains(&w.text) {
                        form.words.push(w.text);
                    }
                }
                form.singles.clear();
                for (c, covered) in form.norm.chars().zip(covered) {
                    let c = c.to_string();
                    if !covered && !c.trim().is_empty() && !form.singles.contains(&c) {
                        form.singles.push(c);
                    }
                }
            }
        }
    }

    /// The strict query: every group matched, as a string or by all of a term's pieces (see
    /// `term_query`). The searcher verifies each candidate against its text (see
    /// [`crate::search::rank::matches_all`]).
    pub fn strict(&self, f: &Fields) -> Box<dyn TQuery> {
        let mut clauses: Vec<(Occur, Box<dyn TQuery>)> = Vec::new();
        for group in &self.groups {
            let alternatives: Vec<Box<dyn TQuery>> =
                group.iter().map(|t| term_query(f, t)).collect();
            clauses.push((Occur::Must, any_of(alternatives)));
        }
        self.add_filters(f, &mut clauses);
        Box::new(BooleanQuery::new(clauses))
    }

    /// The relaxed query: passages with any word of the bare terms (ranked by BM25, exact
    /// strings first); quoted phrases, exclusions and filters still hold. The caller keeps the
    /// candidates that cover most of the query.
    pub fn relaxed(&self, f: &Fields) -> Box<dyn TQuery> {
        let mut should: Vec<Box<dyn TQuery>> = Vec::new();
        let mut clauses: Vec<(Occur, Box<dyn TQuery>)> = Vec::new();
        for t in self.terms() {
            if t.quoted {
                clauses.push((Occur::Must, term_query(f, t)));
                continue;
            }
            for (k, form) in t.forms.iter().enumerate() {
                let score = if k == 0 { EXACT_SCORE } else { VARIANT_SCORE };
                should.push(Box::new(ConstScoreQuery::new(
                    exact_query(f.chars, &form.norm),
                    score,
                )));
                // A one-character word alone would fetch every passage holding the character.
                let long = form.words.iter().filter(|w| is_long_word(w));
                should.extend(long.map(|w| word_query(f, w)));
            }
        }
        clauses.push((Occur::Must, any_of(should)));
        self.add_filters(f, &mut clauses);
        Box::new(BooleanQuery::new(clauses))
    }

    fn add_filters(&self, f: &Fields, clauses: &mut Vec<(Occur, Box<dyn TQuery>)>) {
        for t in &self.excluded {
            for form in &t.forms {
                clauses.push((Occur::MustNot, exact_query(f.chars, &form.norm)));
            }
        }
        if !self.sources.is_empty() {
            // Globs were checked when parsed; one Tantivy still refuses matches nothing.
            let globs: Vec<Box<dyn TQuery>> = self
                .sources
                .iter()
                .filter_map(|g| glob_regex(g).ok())
                .filter_map(|re| RegexQuery::from_pattern(&re, f.source).ok())
                .map(|q| Box::new(ConstScoreQuery::new(Box::new(q), 0.0)) as Box<dyn TQuery>)
                .collect();
            clauses.push((Occur::Must, any_of(globs)));
        }
        if let Some(sources) = &self.title_sources {
            let files: Vec<Box<dyn TQuery>> = sources
                .iter()
                .map(|s| {
                    let q = TermQuery::new(
                        Term::from_field_text(f.source, s),
                        IndexRecordOption::Basic,
                    );
                    Box::new(ConstScoreQuery::new(Box::new(q), 0.0)) as Box<dyn TQuery>
                })
                .collect();
            // No file with such a title: nothing matches.
            let filter = if files.is_empty() {
                Box::new(tantivy::query::EmptyQuery) as Box<dyn TQuery>
            } else {
                any_of(files)
            };
            clauses.push((Occur::Must, filter));
        }
    }
}

fn any_of(mut queries: Vec<Box<dyn TQuery>>) -> Box<dyn TQuery> {
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
/// is not `东京 大阪`). BM25 over the words ranks the passages that match.
fn term_query(f: &Fields, t: &QueryTerm) -> Box<dyn TQuery> {
    let mut gate: Vec<Box<dyn TQuery>> = Vec::new();
    let mut words: Vec<&String> = Vec::new();
    for (k, form) in t.forms.iter().enumerate() {
        let score = if k == 0 { EXACT_SCORE } else { VARIANT_SCORE };
        gate.push(Box::new(ConstScoreQuery::new(
            exact_query(f.chars, &form.norm),
            score,
        )));
        let long: Vec<&String> = form.long_words().collect();
        if !t.quoted && !long.is_empty() {
            let pieces = long.into_iter().chain(&form.singles);
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

/// Passages whose normalised text contains `norm`: consecutive character tokens.
pub fn exact_query(field: Field, norm: &str) -> Box<dyn TQuery> {
    let mut terms: Vec<Term> = norm
        .chars()
        .map(|c| Term::from_field_text(field, c.encode_utf8(&mut [0; 4])))
        .collect();
    if terms.len() == 1 {
        let term = terms.pop().expect("one term");
        Box::new(TermQuery::new(term, IndexRecordOption::Basic))
    } else {
        Box::new(PhraseQuery::new(terms))
    }
}

/// Refuses a glob that [`glob_regex`] cannot read, naming it.
pub fn check_glob(glob: &str) -> Result<()> {
    glob_regex(glob).map(|_| ())
}

/// A path glob as an anchored regular expression: `*` within a folder, `**` across folders,
/// `?` one character, `[abc]`, `[a-z]` and `[!abc]` one of (or none of) a set. A glob without
/// `/` may match in any folder. An empty glob or an unclosed `[` is an error.
pub fn glob_regex(glob: &str) -> Result<String> {
    if glob.is_empty() {
        bail!("the file glob is empty: give one such as 'notes/*.md'");
    }
    let mut re = String::new();
    if !glob.contains('/') {
        re.push_str("(.*/)?");
    }
    let chars: Vec<char> = glob.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' if chars.get(i + 1) == Some(&'*') => {
                re.push_str(".*");
                i += 1;
                if chars.get(i + 1) == Some(&'/') {
                    // `**/` also matches no folder at all.
                    re.push_str("/?");
                    i += 1;
                }
            }
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            '[' => i = glob_class(glob, &chars, i, &mut re)?,
            c if c.is_alphanumeric() || c == '/' || c == '_' => re.push(c),
            c => {
                re.push('\\');
                re.push(c);
            }
        }
        i += 1;
    }
    Ok(re)
}

/// The class `[…]` that starts at `chars[open]`, as a regex class; returns the index of `]`.
fn glob_class(glob: &str, chars: &[char], open: usize, re: &mut String) -> Result<usize> {
    let mut i = open + 1;
    let negated = matches!(chars.get(i), Some('!' | '^'));
    if negated {
        i += 1;
    }
    let start = i;
    // A `]` right after the opening is a member, as in shell globs.
    if chars.get(i) == Some(&']') {
        i += 1;
    }
    while i < chars.len() && chars[i] != ']' {
        i += 1;
    }
    if i >= chars.len() || i == start {
        bail!(
            "the file glob `{glob}` has an unclosed or empty `[`: close the set (`[ab]`) or match any character with `?`"
        );
    }
    if chars[start..i].contains(&'/') {
        bail!(
            "the file glob `{glob}` has a `/` inside `[…]`: a set matches one character of a name"
        );
    }
    let set = &chars[start..i];
    let reversed = set
        .windows(3)
        .find(|w| w[1] == '-' && w[0] > w[2])
        .map(|w| format!("{}-{}", w[0], w[2]));
    if let Some(range) = reversed {
        bail!(
            "the file glob `{glob}` has the range `{range}` backwards: write the lower character first"
        );
    }
    re.push_str(if negated { "[^/" } else { "[" });
    for (k, &c) in set.iter().enumerate() {
        let range_dash = c == '-' && k > 0 && start + k + 1 < i;
        if c.is_alphanumeric() || range_dash {
            re.push(c);
        } else {
            re.push('\\');
            re.push(c);
        }
    }
    re.push(']');
    Ok(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norms(q: &Query) -> Vec<Vec<(String, bool)>> {
        q.groups
            .iter()
            .map(|g| g.iter().map(|t| (t.norm().to_string(), t.quoted)).collect())
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
        let ex: Vec<_> = q.excluded.iter().map(|t| (t.norm(), t.quoted)).collect();
        assert_eq!(ex, vec![("广告", false), ("付费 阅读", true)]);
        assert_eq!(q.sources, vec!["00*.txt"]);
        assert_eq!(q.titles, vec!["阿里 云"]);
        // Lower-case `or` is a word.
        assert_eq!(parse("a or b").unwrap().groups.len(), 3);
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
    fn a_term_needs_its_characters_outside_its_long_words() {
        let mut q = parse("林小雨 甲乙丙丁内容 性能,瓶颈").unwrap();
        q.segment(1000, |w| {
            u64::from(["小雨", "内容", "性能", "瓶颈"].contains(&w)) * 10
        });
        let singles: Vec<Vec<&str>> = q
            .terms()
            .map(|t| t.forms[0].singles.iter().map(String::as_str).collect())
            .collect();
        assert_eq!(
            singles,
            vec![vec!["林"], vec!["甲", "乙", "丙", "丁"], vec![","]]
        );
    }

    #[test]
    fn bare_terms_get_regional_variants_phrases_do_not() {
        let q = parse("服务器 \"服务器\"").unwrap();
        let forms: Vec<Vec<&str>> = q
            .terms()
            .map(|t| t.forms.iter().map(|f| f.norm.as_str()).collect())
            .collect();
        assert!(forms[0].contains(&"伺服器"));
        assert_eq!(forms[1], vec!["服务器"]);
    }

    #[test]
    fn words_are_deduplicated() {
        let mut q = parse("瓶颈瓶颈").unwrap();
        q.segment(100, |w| u64::from(w == "瓶颈"));
        assert_eq!(q.groups[0][0].words(), ["瓶颈".to_string()]);
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

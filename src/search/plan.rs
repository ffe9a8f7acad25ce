//! Binding a parsed query to an index: the terms' regional forms, their words as the index's
//! vocabulary segments them, and the files the `title:` filters leave. The result, a
//! [`Plan`], is what every backend executes and what the ranking reads; it holds no type of
//! any backend.

use anyhow::Result;

use crate::search::query::{self, Query};
use crate::text::analysis::{self, is_long_word};
use crate::text::regional;

/// One form of a term: the term as typed, or a regional variant of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    /// Normalised like the text (NFKC, lowercase, t2s).
    pub norm: String,
    /// Words of `norm` in the index's vocabulary, deduplicated (see [`analysis::segment`]).
    pub words: Vec<String>,
    /// The characters of `norm` outside its words of two characters or more (one-character
    /// words, punctuation): a passage matching the form by its words must hold each of them.
    pub singles: Vec<String>,
    /// Whether a word of two characters or more, or another character, comes twice in the
    /// segmentation (`飛天飛天`, `哈哈哈哈`): a passage holding it once holds every piece, not
    /// the term.
    pub repeats: bool,
}

impl Form {
    /// The form of `norm`, its words segmented against the vocabulary (`total` tokens,
    /// `freq` a word's document frequency).
    fn segmented(norm: String, total: u64, freq: &dyn Fn(&str) -> u64) -> Form {
        let mut words: Vec<String> = Vec::new();
        let mut covered = vec![false; norm.chars().count()];
        let mut repeats = false;
        for w in analysis::segment(&norm, total, freq) {
            if is_long_word(&w.text) {
                repeats |= words.contains(&w.text);
                covered[w.chars.clone()].fill(true);
            }
            if !words.contains(&w.text) {
                words.push(w.text);
            }
        }
        let mut singles: Vec<String> = Vec::new();
        for (c, covered) in norm.chars().zip(covered) {
            let c = c.to_string();
            if covered || c.trim().is_empty() {
                continue;
            }
            if singles.contains(&c) {
                repeats = true;
            } else {
                singles.push(c);
            }
        }
        Form {
            norm,
            words,
            singles,
            repeats,
        }
    }

    /// The words of two characters or more, which a passage must hold as its own words.
    pub fn long_words(&self) -> impl Iterator<Item = &String> {
        self.words.iter().filter(|w| is_long_word(w))
    }

    /// Whether a passage may match this form by its pieces (each word of two characters or
    /// more as a word, each other character as a character) instead of as a string: only a
    /// form with such a word and at most [`MAX_WORD_PIECES`] pieces, none of them twice. A
    /// longer term is a sentence, which a passage holds as a string or not at all: its words
    /// scattered over a passage are a partial match (see `search::fuzzy`).
    pub fn matches_by_words(&self) -> bool {
        let long = self.long_words().count();
        long > 0 && !self.repeats && long + self.singles.len() <= MAX_WORD_PIECES
    }
}

/// Most pieces (words and single characters) of a term matched piece by piece.
pub const MAX_WORD_PIECES: usize = 4;

/// A term of the query, bound to the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// As typed (after NFKC).
    pub raw: String,
    /// A `"phrase"`: matched as a string only.
    pub quoted: bool,
    /// The term itself first, then its regional variants (none for a quoted phrase).
    pub forms: Vec<Form>,
}

impl Term {
    fn bind(t: &query::Term, total: u64, freq: &dyn Fn(&str) -> u64) -> Term {
        let mut forms = vec![Form::segmented(t.norm.clone(), total, freq)];
        if !t.quoted {
            let variants = regional::variants(&t.raw).into_iter();
            forms.extend(variants.map(|v| Form::segmented(v, total, freq)));
        }
        Term {
            raw: t.raw.clone(),
            quoted: t.quoted,
            forms,
        }
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

/// What a backend executes and the ranking reads: the query's terms with their forms and
/// words, its exclusions, and the files it may search.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// Every group is required; within a group (`a OR b`) one term is enough.
    pub groups: Vec<Vec<Term>>,
    /// Passages containing any form of these are left out.
    pub excluded: Vec<Term>,
    /// File path globs (`source:`, see [`crate::search::glob`]); a passage must match one.
    pub sources: Vec<String>,
    /// With `title:` filters, the files whose title holds every one of their texts, narrowed
    /// by the engine to the files that pass the `author:` and `date:` filters too (none:
    /// nothing matches); `None` without such filters.
    pub title_sources: Option<Vec<String>>,
    /// Full matches only: no partial tier (`--exact`).
    pub exact: bool,
}

/// What binding needs to know of an index: its vocabulary statistics and its titles. Every
/// [`crate::search::Backend`] answers it.
pub trait Vocabulary {
    /// Passages in the index (live entries).
    fn passages(&self) -> u64;

    /// Tokens in the index as word weights see them: what a word's document frequency is
    /// measured against when the query is segmented.
    fn total_tokens(&self) -> u64;

    /// Passages holding `word` (a normalised word or character) as an index word; 0 when
    /// it cannot be read.
    fn doc_freq(&self, word: &str) -> u64;

    /// The files whose title holds every one of `titles` (normalised texts).
    fn titled_sources(&self, titles: &[String]) -> Result<Vec<String>>;

    /// Told before a query is bound which words [`Vocabulary::doc_freq`] may be asked
    /// (every substring of a term's forms up to the longest word looked up), so that a
    /// remote index can look them up at once; nothing by default.
    fn prefetch(&self, words: &[String]) -> Result<()> {
        let _ = words;
        Ok(())
    }
}

/// Binds `q` to an index: its vocabulary statistics segment the terms, its titles resolve
/// the `title:` filters.
pub fn bind(q: &Query, index: &dyn Vocabulary) -> Result<Plan> {
    let title_sources = if q.titles.is_empty() {
        None
    } else {
        Some(index.titled_sources(&q.titles)?)
    };
    index.prefetch(&lookups(q))?;
    let freq = |w: &str| index.doc_freq(w);
    Ok(bind_with(q, index.total_tokens(), &freq, title_sources))
}

/// What segmenting `q`'s terms may look up: every substring of their forms (as typed and
/// regional variants) of at most `analysis::MAX_WORD_CHARS` characters.
fn lookups(q: &Query) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for t in q.groups.iter().flatten().chain(&q.excluded) {
        let mut forms = vec![t.norm.clone()];
        if !t.quoted {
            forms.extend(regional::variants(&t.raw));
        }
        for f in forms {
            let chars: Vec<char> = f.chars().collect();
            for i in 0..chars.len() {
                for j in i + 1..=chars.len().min(i + analysis::MAX_WORD_CHARS) {
                    let w: String = chars[i..j].iter().collect();
                    if seen.insert(w.clone()) {
                        out.push(w);
                    }
                }
            }
        }
    }
    out
}

/// [`bind`] with the statistics given: `total` tokens in the index, `freq` a word's
/// document frequency, `title_sources` the files the `title:` filters leave (`None` without
/// such filters).
pub fn bind_with(
    q: &Query,
    total: u64,
    freq: &dyn Fn(&str) -> u64,
    title_sources: Option<Vec<String>>,
) -> Plan {
    let bind = |t: &query::Term| Term::bind(t, total, freq);
    Plan {
        groups: q
            .groups
            .iter()
            .map(|g| g.iter().map(bind).collect())
            .collect(),
        excluded: q.excluded.iter().map(bind).collect(),
        sources: q.sources.clone(),
        title_sources,
        exact: false,
    }
}

impl Plan {
    /// Every positive term, in order.
    pub fn terms(&self) -> impl Iterator<Item = &Term> {
        self.groups.iter().flatten()
    }

    /// The one word this plan is, when it is a single term (bare or quoted) that is itself one
    /// word of the index, without variants, exclusions or filters. Every passage holding the
    /// word then contains the term, so its best passages are the word's best by BM25, which
    /// a backend may find without scoring every passage that contains the term.
    pub fn single_word(&self) -> Option<&str> {
        let [group] = self.groups.as_slice() else {
            return None;
        };
        let [term] = group.as_slice() else {
            return None;
        };
        let plain =
            self.excluded.is_empty() && self.sources.is_empty() && self.title_sources.is_none();
        (plain && term.forms.len() == 1 && term.words() == [term.norm().to_string()])
            .then(|| term.norm())
    }

    /// Whether some term is bare, so that a partial match means something.
    pub fn can_relax(&self) -> bool {
        self.terms().any(|t| !t.quoted)
    }

    /// Whether partial matches follow the full ones: unless [`Plan::exact`], when some term
    /// is bare, or when the query's phrases (all quoted) match nothing (`full_matches`
    /// false): the closest passages are then shown as partial matches.
    pub fn relaxes(&self, full_matches: bool) -> bool {
        !self.exact && (self.can_relax() || (!full_matches && self.terms().next().is_some()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::query::parse;

    fn plan(q: &str, total: u64, freq: &dyn Fn(&str) -> u64) -> Plan {
        bind_with(&parse(q).unwrap(), total, freq, None)
    }

    #[test]
    fn a_term_needs_its_characters_outside_its_long_words() {
        let p = plan("林小雨 甲乙丙丁内容 性能,瓶颈", 1000, &|w| {
            u64::from(["小雨", "内容", "性能", "瓶颈"].contains(&w)) * 10
        });
        let singles: Vec<Vec<&str>> = p
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
        let p = plan("服务器 \"服务器\"", 100, &|_| 0);
        let forms: Vec<Vec<&str>> = p
            .terms()
            .map(|t| t.forms.iter().map(|f| f.norm.as_str()).collect())
            .collect();
        assert!(forms[0].contains(&"伺服器"));
        assert_eq!(forms[1], vec!["服务器"]);
    }

    #[test]
    fn quoted_phrases_relax_only_when_they_match_nothing() {
        let p = |q: &str| plan(q, 100, &|_| 0);
        assert!(p("阿里云").relaxes(true));
        assert!(p("阿里云 \"开源\"").relaxes(true));
        assert!(!p("\"开源\"").relaxes(true));
        assert!(p("\"开源\"").relaxes(false));
        let mut exact = p("阿里云");
        exact.exact = true;
        assert!(!exact.relaxes(false));
    }

    #[test]
    fn words_are_deduplicated() {
        let p = plan("瓶颈瓶颈", 100, &|w| u64::from(w == "瓶颈"));
        assert_eq!(p.groups[0][0].words(), ["瓶颈".to_string()]);
    }
}

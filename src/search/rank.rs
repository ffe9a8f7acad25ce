//! What a query finds in one passage, beyond the backend's score: where it matches (highlights,
//! and through which regional variant), how close its words stand, whether the title matches,
//! and how much of the query a partial match covers.
//!
//! Whitespace never decides a match: a passage and a term are compared with their whitespace
//! removed ([`analysis::compact`]), and an occurrence maps back to the original bytes, spaces
//! between its characters included.

use std::ops::Range;

use crate::search::plan::{Form, Plan, Term};
use crate::text::analysis::{self, Normalized, Piece};

/// Score added for two consecutive query words right next to each other; less as they part.
const PROXIMITY: f32 = 2.0;
/// Score added for each term found in the document title.
const TITLE: f32 = 3.0;
/// Score added for a passage holding a term whole; runs of its characters count by the square
/// of their length, so one long run beats several short ones.
const COVER: f32 = 8.0;
/// Terms longer than this (in characters) are not scanned for covered runs.
const MAX_COVER_CHARS: usize = 64;

/// A passage as the ranking sees it: its normalised raw and visible text, without whitespace.
pub struct Passage<'a> {
    /// The passage exactly as in the file; highlights are byte ranges into it.
    pub text: &'a str,
    forms: Forms,
}

/// A passage's normalised texts, kept from its verification to its ranking (see
/// [`Passage::into_forms`]): each candidate's raw and visible texts were normalised when it
/// was verified and again when it was ranked, 8% of the instructions of a one-word search
/// (callgrind, 74 MB corpus).
#[derive(Debug, Clone)]
pub struct Forms {
    raw: Option<Normalized>,
    vis: Normalized,
}

impl<'a> Passage<'a> {
    /// `front_matter` passages are searched in their visible text (the value) only.
    pub fn new(text: &'a str, visible: &[Piece], front_matter: bool) -> Passage<'a> {
        let raw = (!front_matter).then(|| analysis::normalize_mapped(text).compact());
        // Most lines are seen as written: their visible text is the raw text, normalised once.
        let as_written =
            matches!(visible, [v] if v.verbatim && v.orig == (0..text.len()) && v.text == text);
        let vis = match (&raw, as_written) {
            (Some(raw), true) => raw.clone(),
            _ => analysis::normalize_pieces(visible).compact(),
        };
        Passage {
            text,
            forms: Forms { raw, vis },
        }
    }

    /// The passage `text` again, with the forms [`Passage::into_forms`] kept of it.
    pub fn with_forms(text: &'a str, forms: Forms) -> Passage<'a> {
        Passage { text, forms }
    }

    /// Its normalised texts, to make it again without normalising (see [`Forms`]).
    pub fn into_forms(self) -> Forms {
        self.forms
    }

    fn texts(&self) -> impl Iterator<Item = &Normalized> {
        self.forms
            .raw
            .iter()
            .chain(std::iter::once(&self.forms.vis))
    }

    /// Occurrences of `norm` as original byte ranges, in the raw text else the visible text,
    /// whitespace aside.
    fn find(&self, norm: &str) -> Vec<Range<usize>> {
        let norm = analysis::compact(norm);
        for n in self.texts() {
            let hits = n.find_all(&norm);
            if !hits.is_empty() {
                return hits.into_iter().map(|h| n.orig_range(h)).collect();
            }
        }
        Vec::new()
    }

    /// Which form of the term occurs as a string: its index in `t.forms`, and where.
    fn form_match(&self, t: &Term) -> Option<(usize, Vec<Range<usize>>)> {
        t.forms.iter().enumerate().find_map(|(k, form)| {
            let hits = self.find(&form.norm);
            (!hits.is_empty()).then_some((k, hits))
        })
    }

    fn has_word(&self, w: &str) -> bool {
        !self.forms.vis.find_all(w).is_empty()
    }

    /// Whether the normalised text (raw or visible) holds `s` as a string, whitespace aside.
    fn holds(&self, s: &str) -> bool {
        let s = analysis::compact(s);
        self.texts().any(|n| n.text.contains(&*s))
    }
}

/// Whether the passage matches term `t`: it holds one of the term's forms as a string, or
/// (bare terms only) some form has a word of two characters or more and the passage holds
/// every word of two or more characters of that form as one of its own words (`is_word`: the
/// words the index holds for this passage) and every other character of the form as a
/// character. Every character of the term is thus accounted for.
pub fn term_matches(t: &Term, p: &Passage, is_word: &dyn Fn(&str) -> bool) -> bool {
    t.forms.iter().any(|form| {
        if p.holds(&form.norm) {
            return true;
        }
        !t.quoted
            && form.matches_by_words()
            && form.long_words().all(|w| is_word(w))
            && form.singles.iter().all(|c| p.holds(c))
    })
}

/// Whether the passage holds an excluded term or phrase (in any of its forms).
pub fn excluded(q: &Plan, p: &Passage) -> bool {
    q.excluded
        .iter()
        .any(|t| t.forms.iter().any(|f| p.holds(&f.norm)))
}

/// Whether the passage matches the whole query: a term of every group (see [`term_matches`])
/// and none of the exclusions.
pub fn matches_all(q: &Plan, p: &Passage, is_word: &dyn Fn(&str) -> bool) -> bool {
    !excluded(q, p)
        && q.groups
            .iter()
            .all(|g| g.iter().any(|t| term_matches(t, p, is_word)))
}

/// What the query finds in a passage.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Findings {
    /// Byte ranges of the passage text, merged and sorted.
    pub highlights: Vec<Range<usize>>,
    /// The passage's own words for a term that matched only through a regional variant.
    pub variant: Option<String>,
    /// Score from proximity and title.
    pub boost: f32,
}

/// What the query finds in the passage; `title_terms` is how many of the query's terms the
/// document title contains (see [`title_terms`]).
pub fn findings(q: &Plan, p: &Passage, title_terms: usize) -> Findings {
    let mut out = Findings::default();
    let mut ranges = Vec::new();
    for t in q.terms() {
        match p.form_match(t) {
            Some((k, hits)) => {
                if k > 0 && out.variant.is_none() {
                    out.variant = Some(p.text[hits[0].clone()].to_string());
                }
                ranges.extend(hits);
            }
            None if !t.quoted => {
                // Matched, if at all, by the words of one form (see [`term_matches`]): its
                // words are highlighted, and a regional form's own words are named.
                let by_words = |f: &&Form| {
                    f.long_words().next().is_some()
                        && f.long_words().all(|w| p.has_word(w))
                        && f.singles.iter().all(|c| p.holds(c))
                };
                let k = t.forms.iter().position(|f| by_words(&f)).unwrap_or(0);
                for w in &t.forms[k].words {
                    let hits: Vec<Range<usize>> = p.forms.vis.find_all(w);
                    let hits: Vec<Range<usize>> = hits
                        .into_iter()
                        .map(|h| p.forms.vis.orig_range(h))
                        .collect();
                    let own = k > 0 && !t.forms[0].words.contains(w);
                    if let (true, None, Some(h)) = (own, &out.variant, hits.first()) {
                        out.variant = Some(p.text[h.clone()].to_string());
                    }
                    ranges.extend(hits);
                }
            }
            None => {}
        }
    }
    out.highlights = merge(ranges);
    out.boost = proximity(q, p) + TITLE * title_terms as f32 + run_cover(q, p);
    out
}

/// For each bare term, how much of it the passage holds in runs of at least two characters
/// (Σ run² / length²): a question like 阿里云什么时候突破5k瓶颈 favours the passage with
/// 阿里雲…突破5k瓶頸 over passages that only share its separate words.
fn run_cover(q: &Plan, p: &Passage) -> f32 {
    let mut boost = 0.0;
    for t in q.terms().filter(|t| !t.quoted) {
        let best = t
            .forms
            .iter()
            .map(|f| {
                let chars: Vec<(usize, char)> = f.norm.char_indices().collect();
                let n = chars.len();
                if !(2..=MAX_COVER_CHARS).contains(&n) {
                    return 0.0;
                }
                let byte = |i: usize| chars.get(i).map_or(f.norm.len(), |c| c.0);
                let present = |a: usize, b: usize| {
                    p.texts()
                        .any(|t| t.text.contains(&f.norm[byte(a)..byte(b)]))
                };
                let (mut i, mut covered) = (0, 0);
                while i + 1 < n {
                    let mut j = i + 1;
                    while j < n && present(i, j + 1) {
                        j += 1;
                    }
                    if j - i >= 2 {
                        covered += (j - i) * (j - i);
                        i = j;
                    } else {
                        i += 1;
                    }
                }
                covered as f32 / (n * n) as f32
            })
            .fold(0.0, f32::max);
        boost += COVER * best;
    }
    boost
}

/// For each pair of query words that occur one after the other in the query (skipping the
/// words the passage lacks), a boost that shrinks with the characters between them.
fn proximity(q: &Plan, p: &Passage) -> f32 {
    let found: Vec<Vec<Range<usize>>> = q
        .terms()
        .flat_map(|t| t.words())
        .map(|w| p.forms.vis.find_all(w))
        .filter(|hits| !hits.is_empty())
        .collect();
    let mut boost = 0.0;
    for pair in found.windows(2) {
        let gap = pair[0]
            .iter()
            .flat_map(|x| pair[1].iter().map(move |y| distance(x, y)))
            .min();
        if let Some(gap) = gap {
            boost += PROXIMITY / (1.0 + gap as f32);
        }
    }
    boost
}

fn distance(a: &Range<usize>, b: &Range<usize>) -> usize {
    if a.end <= b.start {
        b.start - a.end
    } else {
        a.start.saturating_sub(b.end)
    }
}

/// How many of the query's terms `title` contains (in any of their forms).
pub fn title_terms(q: &Plan, title: &str) -> usize {
    let title = analysis::normalize(title);
    let title = analysis::compact(&title);
    q.terms()
        .filter(|t| {
            t.forms
                .iter()
                .any(|f| title.contains(&*analysis::compact(&f.norm)))
        })
        .count()
}

/// Byte ranges sorted, overlapping and touching ones joined.
pub(crate) fn merge(mut ranges: Vec<Range<usize>>) -> Vec<Range<usize>> {
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
    use crate::search::plan::bind_with;
    use crate::search::query::parse;

    fn passage(text: &str) -> Passage<'_> {
        Passage::new(text, &[Piece::verbatim(text, 0..text.len())], false)
    }

    fn segmented(q: &str, vocab: &[&str]) -> Plan {
        let freq = |w: &str| u64::from(vocab.contains(&w)) * 10;
        bind_with(&parse(q).unwrap(), 1000, &freq, None)
    }

    #[test]
    fn highlights_land_on_original_characters() {
        let text = "突破「５Ｋ瓶頸」與5k瓶颈";
        let q = segmented("5k瓶颈", &["5k", "瓶颈"]);
        let f = findings(&q, &passage(text), 0);
        let spans: Vec<&str> = f.highlights.iter().map(|r| &text[r.clone()]).collect();
        assert_eq!(spans, vec!["５Ｋ瓶頸", "5k瓶颈"]);
        assert_eq!(f.variant, None);
    }

    #[test]
    fn a_variant_match_is_reported_in_the_passage_script() {
        let text = "客戶包括位元組跳動。";
        let q = segmented("字节跳动", &["字节", "跳动"]);
        let f = findings(&q, &passage(text), 0);
        assert_eq!(f.variant.as_deref(), Some("位元組跳動"));
    }

    #[test]
    fn close_words_and_title_matches_score_higher() {
        let q = segmented("突破 瓶颈", &["突破", "瓶颈"]);
        let near = findings(&q, &passage("终于突破瓶颈"), 0).boost;
        let far = findings(&q, &passage("突破了很多很多很多很多的瓶颈"), 0).boost;
        assert!(near > far && far > 0.0);
        assert_eq!(title_terms(&q, "突破"), 1);
        assert_eq!(title_terms(&q, "突破瓶頸"), 2);
        let titled = findings(&q, &passage("终于突破瓶颈"), 1).boost;
        assert!(titled > near);
    }

    #[test]
    fn a_term_matches_as_a_string_or_by_all_its_pieces() {
        let q = segmented("林小雨 京大", &["小雨", "京大学"]);
        let words = |p: &Passage| {
            let text = p.forms.vis.text.clone();
            move |w: &str| text.contains(w)
        };
        let [lin, jingda] = [&q.groups[0][0], &q.groups[1][0]];
        let check = |t: &Term, text: &str| {
            let p = passage(text);
            term_matches(t, &p, &words(&p))
        };
        assert!(check(lin, "林小雨来了"));
        assert!(check(lin, "小雨和林先生"), "every piece, anywhere");
        assert!(!check(lin, "窗外下着小雨"), "林 is missing");
        // No word of two characters: the string or nothing.
        assert!(!check(jingda, "東京、大阪"));
        // Whitespace is no separator: 東京 大阪 holds 京大 as 東京大阪 does.
        assert!(check(jingda, "東京 大阪"));
        assert!(check(jingda, "京大學生"));
        // A piece that is a word of the passage only by string does not count: `is_word`
        // decides.
        let p = passage("小雨和林");
        assert!(!term_matches(lin, &p, &|_: &str| false));
        // Quoted: the string only.
        let quoted = segmented("\"林小雨\"", &["小雨"]);
        assert!(!term_matches(&quoted.groups[0][0], &p, &words(&p)));
        // Exclusions hold too.
        let ex = segmented("小雨 -林", &["小雨"]);
        assert!(!matches_all(&ex, &p, &words(&p)));
        assert!(matches_all(&ex, &passage("小雨"), &|_: &str| true));
    }

    #[test]
    fn whitespace_never_decides_a_match_and_highlights_span_it() {
        let text = "降到 0.4 元，Claude4 發布於2022年底，零寬\u{200b}標記";
        let p = passage(text);
        let spans = |q: &Plan| -> Vec<String> {
            let f = findings(q, &p, 0);
            f.highlights
                .iter()
                .map(|r| text[r.clone()].to_string())
                .collect()
        };
        let q = segmented("\"0.4元\" \"claude 4\" \"2022 年 底\"", &[]);
        assert!(matches_all(&q, &p, &|_: &str| false));
        assert_eq!(spans(&q), vec!["0.4 元", "Claude4", "2022年底"]);
        // Bare terms alike, and a zero-width character inside a word.
        let q = segmented("0.4元 零寬標記", &["零宽", "标记"]);
        assert!(matches_all(&q, &p, &|_: &str| false));
        assert_eq!(spans(&q), vec!["0.4 元", "零寬\u{200b}標記"]);
        // Exclusions and titles read the same rule.
        let ex = segmented("降到 -\"0.4元\"", &[]);
        assert!(!matches_all(&ex, &p, &|_: &str| true));
        assert_eq!(
            title_terms(&segmented("\"claude 4\"", &[]), "Claude4 發布"),
            1
        );
        assert_eq!(title_terms(&segmented("claude4", &[]), "Claude 4 發布"), 1);
        // Characters still count: a space is no wildcard.
        let q = segmented("\"0.5元\"", &[]);
        assert!(!matches_all(&q, &p, &|_: &str| true));
    }

    #[test]
    fn merges_overlaps() {
        assert_eq!(merge(vec![3..5, 0..2, 1..4, 7..8]), vec![0..5, 7..8]);
    }
}

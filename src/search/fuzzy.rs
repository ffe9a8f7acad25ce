//! How much of a query a partial match holds, for the relaxed tier: the query's characters
//! found in order (a local alignment that forgives a character dropped, replaced or swapped),
//! and its content words weighted by rarity (question words weigh little). A line whose jieba
//! words were broken by a misremembered character still aligns on most of its characters.

use std::ops::Range;

use crate::search::plan::{Plan, Term};
use crate::search::rank;
use crate::text::analysis::{self, Normalized, Piece, is_long_word};

/// Words that carry the form of a question or a sentence, not its content: they weigh
/// `STOP_WEIGHT` of their rarity, and are never highlighted in a partial match.
pub const STOP_WORDS: &[&str] = &[
    "是",
    "的",
    "了",
    "吗",
    "呢",
    "吧",
    "啊",
    "呀",
    "嘛",
    "哪",
    "谁",
    "几",
    "么",
    "什么",
    "怎么",
    "怎样",
    "怎么样",
    "为什么",
    "为何",
    "如何",
    "哪里",
    "哪儿",
    "哪个",
    "哪些",
    "哪一年",
    "哪年",
    "多少",
    "几时",
    "何时",
    "是不是",
    "有没有",
    "在",
    "有",
    "和",
    "与",
    "及",
    "或",
    "也",
    "都",
    "就",
    "还",
    "又",
    "这",
    "那",
    "这个",
    "那个",
    "一个",
    "可以",
    "能",
    "会",
    "要",
    "我",
    "你",
    "他",
    "她",
    "它",
    "我们",
    "你们",
    "他们",
    "请问",
    "知道",
    "告诉",
];
/// Share of its rarity a stop word weighs.
const STOP_WEIGHT: f32 = 0.05;
/// Query characters aligned beyond this are not looked at (the alignment costs their product
/// with the passage's characters).
const MAX_ALIGN_CHARS: usize = 64;
/// Terms shorter than this (counted characters) relax by their words only: two characters
/// of three in order say little.
const MIN_ALIGN_CHARS: usize = 4;
/// Alignment scores: a character in place, one replaced, one left out on either side.
const MATCH: f32 = 1.0;
const MISMATCH: f32 = -0.6;
const GAP: f32 = -0.6;
/// Two characters side by side, swapped: both count, less one replacement.
const SWAP: f32 = 2.0 * MATCH + MISMATCH;
/// A partial match must hold this share of the query in order (alignment)...
pub const MIN_ALIGN: f32 = 0.5;
/// ... or this share of its words' weight...
pub const MIN_SHARE: f32 = 0.5;
/// ... or, for a query of `SENTENCE_WORDS` content words or more (a question, a sentence),
/// this share: a full list of the passages sharing its rarest words.
pub const MIN_SHARE_SENTENCE: f32 = 0.1;
/// Content words (not stop words) that make a query a sentence.
const SENTENCE_WORDS: usize = 3;

/// Whether `w` (normalised) is a stop word.
pub fn is_stop_word(w: &str) -> bool {
    STOP_WORDS.contains(&w)
}

/// The characters of `norm` (a term) that are the pieces of a stop word it holds, when its
/// words (`words`, segmented against the index's vocabulary) hold them one by one: a
/// question word the corpus lacks (什么 in 软件是什么, on a corpus without it) is split into
/// characters, each as rare as a character can be, and would outweigh the content words.
fn split_stop_words<'a>(norm: &str, words: &'a [String]) -> Vec<&'a String> {
    let single = |c: char| words.iter().find(|w| w.chars().eq([c]));
    let mut out = Vec::new();
    for stop in STOP_WORDS.iter().filter(|s| s.chars().nth(1).is_some()) {
        let pieces: Option<Vec<_>> = stop.chars().map(single).collect();
        if let (true, Some(pieces)) = (norm.contains(stop), pieces) {
            out.extend(pieces);
        }
    }
    out
}

/// Characters that count in an alignment: letters and digits (Han included), not punctuation
/// or spaces, which a writer drops or adds at will.
fn counts(c: char) -> bool {
    c.is_alphanumeric()
}

/// The terms a partial match is measured against: the bare terms, or every term when all are
/// quoted (a quoted phrase that matches nothing relaxes too).
pub fn relaxed_terms(plan: &Plan) -> impl Iterator<Item = &Term> {
    let any_bare = plan.can_relax();
    plan.terms().filter(move |t| !any_bare || !t.quoted)
}

/// The query as the relaxed tier measures it, prepared once per search.
pub struct Relaxed {
    /// Each term's counted characters (its form as typed), for the alignment.
    terms: Vec<Vec<char>>,
    /// Each term's forms and words, for the share of its words.
    words: Vec<TermWords>,
    /// The share of the words' weight a partial match must hold.
    min_share: f32,
}

/// A term's forms (a passage holding one holds all its words) and its words (with at least
/// one counted character) with their weight.
struct TermWords {
    forms: Vec<String>,
    /// Each word, its weight, and whether it is (a piece of) a stop word.
    words: Vec<(String, f32, bool)>,
}

/// How a passage measures against the query.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Measure {
    /// Share of the query's counted characters aligned in order, 0..=1.
    pub align: f32,
    /// Share of the words' weight the passage holds (stop words count in the query only),
    /// 0..=1.
    pub share: f32,
    /// Whether the passage holds a content word of two characters or more, or a whole term:
    /// characters scattered alone share no meaning with the query.
    pub word: bool,
    /// Characters of the passage's visible text that counted (aligned characters and content
    /// words), as character ranges of its normalised visible text.
    pub spans: Vec<Range<usize>>,
}

impl Measure {
    /// The score partial matches are ranked by (0..=2).
    pub fn score(&self) -> f32 {
        self.align + self.share
    }
}

impl Relaxed {
    /// The measure of `plan`'s relaxed terms; `idf` weighs a word by its rarity.
    pub fn new(plan: &Plan, idf: &dyn Fn(&str) -> f32) -> Relaxed {
        let mut terms = Vec::new();
        let mut words = Vec::new();
        for t in relaxed_terms(plan) {
            let chars: Vec<char> = t.norm().chars().filter(|&c| counts(c)).collect();
            terms.push(chars.into_iter().take(MAX_ALIGN_CHARS).collect());
            let split = split_stop_words(t.norm(), t.words());
            let weighted = t.words().iter().filter(|w| w.chars().any(counts));
            words.push(TermWords {
                forms: t.forms.iter().map(|f| f.norm.clone()).collect(),
                words: weighted
                    .map(|w| {
                        let stop = is_stop_word(w) || split.contains(&w);
                        let share = if stop { STOP_WEIGHT } else { 1.0 };
                        (w.clone(), idf(w).max(1e-3) * share, stop)
                    })
                    .collect(),
            });
        }
        let content = words.iter().flat_map(|t: &TermWords| &t.words);
        let sentence = content.filter(|(_, _, stop)| !stop).count() >= SENTENCE_WORDS;
        Relaxed {
            terms,
            words,
            min_share: if sentence {
                MIN_SHARE_SENTENCE
            } else {
                MIN_SHARE
            },
        }
    }

    /// Whether a passage measured so holds enough of the query to be a partial match.
    pub fn enough(&self, m: &Measure) -> bool {
        m.align >= MIN_ALIGN || (m.word && m.share >= self.min_share)
    }

    /// How the passage whose visible text is `visible` measures against the query.
    pub fn measure(&self, visible: &[Piece]) -> Measure {
        let vis = analysis::normalize_pieces(visible);
        self.measure_normalized(&vis)
    }

    fn measure_normalized(&self, vis: &Normalized) -> Measure {
        let (idx, chars): (Vec<usize>, Vec<char>) = vis
            .chars()
            .filter_map(|(i, s)| {
                let c = s.chars().next()?;
                counts(c).then_some((i, c))
            })
            .unzip();
        let mut spans = Vec::new();
        let (mut aligned, mut total) = (0.0, 0usize);
        for term in self.terms.iter().filter(|t| t.len() >= MIN_ALIGN_CHARS) {
            let (score, matched) = align(term, &chars);
            aligned += score;
            total += term.len();
            // Characters scattered over a passage that holds little of the term in order
            // are no highlight.
            if score >= MIN_ALIGN * term.len() as f32 {
                spans.extend(aligned_runs(matched, &chars, &idx));
            }
        }
        let (mut all, mut held) = (0.0, 0.0);
        let before = spans.len();
        for t in &self.words {
            all += t.words.iter().map(|(_, w, _)| w).sum::<f32>();
            held += t.held(vis, &mut spans);
        }
        // Spans added by the words are those of whole terms and long content words.
        let word = spans.len() > before;
        Measure {
            align: if total == 0 {
                0.0
            } else {
                aligned / total as f32
            },
            share: if all > 0.0 { held / all } else { 0.0 },
            word,
            spans,
        }
    }
}

impl TermWords {
    /// The weight of the term's words the passage holds, and where the content words are: all
    /// of them when it holds a form of the term as a string. A stop word weighs in what the
    /// query asks, not in what a passage holds: a passage sharing only question words holds
    /// nothing. Only words of two characters or more are highlighted.
    fn held(&self, vis: &Normalized, spans: &mut Vec<Range<usize>>) -> f32 {
        let content = self.words.iter().filter(|(_, _, stop)| !stop);
        let whole: Vec<Range<usize>> = self.forms.iter().flat_map(|f| vis.find_all(f)).collect();
        if !whole.is_empty() {
            spans.extend(whole);
            return content.map(|(_, weight, _)| weight).sum();
        }
        let mut held = 0.0;
        for (w, weight, _) in content {
            let found = vis.find_all(w);
            if !found.is_empty() {
                held += weight;
                if is_long_word(w) {
                    spans.extend(found);
                }
            }
        }
        held
    }
}

/// The runs of consecutive aligned characters as ranges of the normalised text (spaces and
/// punctuation between them included); a lone stop word (`的` aligned on its own) is no
/// highlight.
fn aligned_runs(mut matched: Vec<usize>, chars: &[char], idx: &[usize]) -> Vec<Range<usize>> {
    matched.sort_unstable();
    matched.dedup();
    let mut out = Vec::new();
    let mut k = 0;
    while k < matched.len() {
        let start = k;
        while k + 1 < matched.len() && matched[k + 1] == matched[k] + 1 {
            k += 1;
        }
        let (first, last) = (matched[start], matched[k]);
        let lone_stop = first == last && is_stop_word(chars[first].encode_utf8(&mut [0; 4]));
        if !lone_stop {
            out.push(idx[first]..idx[last] + 1);
        }
        k += 1;
    }
    out
}

/// The best local alignment of `query` in `text` (Smith–Waterman: a character in place
/// scores [`MATCH`], a replaced one [`MISMATCH`], one left out on either side [`GAP`]),
/// clamped to 0..=query length, with the positions in `text` of the characters aligned.
fn align(query: &[char], text: &[char]) -> (f32, Vec<usize>) {
    let (n, m) = (query.len(), text.len());
    if n == 0 || m == 0 {
        return (0.0, Vec::new());
    }
    let w = m + 1;
    let mut h = vec![0.0f32; (n + 1) * w];
    let mut best = (0.0f32, 0, 0);
    for i in 1..=n {
        for j in 1..=m {
            let diag = h[(i - 1) * w + j - 1]
                + if query[i - 1] == text[j - 1] {
                    MATCH
                } else {
                    MISMATCH
                };
            let v = diag
                .max(h[(i - 1) * w + j] + GAP)
                .max(h[i * w + j - 1] + GAP)
                .max(swapped(query, text, i, j).map_or(0.0, |_| h[(i - 2) * w + j - 2] + SWAP))
                .max(0.0);
            h[i * w + j] = v;
            if v > best.0 {
                best = (v, i, j);
            }
        }
    }
    // Trace back the characters aligned in place.
    let (score, mut i, mut j) = best;
    let mut matched = Vec::new();
    while i > 0 && j > 0 && h[i * w + j] > 0.0 {
        let v = h[i * w + j];
        let same = query[i - 1] == text[j - 1];
        let diag = h[(i - 1) * w + j - 1] + if same { MATCH } else { MISMATCH };
        if swapped(query, text, i, j).is_some()
            && (v - (h[(i - 2) * w + j - 2] + SWAP)).abs() < 1e-4
        {
            matched.extend([j - 1, j - 2]);
            i -= 2;
            j -= 2;
        } else if (v - diag).abs() < 1e-4 {
            if same {
                matched.push(j - 1);
            }
            i -= 1;
            j -= 1;
        } else if (v - (h[(i - 1) * w + j] + GAP)).abs() < 1e-4 {
            i -= 1;
        } else {
            j -= 1;
        }
    }
    matched.reverse();
    (score.min(n as f32), matched)
}

/// Whether the two characters before `i` in `query` are those before `j` in `text`, swapped.
fn swapped(query: &[char], text: &[char], i: usize, j: usize) -> Option<()> {
    (i >= 2
        && j >= 2
        && query[i - 1] == text[j - 2]
        && query[i - 2] == text[j - 1]
        && query[i - 1] != query[i - 2])
        .then_some(())
}

/// Highlights of a partial match: the characters that counted, as byte ranges of the
/// passage's text, merged and sorted. `visible` is the passage's visible text.
pub fn highlights(visible: &[Piece], spans: &[Range<usize>]) -> Vec<Range<usize>> {
    let vis = analysis::normalize_pieces(visible);
    let ranges = spans
        .iter()
        .filter(|r| r.start < r.end && r.end <= vis.len())
        .map(|r| vis.orig_range(r.clone()))
        .collect();
    rank::merge(ranges)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::plan::bind_with;
    use crate::search::query::parse;

    fn relaxed(q: &str, vocab: &[&str], idf: &dyn Fn(&str) -> f32) -> Relaxed {
        let freq = |w: &str| u64::from(vocab.contains(&w)) * 10;
        Relaxed::new(&bind_with(&parse(q).unwrap(), 1000, &freq, None), idf)
    }

    fn measure(r: &Relaxed, text: &str) -> Measure {
        r.measure(&[Piece::verbatim(text, 0..text.len())])
    }

    #[test]
    fn a_line_with_a_character_wrong_aligns_on_the_rest() {
        let r = relaxed("近身藥裹長攜", &["近身", "药裹"], &|_| 1.0);
        // 要 left out: its words (长携 is no word of the line's) are broken.
        let m = measure(&r, "與汝林居未相失，近身藥裹要長攜。");
        assert!(m.align > 0.8 && r.enough(&m), "{m:?}");
        let swapped = measure(&r, "近身裹藥要長攜");
        assert!(swapped.align < m.align && swapped.align >= MIN_ALIGN);
        let unrelated = measure(&r, "長安一片月，萬戶擣衣聲");
        assert!(unrelated.align < MIN_ALIGN, "{unrelated:?}");
        assert!(m.score() > unrelated.score());
    }

    #[test]
    fn alignment_skips_punctuation_and_spaces() {
        let r = relaxed("春眠不觉晓处处闻啼鸟", &[], &|_| 1.0);
        let m = measure(&r, "春眠不覺曉，處處聞啼鳥。");
        assert_eq!(m.align, 1.0);
    }

    #[test]
    fn question_words_weigh_little() {
        let vocab = ["阿里", "盈利", "第一次", "一年", "什么"];
        let idf = |w: &str| if w == "盈利" { 5.0 } else { 1.0 };
        let r = relaxed("阿里云第一次盈利是哪一年", &vocab, &idf);
        let answer = measure(&r, "直到2022年,阿里雲才實現了創立十三年來的首次盈利");
        let other = measure(&r, "這是哪一年的事?第一次");
        assert!(answer.share > other.share, "{answer:?} {other:?}");
        assert!(r.enough(&answer));
    }

    #[test]
    fn aligned_runs_join_across_spaces_and_leave_out_a_lone_stop_word() {
        // 阿 里 云 … 的: positions in the text without spaces, and in the normalised text.
        let chars: Vec<char> = "阿里云是拿命换的".chars().collect();
        let idx = [0, 2, 4, 6, 7, 8, 9, 12];
        let runs = aligned_runs(vec![2, 1, 0, 7], &chars, &idx);
        assert_eq!(runs, vec![0..5]);
        assert_eq!(
            aligned_runs(vec![3], &chars, &idx),
            Vec::<Range<usize>>::new()
        );
    }

    #[test]
    fn highlights_are_the_words_that_counted() {
        let vocab = ["盈利", "什么"];
        let r = relaxed("什么是盈利的", &vocab, &|_| 1.0);
        let text = "公司的盈利很高的，是什么原因";
        let m = measure(&r, text);
        let h = highlights(&[Piece::verbatim(text, 0..text.len())], &m.spans);
        let marked: Vec<&str> = h.iter().map(|r| &text[r.clone()]).collect();
        assert_eq!(marked, vec!["盈利"], "not 的, 是 or 什么");
    }

    #[test]
    fn alignment_is_local() {
        assert_eq!(align(&['a', 'b', 'c'], &['x', 'a', 'b', 'c', 'y']).0, 3.0);
        let (s, m) = align(&['a', 'b', 'c', 'd'], &['b', 'a', 'c', 'd']);
        assert!((s - 3.4).abs() < 1e-4, "{s}");
        assert_eq!(m, vec![0, 1, 2, 3]);
        let (s, m) = align(&['a', 'b', 'c', 'd'], &['a', 'b', 'x', 'd']);
        assert!((s - 2.4).abs() < 1e-4, "{s}");
        assert_eq!(m, vec![0, 1, 3]);
        assert_eq!(align(&[], &['a']).0, 0.0);
    }
}

//! Text analysis shared by indexing and querying: normalisation with an offset map back to the
//! original bytes, character tokens (the exact-substring path) and jieba words (the ranking path).
//!
//! Normalisation is `t2s(lowercase(NFKC(s)))`, the same order as the evaluation oracle, with
//! invisible format characters (zero-width space, soft hyphen, …) dropped. Whitespace is
//! typography, not content ([`is_spacing`]): it stays in the normalised text (jieba needs it to
//! cut Latin words apart) but is no token of the index and takes no position, and matching
//! compares texts without it ([`compact`], [`Normalized::compact`]). Every
//! normalised character remembers the original byte range it came from, so that highlights and
//! crops always land on the original characters, in their original script, whatever NFKC or
//! OpenCC did to the length.

use std::borrow::Cow;
use std::iter::Peekable;
use std::ops::Range;
use std::str::CharIndices;
use std::sync::OnceLock;

use jieba_rs::Jieba;
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::{canonical_combining_class, decompose_compatible};
use unicode_normalization::{IsNormalized, is_nfc_quick};

use crate::text::chars::is_unified_han;

/// A piece of source text to normalise: `text` stands for the bytes `orig` of the source.
/// When `text` is the verbatim source slice, every character maps to its own bytes; otherwise
/// (a decoded HTML entity, say) every character maps to the whole range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    /// The text, normalised or as in the source.
    pub text: String,
    /// Byte range of the piece in the original text.
    pub orig: Range<usize>,
    /// Whether `text` is the original bytes of `orig` (not a decoded entity).
    pub verbatim: bool,
}

impl Piece {
    /// The source slice `src[orig]` itself.
    pub fn verbatim(src: &str, orig: Range<usize>) -> Piece {
        Piece {
            text: src[orig.clone()].to_string(),
            orig,
            verbatim: true,
        }
    }

    /// Text that stands for `orig` without being a copy of it.
    pub fn mapped(text: &str, orig: Range<usize>) -> Piece {
        Piece {
            text: text.to_string(),
            orig,
            verbatim: false,
        }
    }

    /// The same piece with its source range moved by `-by` bytes.
    pub fn shifted(&self, by: usize) -> Piece {
        Piece {
            text: self.text.clone(),
            orig: self.orig.start - by..self.orig.end - by,
            verbatim: self.verbatim,
        }
    }
}

/// Normalised text plus, for each of its characters, the original byte range it stands for.
#[derive(Debug, Clone, Default)]
pub struct Normalized {
    /// The normalised text.
    pub text: String,
    /// Byte offset in `text` of each normalised character, plus `text.len()` at the end.
    byte_at: Vec<usize>,
    /// Original byte range of each normalised character.
    orig: Vec<Range<usize>>,
}

impl Normalized {
    /// Number of normalised characters.
    pub fn len(&self) -> usize {
        self.orig.len()
    }

    /// Whether there is no text.
    pub fn is_empty(&self) -> bool {
        self.orig.is_empty()
    }

    /// The characters of the normalised text with their positions (character index).
    pub fn chars(&self) -> impl Iterator<Item = (usize, &str)> + '_ {
        (0..self.len()).map(|i| (i, &self.text[self.byte_at[i]..self.byte_at[i + 1]]))
    }

    /// Character index of a byte offset of `text` (which must be a char boundary).
    pub fn char_index(&self, byte: usize) -> usize {
        self.byte_at.partition_point(|&b| b < byte)
    }

    /// Original byte range covered by normalised characters `chars` (non-empty).
    pub fn orig_range(&self, chars: Range<usize>) -> Range<usize> {
        let first = &self.orig[chars.start];
        let last = &self.orig[chars.end - 1];
        first.start.min(last.start)..first.end.max(last.end)
    }

    /// The same text without its whitespace (see [`is_spacing`]), each remaining character
    /// keeping its original bytes: an occurrence in it maps back to a range of the original
    /// text that spans the spaces between its characters.
    pub fn compact(self) -> Normalized {
        if !self.text.contains(is_spacing) {
            return self;
        }
        let mut text = String::with_capacity(self.text.len());
        let mut byte_at = Vec::with_capacity(self.byte_at.len());
        let mut orig = Vec::with_capacity(self.orig.len());
        for ((_, c), range) in self.text.char_indices().zip(self.orig) {
            if !is_spacing(c) {
                byte_at.push(text.len());
                text.push(c);
                orig.push(range);
            }
        }
        byte_at.push(text.len());
        Normalized {
            text,
            byte_at,
            orig,
        }
    }

    /// Every occurrence of `needle` (already normalised) as a range of character indices.
    pub fn find_all(&self, needle: &str) -> Vec<Range<usize>> {
        if needle.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        let mut from = 0;
        while let Some(at) = self.text[from..].find(needle) {
            let start = from + at;
            let end = start + needle.len();
            out.push(self.char_index(start)..self.char_index(end));
            // Overlapping occurrences count too ("钉钉钉" holds "钉钉" twice).
            from = start + self.text[start..].chars().next().map_or(1, char::len_utf8);
        }
        out
    }
}

/// Whitespace, which never decides a match: Chinese typesetting puts spaces around Latin words
/// and numbers, or not, at the writer's whim (`0.4 元` is `0.4元`). Unicode's White_Space
/// (after NFKC, the ideographic and no-break spaces are a space), as `str::trim` and the query
/// language's term separators read it; line breaks included.
pub fn is_spacing(c: char) -> bool {
    c.is_whitespace()
}

/// `s` without its whitespace (see [`is_spacing`]): what a normalised phrase must be found as.
pub fn compact(s: &str) -> Cow<'_, str> {
    if s.contains(is_spacing) {
        Cow::Owned(s.chars().filter(|&c| !is_spacing(c)).collect())
    } else {
        Cow::Borrowed(s)
    }
}

/// Folds a string the way the index does: NFKC, lowercase, Traditional→Simplified.
pub fn normalize(s: &str) -> String {
    let mut folded = String::with_capacity(s.len());
    fold_into(s, &mut folded);
    t2s(&folded)
}

/// [`normalize`] of the concatenation of `pieces`, without the offset map.
pub fn normalize_text(pieces: &[Piece]) -> String {
    let mut folded = String::new();
    for p in pieces {
        fold_into(&p.text, &mut folded);
    }
    t2s(&folded)
}

/// Where the cluster of `c` (at `start`) ends: after the characters that follow it and that
/// NFKC may join to it ([`joins`]), which are taken from `chars`.
fn cluster_end(chars: &mut Peekable<CharIndices<'_>>, start: usize, c: char) -> usize {
    let mut end = start + c.len_utf8();
    while let Some(&(at, n)) = chars.peek() {
        if !joins(n) {
            break;
        }
        end = at + n.len_utf8();
        chars.next();
    }
    end
}

/// Whether NFKC may join `n` to the characters before it: a combining mark, or a character
/// whose compatibility form starts with one or with a character that composes with what
/// precedes it (a half-width voiced mark `ﾞ`, the vowels and finals of conjoining Hangul,
/// some vowel signs). Text is folded a cluster at a time, a query as a whole: a cluster must
/// not end before such a character, or `ｶﾞ` would fold to `カ` and a lone mark, not `ガ`.
fn joins(n: char) -> bool {
    if canonical_combining_class(n) != 0 {
        return true;
    }
    match n as u32 {
        // Below Devanagari no starter composes with what precedes it, nor decomposes to a
        // mark first (compatibility forms such as `¨` start with a space).
        ..0x0900 => false,
        // The punctuation and full width forms a build meets most, and half-width katakana
        // (the half-width voiced marks that follow them and half-width Hangul do join).
        0x2000..0x2070 | 0x3000..0x3040 | 0xFF00..0xFF9E => false,
        _ => composes_backward(n),
    }
}

/// Whether `n`'s compatibility form starts with a combining mark or with a character that
/// composes with what precedes it.
fn composes_backward(n: char) -> bool {
    let mut first = None;
    decompose_compatible(n, |d| {
        first.get_or_insert(d);
    });
    first.is_some_and(|d| {
        canonical_combining_class(d) != 0
            || !matches!(is_nfc_quick(std::iter::once(d)), IsNormalized::Yes)
    })
}

/// [`fold_piece`] without the map, appended to `out`: what every passage of a build goes
/// through twice, so its common characters (ASCII, unified ideographs, punctuation and full
/// width forms, each followed by no combining mark) are pushed as they come or from a table
/// instead of through NFKC's iterators.
fn fold_into(text: &str, out: &mut String) {
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        let alone = chars
            .peek()
            .is_none_or(|&(_, n)| n.is_ascii() || is_unified_han(n) || !joins(n));
        if alone {
            if c.is_ascii() {
                out.push(c.to_ascii_lowercase());
                continue;
            }
            if is_unified_han(c) {
                out.push(c);
                continue;
            }
            if let Some(folded) = folded_punctuation(c) {
                out.push_str(folded);
                continue;
            }
        }
        // The general rule, over the character and its combining marks.
        let end = cluster_end(&mut chars, start, c);
        fold_piece(&text[start..end], |_, folded| out.extend(folded));
    }
}

/// What [`fold_piece`] makes of `c` alone, for General Punctuation (U+2000–U+206F), CJK
/// Symbols and Punctuation (U+3000–U+303F) and the full and half width forms (U+FF00–U+FFEF):
/// computed by the same rule once per process.
fn folded_punctuation(c: char) -> Option<&'static str> {
    const RANGES: [(u32, u32); 3] = [(0x2000, 0x2070), (0x3000, 0x3040), (0xFF00, 0xFFF0)];
    static TABLE: OnceLock<Vec<String>> = OnceLock::new();
    let u = c as u32;
    let mut at = 0;
    for (lo, hi) in RANGES {
        if (lo..hi).contains(&u) {
            let table = TABLE.get_or_init(|| {
                let all = RANGES.iter().flat_map(|&(lo, hi)| lo..hi);
                all.map(|u| {
                    let mut folded = String::new();
                    let c = char::from_u32(u).unwrap_or_default().to_string();
                    fold_piece(&c, |_, chars| folded.extend(chars));
                    folded
                })
                .collect()
            });
            return Some(&table[at + (u - lo) as usize]);
        }
        at += (hi - lo) as usize;
    }
    None
}

/// Normalises `s` keeping the map back to its bytes.
pub fn normalize_mapped(s: &str) -> Normalized {
    normalize_pieces(&[Piece::verbatim(s, 0..s.len())])
}

/// Normalises the concatenation of `pieces`.
pub fn normalize_pieces(pieces: &[Piece]) -> Normalized {
    let mut folded = String::new();
    let mut orig: Vec<Range<usize>> = Vec::new();
    for piece in pieces {
        let verbatim = piece.verbatim;
        fold_piece(
            &piece.text,
            |text_range, out: &mut dyn Iterator<Item = char>| {
                let range = if verbatim {
                    piece.orig.start + text_range.start..piece.orig.start + text_range.end
                } else {
                    piece.orig.clone()
                };
                for c in out {
                    folded.push(c);
                    orig.push(range.clone());
                }
            },
        );
    }
    let converted = t2s(&folded);
    let text = if converted.chars().count() == orig.len() {
        converted
    } else {
        // OpenCC's t2s tables map every key to a value of the same length, so this only runs
        // if a future dictionary breaks that; convert per character to keep the map exact.
        let mut per_char = String::with_capacity(folded.len());
        let mut new_orig = Vec::with_capacity(orig.len());
        for (c, range) in folded.chars().zip(&orig) {
            for d in t2s(c.encode_utf8(&mut [0; 4])).chars() {
                per_char.push(d);
                new_orig.push(range.clone());
            }
        }
        orig = new_orig;
        per_char
    };
    let mut byte_at: Vec<usize> = text.char_indices().map(|(b, _)| b).collect();
    byte_at.push(text.len());
    Normalized {
        text,
        byte_at,
        orig,
    }
}

/// NFKC + lowercase, one cluster (a starter and its combining marks) at a time, so that every
/// output character is attributed to the cluster it came from.
fn fold_piece(text: &str, mut emit: impl FnMut(Range<usize>, &mut dyn Iterator<Item = char>)) {
    let mut iter = text.char_indices().peekable();
    while let Some((start, c)) = iter.next() {
        let end = cluster_end(&mut iter, start, c);
        if is_invisible(c) {
            // Not what a reader sees: a phrase matches across it (`零寬\u{200b}標記`), and a
            // highlight spanning it still covers it.
            let marks = &text[start + c.len_utf8()..end];
            if !marks.is_empty() {
                emit(start..end, &mut marks.nfkc().flat_map(char::to_lowercase));
            }
        } else if c.is_ascii() && end == start + 1 {
            emit(start..end, &mut std::iter::once(c.to_ascii_lowercase()));
        } else if end == start + c.len_utf8() && is_unified_han(c) {
            // NFKC and lowercase leave unified ideographs alone: skip the work.
            emit(start..end, &mut std::iter::once(c));
        } else {
            let mut out = text[start..end].nfkc().flat_map(char::to_lowercase);
            emit(start..end, &mut out);
        }
    }
}

/// Invisible characters dropped by normalisation: Unicode's default-ignorable code points
/// (zero-width space, non-joiner and joiner, direction marks and embeddings including the
/// Arabic letter mark, word joiner and invisible operators, zero-width no-break space (a BOM
/// inside the text), soft hyphen, combining grapheme joiner, Mongolian free variation
/// selectors and vowel separator, variation selectors, tag characters), except the Hangul
/// fillers, which show as blank space.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

fn t2s(s: &str) -> String {
    crate::text::t2s::convert(s)
}

/// jieba with its default dictionary, loaded once per process and only when words are needed.
fn jieba() -> &'static Jieba {
    static JIEBA: OnceLock<Jieba> = OnceLock::new();
    JIEBA.get_or_init(Jieba::new)
}

/// A word worth indexing: anything with a letter, digit or Han character in it.
fn is_word(w: &str) -> bool {
    w.chars().any(char::is_alphanumeric)
}

/// A word of a segmented query, with its character position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// The word, normalised.
    pub text: String,
    /// Character range in the normalised text.
    pub chars: Range<usize>,
}

/// First character of a field value to index as characters only (a raw line indexed beside its
/// visible text, a front matter value): it is not itself a token.
pub const CHARS_ONLY: char = '\u{1}';

/// Whether jieba word `w` has an index term of its own: a one-character word is indexed as
/// its character token (every occurrence, inside longer words too), and a query cannot tell
/// it apart from the character.
pub fn is_long_word(w: &str) -> bool {
    w.chars().nth(1).is_some()
}

/// Tantivy tokenizer of normalised text. Every character but whitespace is a token positioned
/// by its index among those characters, so a phrase query over characters is an exact
/// substring search of the text without its whitespace ([`compact`]): spacing never decides a
/// match (`0.4元` finds `0.4 元`). Unless
/// `chars_only` (or the value starts with [`CHARS_ONLY`]), jieba's words of two characters or
/// more follow, each at the position of its first character (numbered the same way), for
/// BM25: one field and one pass
/// serve both paths, and a one-character word is its character's token (see [`is_long_word`]).
///
/// Words are jieba's search mode (whole words plus their dictionary sub-words), so a query
/// word matches inside a longer document word (`处理` in `待处理`). The HMM is off: it glues
/// unknown characters into guessed words (`云是`) that a query would never produce.
#[derive(Clone, Default)]
pub struct TextTokenizer {
    /// Only characters, no words (titles and front matter values).
    pub chars_only: bool,
}

/// The tokens of one text.
pub struct TextTokenStream<'a> {
    text: &'a str,
    chars: std::str::CharIndices<'a>,
    /// Character index in `text` of the next character.
    next_char: usize,
    /// Character indices of the whitespace skipped (when words follow), to number the words.
    spaces: Vec<usize>,
    position: usize,
    /// Words still to emit; filled when the characters are done.
    words: Option<std::vec::IntoIter<jieba_rs::Token<'a>>>,
    with_words: bool,
    token: Token,
}

impl Tokenizer for TextTokenizer {
    type TokenStream<'a> = TextTokenStream<'a>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> TextTokenStream<'a> {
        let marked = text.starts_with(CHARS_ONLY);
        let text = if marked {
            &text[CHARS_ONLY.len_utf8()..]
        } else {
            text
        };
        TextTokenStream {
            text,
            chars: text.char_indices(),
            next_char: 0,
            spaces: Vec::new(),
            position: usize::MAX,
            words: None,
            with_words: !self.chars_only && !marked,
            token: Token::default(),
        }
    }
}

impl TokenStream for TextTokenStream<'_> {
    fn advance(&mut self) -> bool {
        for (at, c) in self.chars.by_ref() {
            let index = self.next_char;
            self.next_char += 1;
            if is_spacing(c) {
                // No token and no position: a phrase runs across it.
                if self.with_words {
                    self.spaces.push(index);
                }
                continue;
            }
            self.position = self.position.wrapping_add(1);
            self.token.text.clear();
            self.token.text.push(c);
            self.token.offset_from = at;
            self.token.offset_to = at + c.len_utf8();
            self.token.position = self.position;
            self.token.position_length = 1;
            return true;
        }
        if !self.with_words {
            return false;
        }
        let text = self.text;
        let words = self
            .words
            .get_or_insert_with(|| jieba().cut_for_search(text, false).into_iter());
        for w in words.by_ref() {
            if w.end - w.start > 1 && is_word(w.word) {
                self.token.text.clear();
                self.token.text.push_str(w.word);
                self.token.offset_from = w.byte_start;
                self.token.offset_to = w.byte_end;
                // Numbered as the characters are: less the whitespace before it.
                self.token.position = w.start - self.spaces.partition_point(|&i| i < w.start);
                self.token.position_length = w.end - w.start;
                return true;
            }
        }
        false
    }
    fn token(&self) -> &Token {
        &self.token
    }
    fn token_mut(&mut self) -> &mut Token {
        &mut self.token
    }
}

/// Longest word looked up when segmenting a query, in characters.
pub const MAX_WORD_CHARS: usize = 16;

/// Segments a normalised query into words the way jieba would (most probable path through
/// the word graph, runs of single ASCII letters and digits kept together), but with the
/// index's own vocabulary: `freq(w)` is how often the index holds word `w` and `total` the
/// number of word tokens. A word the corpus lacks cannot match anyway, and the query path
/// never pays for loading jieba's dictionary.
pub fn segment(norm: &str, total: u64, freq: impl Fn(&str) -> u64) -> Vec<Word> {
    let chars: Vec<(usize, char)> = norm.char_indices().collect();
    let n = chars.len();
    let byte = |i: usize| chars.get(i).map_or(norm.len(), |c| c.0);
    let ln_total = (total.max(1) as f64).ln();
    // route[i]: best log-probability of norm[i..] and the end of its first word.
    let mut route = vec![(0.0f64, n); n + 1];
    for i in (0..n).rev() {
        let mut best = (f64::NEG_INFINITY, i + 1);
        for j in i + 1..=n.min(i + MAX_WORD_CHARS) {
            let f = freq(&norm[byte(i)..byte(j)]);
            // A single character is always a path, known or not.
            let f = if j == i + 1 { f.max(1) } else { f };
            if f == 0 {
                continue;
            }
            let score = (f as f64).ln() - ln_total + route[j].0;
            if score > best.0 {
                best = (score, j);
            }
        }
        route[i] = best;
    }
    let mut out: Vec<Word> = Vec::new();
    let mut i = 0;
    let mut ascii_run: Option<usize> = None;
    while i < n {
        let j = route[i].1;
        let single_alnum = j == i + 1 && chars[i].1.is_ascii_alphanumeric();
        if single_alnum {
            ascii_run.get_or_insert(i);
        } else {
            if let Some(start) = ascii_run.take() {
                out.push(word(norm, start..i, &byte));
            }
            out.push(word(norm, i..j, &byte));
        }
        i = j;
    }
    if let Some(start) = ascii_run {
        out.push(word(norm, start..n, &byte));
    }
    out.retain(|w| is_word(&w.text));
    out
}

fn word(norm: &str, chars: Range<usize>, byte: &impl Fn(usize) -> usize) -> Word {
    Word {
        text: norm[byte(chars.start)..byte(chars.end)].to_string(),
        chars,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// NFKC of the whole string, then lowercase and t2s, as a query's terms are folded.
    fn whole(s: &str) -> String {
        let folded: String = s.nfkc().flat_map(char::to_lowercase).collect();
        t2s(&folded)
    }

    #[test]
    fn text_folds_as_a_query_does_where_nfkc_joins_characters() {
        for s in [
            "ｶﾞｲﾄﾞ手冊",
            "ﾊﾟﾝ、ｶﾞ，ﾞ",
            "\u{1112}\u{1161}\u{11AB}國語",
            "\u{0B47}\u{0B3E}",
            "\u{0BC6}\u{0BBE}",
            "e\u{301}か\u{3099}",
            "\u{09C7}\u{09BE}",
            "\u{AC00}\u{3133}\u{AC00}\u{FFA3}",
            "ﾞ",
        ] {
            assert_eq!(normalize(s), whole(s), "{s:?}");
            let mapped = normalize_mapped(s);
            assert_eq!(mapped.text, whole(s), "{s:?}");
        }
        assert_eq!(normalize("ｶﾞｲﾄﾞ"), "ガイド");
        assert_eq!(normalize("\u{1112}\u{1161}\u{11AB}"), "한");
    }

    #[test]
    fn the_fast_paths_of_joins_agree_with_the_rule() {
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let rule = canonical_combining_class(c) != 0 || composes_backward(c);
            assert_eq!(joins(c), rule, "{c:?} U+{:04X}", c as u32);
        }
    }

    #[test]
    fn folds_script_width_and_case() {
        assert_eq!(normalize("５Ｋ瓶頸"), "5k瓶颈");
        assert_eq!(normalize("Qwen2.5-Max"), "qwen2.5-max");
        assert_eq!(normalize("阿里雲穩"), "阿里云稳");
        assert_eq!(normalize("位元組"), "位元组");
    }

    #[test]
    fn offset_map_round_trips_to_original_characters() {
        let src = "突破「５Ｋ瓶頸」，𠀀Ａ";
        let n = normalize_mapped(src);
        assert_eq!(n.text, "突破「5k瓶颈」,𠀀a");
        assert_eq!(n.len(), src.chars().count());
        for (i, orig_char) in src.chars().enumerate() {
            let r = n.orig_range(i..i + 1);
            assert_eq!(&src[r], orig_char.encode_utf8(&mut [0; 4]));
        }
        let hit = n.find_all("5k瓶颈");
        assert_eq!(hit, vec![3..7]);
        assert_eq!(&src[n.orig_range(hit[0].clone())], "５Ｋ瓶頸");
    }

    #[test]
    fn non_bmp_and_expanding_characters_map_back() {
        // U+2F00 (KANGXI RADICAL ONE) folds to 一; ㍻ expands to two characters; 𠀀 is non-BMP.
        let src = "⼀㍻𠀀";
        let n = normalize_mapped(src);
        assert_eq!(n.text, "一平成𠀀");
        assert_eq!(&src[n.orig_range(1..3)], "㍻");
        assert_eq!(&src[n.orig_range(3..4)], "𠀀");
        assert_eq!(n.char_index(n.text.len()), n.len());
    }

    #[test]
    fn combining_marks_stay_with_their_base() {
        let src = "Cafe\u{301}!";
        let n = normalize_mapped(src);
        assert_eq!(n.text, "café!");
        assert_eq!(&src[n.orig_range(3..4)], "e\u{301}");
    }

    #[test]
    fn pieces_map_into_their_source_ranges() {
        let src = "**組織**: a&amp;b";
        let pieces = [
            Piece::verbatim(src, 2..8),
            Piece::verbatim(src, 10..13),
            Piece::mapped("&", 13..18),
            Piece::verbatim(src, 18..19),
        ];
        let n = normalize_pieces(&pieces);
        assert_eq!(n.text, "组织: a&b");
        assert_eq!(&src[n.orig_range(0..2)], "組織");
        assert_eq!(&src[n.orig_range(5..6)], "&amp;");
        assert_eq!(n.find_all("a&b").len(), 1);
    }

    #[test]
    fn find_all_counts_overlaps() {
        let n = normalize_mapped("釘釘釘");
        assert_eq!(n.find_all("钉钉"), vec![0..2, 1..3]);
        assert!(n.find_all("").is_empty());
    }

    #[test]
    fn punctuation_folds_as_the_general_rule_says() {
        let all = (0x2000..0x2070u32)
            .chain(0x3000..0x3040)
            .chain(0xFF00..0xFFF0)
            .filter_map(char::from_u32);
        for c in all {
            for s in [format!("{c}"), format!("中{c}a"), format!("{c}\u{301}")] {
                assert_eq!(normalize(&s), normalize_mapped(&s).text, "{s:?}");
            }
        }
        assert_eq!(normalize("，。！Ａ…\u{200b}"), ",。!a...");
    }

    #[test]
    fn text_only_normalisation_agrees_with_the_mapped_one() {
        for s in [
            "５Ｋ瓶頸，Qwen2.5-Max",
            "⼀㍻𠀀",
            "Cafe\u{301}!",
            "阿里雲穩",
            // Marks after ASCII, a unified ideograph and an invisible character; a mark first.
            "A\u{301}\u{302}b中\u{301}國\u{200b}\u{301}Ｚ",
            "\u{301}\u{302}a",
            "樂\u{20dd}",
        ] {
            assert_eq!(normalize(s), normalize_mapped(s).text);
            let pieces = [Piece::verbatim(s, 0..s.len())];
            assert_eq!(normalize_text(&pieces), normalize_pieces(&pieces).text);
        }
    }

    fn tokens(tokenizer: &mut TextTokenizer, text: &str) -> Vec<(String, usize)> {
        let mut stream = tokenizer.token_stream(text);
        let mut got = Vec::new();
        while stream.advance() {
            got.push((stream.token().text.clone(), stream.token().position));
        }
        got
    }

    #[test]
    fn tokens_are_characters_then_longer_words() {
        let chars = |s: &str| -> Vec<(String, usize)> {
            s.chars()
                .enumerate()
                .map(|(i, c)| (c.to_string(), i))
                .collect()
        };
        let mut chars_only = TextTokenizer { chars_only: true };
        assert_eq!(tokens(&mut chars_only, "5k瓶颈"), chars("5k瓶颈"));
        let mut text = TextTokenizer::default();
        let mut want = chars("突破5k瓶颈了");
        want.extend([("突破".into(), 0), ("5k".into(), 2), ("瓶颈".into(), 4)]);
        assert_eq!(tokens(&mut text, "突破5k瓶颈了"), want);
        // A marked value is characters only, and the mark is no token.
        let marked = format!("{CHARS_ONLY}突破");
        assert_eq!(tokens(&mut text, &marked), chars("突破"));
    }

    #[test]
    fn whitespace_is_no_token_and_takes_no_position() {
        let mut chars_only = TextTokenizer { chars_only: true };
        let spaced = tokens(&mut chars_only, "0.4 元\t和\u{3000}a\nb");
        let tight = tokens(&mut chars_only, "0.4元和a b");
        let want: Vec<(String, usize)> = ["0", ".", "4", "元", "和", "a", "b"]
            .iter()
            .enumerate()
            .map(|(i, c)| (c.to_string(), i))
            .collect();
        assert_eq!(spaced, want);
        assert_eq!(tight, want);
        // Words are numbered as the characters are, the whitespace before them left out.
        let all = tokens(&mut TextTokenizer::default(), "发布 huggingface 的 5k瓶颈");
        let at = |w: &str| all.iter().find(|t| t.0 == w).map(|t| t.1);
        assert_eq!(at("发布"), Some(0));
        assert_eq!(at("huggingface"), Some(2));
        assert_eq!(at("5k"), Some(14));
        assert_eq!(at("瓶颈"), Some(16));
        assert_eq!(all.iter().find(|t| t.0 == "瓶").map(|t| t.1), Some(16));
        assert!(all.iter().all(|t| !t.0.contains(is_spacing)));
        // Only whitespace: no token at all.
        assert!(tokens(&mut TextTokenizer::default(), " \t\n").is_empty());
    }

    #[test]
    fn compact_text_maps_back_across_the_spaces() {
        assert_eq!(compact("2022 年底"), "2022年底");
        assert!(matches!(compact("年底"), Cow::Borrowed(_)));
        let src = "Claude 4 與 0.4\u{3000}元";
        let n = normalize_mapped(src).compact();
        assert_eq!(n.text, "claude4与0.4元");
        assert_eq!(n.len(), n.text.chars().count());
        let hit = n.find_all("claude4");
        assert_eq!(hit, vec![0..7]);
        assert_eq!(&src[n.orig_range(hit[0].clone())], "Claude 4");
        let hit = n.find_all("4元");
        assert_eq!(&src[n.orig_range(hit[0].clone())], "4\u{3000}元");
        // A zero-width character inside a word, and spaces around it.
        let src = "零寬\u{200b} 標記";
        let n = normalize_mapped(src).compact();
        let hit = n.find_all("零宽标记");
        assert_eq!(&src[n.orig_range(hit[0].clone())], src);
        // Nothing to take out: the same text.
        assert_eq!(normalize_mapped("阿里雲").compact().text, "阿里云");
    }

    #[test]
    fn words_drop_punctuation_and_keep_subwords() {
        let words: Vec<String> = tokens(&mut TextTokenizer::default(), "待处理的「5k瓶颈」")
            .into_iter()
            .skip("待处理的「5k瓶颈」".chars().count())
            .map(|(w, _)| w)
            .collect();
        assert!(words.contains(&"处理".to_string()));
        assert!(words.contains(&"待处理".to_string()));
        assert!(words.contains(&"5k".to_string()));
        assert!(!words.iter().any(|w| w == "「"));
        assert!(words.iter().all(|w| is_long_word(w)));
    }

    fn seg(q: &str, vocab: &[(&str, u64)]) -> Vec<String> {
        let total = vocab.iter().map(|v| v.1).sum::<u64>() + 1000;
        segment(q, total, |w| {
            vocab.iter().find(|v| v.0 == w).map_or(0, |v| v.1)
        })
        .into_iter()
        .map(|w| w.text)
        .collect()
    }

    #[test]
    fn queries_segment_against_the_index_vocabulary() {
        let vocab = [
            ("5k", 3),
            ("瓶颈", 5),
            ("突破", 9),
            ("阿里", 20),
            ("云", 30),
            ("处理", 4),
            ("待处理", 2),
        ];
        assert_eq!(
            seg("阿里云突破5k瓶颈", &vocab),
            vec!["阿里", "云", "突破", "5k", "瓶颈"]
        );
        assert_eq!(seg("待处理", &vocab), vec!["待处理"]);
        // Unknown letters and digits stay together; punctuation is dropped.
        assert_eq!(seg("qwen2.5-max", &vocab), vec!["qwen2", "5", "max"]);
        assert_eq!(seg("「未知」", &vocab), vec!["未", "知"]);
        assert!(seg("", &vocab).is_empty());
    }

    #[test]
    fn invisible_characters_fold_away_and_highlights_cover_them() {
        let invisible = [
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{200E}',
            '\u{200F}',
            '\u{202A}',
            '\u{202E}',
            '\u{2060}',
            '\u{2064}',
            '\u{2066}',
            '\u{2069}',
            '\u{FEFF}',
            '\u{00AD}',
            '\u{180E}',
            '\u{FE00}',
            '\u{FE0F}',
            '\u{E0100}',
            '\u{E01EF}',
            '\u{E0001}',
            '\u{E0020}',
            '\u{E007F}',
            '\u{034F}',
            '\u{061C}',
            '\u{17B4}',
            '\u{206F}',
            '\u{1D173}',
            '\u{E0FFF}',
        ];
        for zw in invisible {
            let src = format!("看零寬{zw}標記了");
            let n = normalize_mapped(&src);
            assert_eq!(n.text, "看零宽标记了");
            assert_eq!(normalize(&src), n.text);
            let hit = n.find_all("零宽标记");
            assert_eq!(hit, vec![1..5]);
            assert_eq!(&src[n.orig_range(hit[0].clone())], format!("零寬{zw}標記"));
            assert_eq!(&src[n.orig_range(5..6)], "了");
        }
        // A combining mark on an invisible character stays.
        assert_eq!(normalize("a\u{200B}\u{301}"), "a\u{301}");
        assert_eq!(normalize("\u{FEFF}\u{200B}"), "");
    }
}

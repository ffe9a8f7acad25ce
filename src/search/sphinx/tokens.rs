//! zhsearch's own analysis as SphinxQL text: the tokens the local index holds (one per
//! normalised character but whitespace, and jieba's longer words, see
//! [`TextTokenizer`]), spelt so that the engine's `charset_table` keeps each one whole and
//! reads nothing in them as an operator.
//!
//! A token whose characters are all ASCII letters and digits or CJK ideographs up to U+2FFFF
//! (what `scripts/sphinx-local.sh` puts in `charset_table`) is written as it is; any other
//! (punctuation, kana, Latin with accents, ideographs past U+2FFFF) as `_` and the hex code
//! of each character, `_`-separated. `_` is in the charset and never in a plain token, so an
//! escaped token cannot be read as another one, and no token holds a quote, a dash or any
//! other character of Sphinx's query syntax.

use tantivy::tokenizer::{TokenStream, Tokenizer};

use crate::ingest::corpus::Passage;
use crate::text::analysis::{self, CHARS_ONLY, Piece, TextTokenizer, is_spacing};

/// Whether `c` is kept by the engine's charset as a letter of a token.
fn is_plain(c: char) -> bool {
    matches!(c,
        '0'..='9' | 'a'..='z'
        | '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{2FFFF}')
}

/// One token (a character or a word) as the engine reads it.
pub fn token(t: &str) -> String {
    if !t.is_empty() && t.chars().all(is_plain) {
        return t.to_string();
    }
    let mut out = String::new();
    for c in t.chars() {
        out.push_str(&format!("_{:x}", c as u32));
    }
    out
}

/// The phrase of a normalised string over the `chars` field: its characters but whitespace,
/// in order, as tokens (`"瓶 颈"`); `None` when it has none.
pub fn phrase(norm: &str) -> Option<String> {
    let tokens: Vec<String> = norm
        .chars()
        .filter(|&c| !is_spacing(c))
        .map(|c| token(c.encode_utf8(&mut [0; 4])))
        .collect();
    (!tokens.is_empty()).then(|| format!("\"{}\"", tokens.join(" ")))
}

/// What a passage is to the engine: its `chars` and `words` fields (space-joined tokens) and
/// its words as they are (for [`crate::search::Backend::has_word`]), newline-joined.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Analysed {
    /// Character tokens, in order.
    pub chars: String,
    /// Word tokens (two characters or more).
    pub words: String,
    /// The words unescaped, one a line.
    pub wordlist: String,
}

impl Analysed {
    /// Adds the tokens of one value of the local index's `chars` field (see
    /// [`crate::store::index::passage_doc`]): the same tokenizer, so the same characters
    /// and words.
    fn add(&mut self, value: &str) {
        let mut tokenizer = TextTokenizer::default();
        let mut stream = tokenizer.token_stream(value);
        while stream.advance() {
            let t = &stream.token().text;
            let (field, raw) = if stream.token().position_length == 1 && t.chars().count() == 1 {
                (&mut self.chars, None)
            } else {
                (&mut self.words, Some(t))
            };
            if !field.is_empty() {
                field.push(' ');
            }
            field.push_str(&token(t));
            if let Some(w) = raw {
                self.wordlist.push_str(w);
                self.wordlist.push('\n');
            }
        }
    }
}

/// The tokens of one passage, as [`crate::store::index::passage_doc`] gives them to the
/// local index: the raw line's characters, the visible text's characters and words (or a
/// front matter value's characters only).
pub fn passage(p: &Passage) -> Analysed {
    let mut out = Analysed::default();
    let whole = p.visible.len() == 1 && p.visible[0] == Piece::verbatim(&p.text, 0..p.text.len());
    let visible = (!whole).then(|| analysis::normalize_text(&p.visible));
    if p.is_front_matter() {
        out.add(&format!("{CHARS_ONLY}{}", visible.unwrap_or_default()));
        return out;
    }
    let raw = analysis::normalize(&p.text);
    match visible {
        Some(v) if v != raw => {
            out.add(&format!("{CHARS_ONLY}{raw}"));
            out.add(&v);
        }
        _ => out.add(&raw),
    }
    out
}

/// The character tokens of a normalised title, for `title:` filters.
pub fn title(norm: &str) -> String {
    let mut out = Analysed::default();
    out.add(&format!("{CHARS_ONLY}{norm}"));
    out.chars
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_plain_or_escaped() {
        assert_eq!(token("瓶颈"), "瓶颈");
        assert_eq!(token("5k"), "5k");
        assert_eq!(token("，"), "_ff0c");
        assert_eq!(token("\""), "_22");
        assert_eq!(token("c+"), "_63_2b");
        assert_eq!(token("𠀋"), "𠀋");
        assert_eq!(phrase("5k 瓶颈"), Some("\"5 k 瓶 颈\"".into()));
        assert_eq!(phrase("-\"|"), Some("\"_2d _22 _7c\"".into()));
        assert_eq!(phrase("  "), None);
    }
}

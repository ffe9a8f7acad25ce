//! Traditional→Simplified conversion: OpenCC's `t2s`, exactly as ferrous-opencc computes it,
//! from tables compiled into the binary.
//!
//! OpenCC's t2s converts by greedy longest match over two dictionaries: TSCharacters (single
//! characters) and TSPhrases (about 280 phrases, all at least two characters long). So, except
//! where a phrase starts, the result is each character's own conversion, looked up in a table
//! that `build.rs` makes from `t2s_characters.txt` (one load per character; no process builds a
//! converter, which cost a whole-process search about a tenth of its time). Where one of the
//! phrases' 117 first characters appears, the phrases are tried longest first. Both files are
//! OpenCC's own (TSCharacters.txt, TSPhrases.txt; Apache-2.0), the ones ferrous-opencc compiles
//! in; a conversion is the first candidate, as OpenCC's. The tests check this conversion against
//! ferrous-opencc's on every line of the bundled corpus, around every phrase and on every
//! character of the tables and of the CJK blocks.

use std::collections::HashMap;
use std::sync::OnceLock;

use ferrous_opencc::OpenCC;

use crate::text::opencc::{Conversion, converter};

const PHRASES: &str = include_str!("t2s_phrases.txt");

/// For each BMP character, a little-endian u32: 0 = converts to itself and starts no phrase,
/// else `converted << 1 | starts_phrase`.
static BMP: &[u8; 4 * 0x1_0000] = include_bytes!(concat!(env!("OUT_DIR"), "/t2s_bmp.bin"));
/// The characters beyond the BMP that convert or start a phrase, sorted: (from, to, starts).
static ASTRAL: &[(char, char, bool)] = include!(concat!(env!("OUT_DIR"), "/t2s_astral.rs"));

/// ferrous-opencc's t2s converter (the reference the tests compare with).
pub fn opencc() -> &'static OpenCC {
    converter(Conversion::T2s).expect("the built-in OpenCC t2s config loads")
}

/// Phrase keys and their conversions by first character, longest first.
fn phrases() -> &'static HashMap<char, Vec<(&'static str, &'static str)>> {
    static PHRASES_BY_START: OnceLock<HashMap<char, Vec<(&str, &str)>>> = OnceLock::new();
    PHRASES_BY_START.get_or_init(|| {
        let mut map: HashMap<char, Vec<(&str, &str)>> = HashMap::new();
        for (key, value) in phrase_entries() {
            if let Some(first) = key.chars().next() {
                map.entry(first).or_default().push((key, value));
            }
        }
        for list in map.values_mut() {
            list.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
        }
        map
    })
}

/// TSPhrases' keys with their first candidates.
fn phrase_entries() -> impl Iterator<Item = (&'static str, &'static str)> {
    PHRASES
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('\t'))
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, values)| (k, values.split(' ').next().unwrap_or(values)))
}

/// `c` converted on its own, and whether a phrase starts with it.
#[inline]
fn lookup(c: char) -> (char, bool) {
    let i = c as usize;
    if i < 0x1_0000 {
        let entry =
            u32::from_le_bytes([BMP[4 * i], BMP[4 * i + 1], BMP[4 * i + 2], BMP[4 * i + 3]]);
        if entry == 0 {
            return (c, false);
        }
        (char::from_u32(entry >> 1).unwrap_or(c), entry & 1 != 0)
    } else {
        match ASTRAL.binary_search_by_key(&c, |e| e.0) {
            Ok(k) => (ASTRAL[k].1, ASTRAL[k].2),
            Err(_) => (c, false),
        }
    }
}

/// OpenCC t2s of `s`.
pub fn convert(s: &str) -> String {
    if s.is_ascii() {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while let Some(c) = s[i..].chars().next() {
        if c.is_ascii() {
            out.push(c);
            i += 1;
            continue;
        }
        let (to, starts) = lookup(c);
        if starts
            && let Some((key, value)) = phrases()
                .get(&c)
                .and_then(|list| list.iter().find(|(k, _)| s[i..].starts_with(k)))
        {
            out.push_str(value);
            i += key.len();
            continue;
        }
        out.push(to);
        i += c.len_utf8();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same_as_opencc(s: &str) {
        assert_eq!(convert(s), opencc().convert(s), "t2s of {s:?}");
    }

    #[test]
    fn agrees_with_opencc_on_every_line_of_the_corpus() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/corpus");
        let mut lines = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for line in text.lines() {
                same_as_opencc(line);
                lines += 1;
            }
            same_as_opencc(&text);
        }
        assert!(lines > 100);
    }

    #[test]
    fn agrees_with_opencc_around_every_phrase() {
        let keys: Vec<&str> = phrase_entries().map(|(k, _)| k).collect();
        assert!(keys.len() > 250, "the phrase list is read");
        for (n, key) in keys.iter().enumerate() {
            let next = keys[(n + 1) % keys.len()];
            for s in [
                key.to_string(),
                format!("乾{key}著"),
                format!("{key}{next}"),
                // A phrase cut short, and one glued to the next phrase's start.
                key.chars()
                    .take(key.chars().count() - 1)
                    .collect::<String>(),
                format!("a{key}{}", &next[..next.chars().next().unwrap().len_utf8()]),
            ] {
                same_as_opencc(&s);
            }
        }
    }

    #[test]
    fn agrees_with_opencc_on_mixed_and_rare_characters() {
        for s in [
            "",
            "abc",
            "突破「5k瓶頸」，𠀀𡃁Ａ",
            "乾隆年間，一目瞭然，麼麼噠",
            "著作權與瞭解、於是乎",
            "\u{2F00}\u{F900}\u{1F600}é",
        ] {
            same_as_opencc(s);
        }
        // Every character of the BMP's CJK blocks, one string each way.
        let all: String = ('\u{3400}'..='\u{9FFF}').collect();
        same_as_opencc(&all);
        let reversed: String = all.chars().rev().collect();
        same_as_opencc(&reversed);
        // And beyond: the other CJK blocks, compatibility ideographs and the supplementary planes.
        for range in [
            '\u{2E80}'..='\u{33FF}',
            '\u{F900}'..='\u{FAFF}',
            '\u{20000}'..='\u{323AF}',
        ] {
            same_as_opencc(&range.collect::<String>());
        }
    }

    #[test]
    fn agrees_with_opencc_on_every_key_of_the_tables() {
        let keys: Vec<char> = include_str!("t2s_characters.txt")
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.chars().next())
            .collect();
        assert!(keys.len() > 4000, "the character table is read");
        for c in keys {
            same_as_opencc(&c.to_string());
        }
    }
}

//! Traditional→Simplified conversion: OpenCC's `t2s`, exactly as ferrous-opencc computes it,
//! about eight times faster.
//!
//! OpenCC's t2s converts by greedy longest match over two dictionaries: TSCharacters (single
//! characters) and TSPhrases (about 280 phrases, all at least two characters long). So, except
//! where a phrase starts, the result is each character's own conversion: that is asked of
//! ferrous-opencc once per distinct character and kept in a per-thread table, instead of two
//! FST walks and a few allocations per character. Where one of the phrases' 117 first
//! characters appears, the phrases are tried longest first, and a match is converted by
//! ferrous-opencc too. `t2s_phrases.txt` is OpenCC's TSPhrases.txt (Apache-2.0), the same file
//! ferrous-opencc compiles in; only its keys are used. The tests check this conversion against
//! ferrous-opencc's on every line of the bundled corpus and around every phrase.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::OnceLock;

use ferrous_opencc::OpenCC;

use crate::text::opencc::{Conversion, converter};

const PHRASES: &str = include_str!("t2s_phrases.txt");

/// ferrous-opencc's t2s converter.
pub fn opencc() -> &'static OpenCC {
    converter(Conversion::T2s).expect("the built-in OpenCC t2s config loads")
}

/// A phrase key and its conversion, asked of ferrous-opencc the first time the phrase is met.
type Phrase = (&'static str, OnceLock<String>);

/// Phrase keys by first character, longest first. Reading them costs no conversion, so a
/// search that meets no phrase never pays for one.
fn phrases() -> &'static HashMap<char, Vec<Phrase>> {
    static PHRASES_BY_START: OnceLock<HashMap<char, Vec<Phrase>>> = OnceLock::new();
    PHRASES_BY_START.get_or_init(|| {
        let mut map: HashMap<char, Vec<Phrase>> = HashMap::new();
        for key in phrase_keys() {
            if let Some(first) = key.chars().next() {
                map.entry(first).or_default().push((key, OnceLock::new()));
            }
        }
        for list in map.values_mut() {
            list.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
        }
        map
    })
}

fn phrase_keys() -> impl Iterator<Item = &'static str> {
    PHRASES
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split('\t').next())
        .filter(|k| !k.is_empty())
}

/// A table entry for one BMP character: 0 = not looked up yet; else bit 0 set, bit 1 = starts a
/// phrase, bits 2.. = the converted character, or [`MANY`] when it is not one character.
type Entry = u32;
const KNOWN: Entry = 1;
const STARTS_PHRASE: Entry = 2;
const MANY: u32 = 0x1F_FFFF;

/// Conversions of the characters seen so far on this thread. BMP characters live in a flat
/// table (one load per character); the rest, and conversions longer than one character, in a
/// map.
#[derive(Default)]
struct Cache {
    bmp: Vec<Entry>,
    other: HashMap<char, (bool, String)>,
}

impl Cache {
    fn lookup(&mut self, c: char) -> Entry {
        let i = c as usize;
        if i < 0x1_0000 {
            if self.bmp.is_empty() {
                self.bmp = vec![0; 0x1_0000];
            }
            if self.bmp[i] == 0 {
                let (starts, converted) = convert_char(c);
                let mut chars = converted.chars();
                let single = match (chars.next(), chars.next()) {
                    (Some(d), None) => d as u32,
                    _ => {
                        self.other.insert(c, (starts, converted));
                        MANY
                    }
                };
                self.bmp[i] = KNOWN | if starts { STARTS_PHRASE } else { 0 } | (single << 2);
            }
            self.bmp[i]
        } else {
            let (starts, _) = self.other.entry(c).or_insert_with(|| convert_char(c));
            KNOWN | if *starts { STARTS_PHRASE } else { 0 } | (MANY << 2)
        }
    }
}

/// Whether `c` starts a phrase, and its conversion on its own.
fn convert_char(c: char) -> (bool, String) {
    let mut buf = [0; 4];
    let starts = phrases().contains_key(&c);
    (starts, opencc().convert(c.encode_utf8(&mut buf)))
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
}

/// OpenCC t2s of `s`.
pub fn convert(s: &str) -> String {
    if s.is_ascii() {
        return s.to_string();
    }
    CACHE.with_borrow_mut(|cache| {
        let mut out = String::with_capacity(s.len());
        let mut i = 0;
        while let Some(c) = s[i..].chars().next() {
            if c.is_ascii() {
                out.push(c);
                i += 1;
                continue;
            }
            let entry = cache.lookup(c);
            if entry & STARTS_PHRASE != 0
                && let Some((key, value)) = phrases()
                    .get(&c)
                    .and_then(|list| list.iter().find(|(k, _)| s[i..].starts_with(k)))
            {
                out.push_str(value.get_or_init(|| opencc().convert(key)));
                i += key.len();
                continue;
            }
            match char::from_u32(entry >> 2) {
                Some(d) if entry >> 2 != MANY => out.push(d),
                _ => out.push_str(&cache.other[&c].1),
            }
            i += c.len_utf8();
        }
        out
    })
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
        let keys: Vec<&str> = phrase_keys().collect();
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
    }
}

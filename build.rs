//! Compiles OpenCC's Traditional→Simplified character table into a lookup table, so that no
//! process builds a converter to fold text (building ferrous-opencc's t2s converter took about
//! a tenth of a whole-process search).
//!
//! Input: `src/text/t2s_characters.txt` (OpenCC's TSCharacters.txt) and
//! `src/text/t2s_phrases.txt` (TSPhrases.txt; only the phrases' first characters are used here).
//! Output in OUT_DIR:
//! - `t2s_bmp.bin`: one little-endian u32 for each of the 65,536 BMP characters: 0 when the
//!   character converts to itself and starts no phrase, else `converted << 1 | starts_phrase`;
//! - `t2s_astral.rs`: the characters beyond the BMP, sorted, as `(char, char, bool)`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

const CHARACTERS: &str = "src/text/t2s_characters.txt";
const PHRASES: &str = "src/text/t2s_phrases.txt";

fn main() {
    position_dependent();
    println!("cargo::rerun-if-changed={CHARACTERS}");
    println!("cargo::rerun-if-changed={PHRASES}");
    let characters = std::fs::read_to_string(CHARACTERS).expect("src/text/t2s_characters.txt");
    let phrases = std::fs::read_to_string(PHRASES).expect("src/text/t2s_phrases.txt");

    // A key's conversion is its first candidate, as OpenCC's converter picks it.
    let mut map: BTreeMap<char, char> = BTreeMap::new();
    for (key, value) in entries(&characters) {
        let (k, v) = (single(key), single(value));
        map.insert(k, v);
    }
    let starts: BTreeSet<char> = entries(&phrases)
        .filter_map(|(key, _)| key.chars().next())
        .collect();

    let mut bmp = vec![0u8; 4 * 0x1_0000];
    let mut astral = String::from("&[\n");
    let keys: BTreeSet<char> = map.keys().chain(starts.iter()).copied().collect();
    for c in keys {
        let to = map.get(&c).copied().unwrap_or(c);
        let starts = starts.contains(&c);
        if (c as u32) < 0x1_0000 {
            let entry = (to as u32) << 1 | u32::from(starts);
            let i = 4 * c as usize;
            bmp[i..i + 4].copy_from_slice(&entry.to_le_bytes());
        } else {
            writeln!(astral, "    ({c:?}, {to:?}, {starts}),").unwrap();
        }
    }
    astral.push(']');

    let out = std::env::var("OUT_DIR").expect("OUT_DIR");
    std::fs::write(Path::new(&out).join("t2s_bmp.bin"), bmp).unwrap();
    std::fs::write(Path::new(&out).join("t2s_astral.rs"), astral).unwrap();
}

/// The (key, first candidate) pairs of an OpenCC dictionary text.
fn entries(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (key, values) = l.split_once('\t').expect("key<TAB>values");
            (key, values.split(' ').next().unwrap_or(values))
        })
}

/// The one character of `s`: every key and value of TSCharacters is one character.
fn single(s: &str) -> char {
    let mut chars = s.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => c,
        _ => panic!("{CHARACTERS}: {s:?} is not one character"),
    }
}

/// On Linux the zhsearch binary is linked as a position-dependent executable: a PIE's 35,000
/// relocations (tables of pointers in its dependencies) were rewritten at every start, 0.7 ms
/// of a `zhsearch --version` that took 3.0 ms. The price: the binary's own addresses are not
/// randomised (its libraries' still are).
fn position_dependent() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo::rustc-link-arg-bins=-no-pie");
    }
}

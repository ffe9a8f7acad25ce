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
    static_libstdcxx();
    println!("cargo::rerun-if-changed={CHARACTERS}");
    println!("cargo::rerun-if-changed={PHRASES}");
    // Read by the linker (`.cargo/link-static`): a new list takes a new link.
    println!("cargo::rerun-if-changed=.cargo/hot-functions.txt");
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

/// On Linux with glibc, the C++ standard library that usearch (the ANN graph) needs is linked
/// statically when the C++ compiler has its archive: loading `libstdc++.so` and resolving its
/// 1,700 symbols took a third of the dynamic loader's time at every start. `-lstdc++` then
/// finds the archive first, in a folder of its own. Without the archive, the shared library
/// is linked as before.
fn static_libstdcxx() {
    if !is_linux_gnu() {
        return;
    }
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".into());
    let found = std::process::Command::new(cxx)
        .arg("-print-file-name=libstdc++.a")
        .output();
    let Ok(found) = found else { return };
    let archive = std::path::PathBuf::from(String::from_utf8_lossy(&found.stdout).trim());
    // The compiler prints the bare name when it has no such file.
    if !archive.is_absolute() || !archive.is_file() {
        return;
    }
    let dir = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("static-cxx");
    std::fs::create_dir_all(&dir).unwrap();
    let link = dir.join("libstdc++.a");
    let _ = std::fs::remove_file(&link);
    #[cfg(unix)]
    let linked = std::os::unix::fs::symlink(&archive, &link).is_ok();
    #[cfg(not(unix))]
    let linked = std::fs::copy(&archive, &link).is_ok();
    if linked {
        println!("cargo::rustc-link-search=native={}", dir.display());
    }
}

fn is_linux_gnu() -> bool {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    os == "linux" && env == "gnu"
}

/// On Linux the zhsearch binary is linked as a position-dependent executable: a PIE's 35,000
/// relocations (tables of pointers in its dependencies) were rewritten at every start, 0.7 ms
/// of a `zhsearch --version` that took 3.0 ms. The price: the binary's own addresses are not
/// randomised (its libraries' still are).
fn position_dependent() {
    if is_linux_gnu() {
        println!("cargo::rustc-link-arg-bins=-no-pie");
    }
}

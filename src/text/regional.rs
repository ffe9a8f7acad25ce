//! Regional vocabulary: the other forms of a query term (软件 ↔ 軟體, 服务器 ↔ 伺服器,
//! 字节 ↔ 位元組) from OpenCC's Taiwan and Hong Kong conversions.
//!
//! Only queries are rewritten, never the indexed text: on mainland text the Taiwan phrase rules
//! over-reach (核心→内核, 整合→集成), which would break the exact phrase guarantee. A variant
//! is an extra way for a term to match, reported with the hit, and ranked a little below the
//! form the user typed.

use std::sync::OnceLock;

use crate::text::analysis::normalize;
use crate::text::opencc::{self, Conversion, Conversion::*, converter};

/// Longest window converted on its own, in characters.
const MAX_WINDOW: usize = 4;
/// At most this many variants per term.
const MAX_VARIANTS: usize = 6;

/// Conversion chains: mainland → Taiwan, Taiwan → mainland (from Traditional input, and from
/// Taiwan words typed in Simplified characters such as 软体, through their Taiwan spelling),
/// mainland ↔ Hong Kong.
const CHAINS: &[&[Conversion]] = &[&[S2twp], &[Tw2sp], &[S2twp, Tw2sp], &[S2hk], &[Hk2s]];

/// Every phrase and character OpenCC's Taiwan and Hong Kong dictionaries convert, as written
/// and in Simplified characters (made by `scripts/regional_keys.py`).
const KEYS: &str = include_str!("regional_keys.txt");

/// Whether `raw` holds one of [`KEYS`], as typed or normalised: a term that holds none has no
/// regional variant, and is answered without building the converters (about 5 ms of a
/// search). The tests below check this against the converters on every short run of the
/// bundled corpus.
fn may_vary(raw: &str) -> bool {
    let holds_key = |s: &str| {
        let starts: Vec<usize> = s.char_indices().map(|(i, _)| i).chain([s.len()]).collect();
        (0..starts.len()).any(|i| {
            (i + 1..starts.len().min(i + LONGEST_KEY + 1)).any(|j| is_key(&s[starts[i]..starts[j]]))
        })
    };
    holds_key(raw) || holds_key(&normalize(raw))
}

/// Characters of the longest line of [`KEYS`] (a test checks it).
const LONGEST_KEY: usize = 14;

/// Whether `key` is a line of [`KEYS`]: a binary search of the file's text, which is sorted
/// by code point as `scripts/regional_keys.py` writes it (UTF-8 bytes sort alike). Nothing is
/// built first: splitting the 4,792 lines cost more than the whole lookup.
fn is_key(key: &str) -> bool {
    let (text, key) = (KEYS.as_bytes(), key.as_bytes());
    // `lo` and `hi` are line starts: the lines left to look at are those in between.
    let (mut lo, mut hi) = (0, text.len());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let start = text[lo..mid]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(lo, |i| lo + i + 1);
        let end = text[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(text.len(), |i| start + i);
        match text[start..end].cmp(key) {
            std::cmp::Ordering::Equal => return true,
            std::cmp::Ordering::Less => lo = end + 1,
            std::cmp::Ordering::Greater => hi = start,
        }
    }
    false
}

/// Builds the converters of [`CHAINS`]: about 5 ms, nearly all of it in the two that load
/// OpenCC's large Simplified→Traditional phrase table, so those two are built on two threads
/// (a search waits for them before it can run).
fn prepare() {
    static READY: OnceLock<()> = OnceLock::new();
    READY.get_or_init(|| {
        std::thread::scope(|s| {
            s.spawn(|| (converter(S2twp), converter(Tw2sp)));
            converter(S2hk);
            converter(Hk2s);
        });
    });
}

fn convert(chain: &[Conversion], s: &str) -> String {
    prepare();
    chain
        .iter()
        .fold(s.to_string(), |acc, &c| opencc::convert(c, &acc))
}

/// Normalised regional variants of `raw` (as typed), excluding its own normalised form.
///
/// Each conversion is applied to the whole term and, separately, to every window of two to
/// four characters, because OpenCC's longest-match rules depend on context: it keeps `字节跳动`
/// whole, yet Taiwan text converted word by word reads `位元組跳動`. Windows are replaced left
/// to right, longest first.
pub fn variants(raw: &str) -> Vec<String> {
    if !may_vary(raw) {
        return Vec::new();
    }
    converted_variants(raw)
}

/// [`variants`] from the converters, for any term.
fn converted_variants(raw: &str) -> Vec<String> {
    let own = normalize(raw);
    let mut out: Vec<String> = Vec::new();
    let mut add = |v: String| {
        if v != own && !v.trim().is_empty() && !out.contains(&v) && out.len() < MAX_VARIANTS {
            out.push(v);
        }
    };
    let chars: Vec<char> = raw.chars().collect();
    if !chars.iter().any(|c| !c.is_ascii()) {
        return out;
    }
    for chain in CHAINS {
        add(normalize(&convert(chain, raw)));
        let mut windowed = String::new();
        let mut i = 0;
        while i < chars.len() {
            let mut step = None;
            for len in (2..=MAX_WINDOW.min(chars.len() - i)).rev() {
                let window: String = chars[i..i + len].iter().collect();
                let converted = normalize(&convert(chain, &window));
                if converted != normalize(&window) {
                    step = Some((len, converted));
                    break;
                }
            }
            match step {
                Some((len, converted)) => {
                    windowed.push_str(&converted);
                    i += len;
                }
                None => {
                    windowed.push_str(&normalize(&chars[i].to_string()));
                    i += 1;
                }
            }
        }
        add(windowed);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn keys_are_sorted_and_unique_for_the_binary_search() {
        let keys: Vec<&str> = KEYS.lines().collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        let longest = keys.iter().map(|k| k.chars().count()).max();
        assert_eq!(longest, Some(LONGEST_KEY));
        assert!(keys.iter().all(|k| is_key(k)));
        for k in &keys {
            // Neither a key's prefix nor a key with more is one, unless listed.
            for probe in [format!("{k}x"), k.chars().skip(1).collect::<String>()] {
                assert_eq!(is_key(&probe), keys.contains(&probe.as_str()), "{probe}");
            }
        }
        assert!(!is_key("") && !is_key("明月") && !is_key("\u{10ffff}"));
        assert!(may_vary("软件") && may_vary("軟體") && !may_vary("明月"));
    }

    #[test]
    fn pairs_in_both_directions() {
        for (mainland, taiwan) in [
            ("字节跳动", "位元组跳动"),
            ("服务器", "伺服器"),
            ("软件", "软体"),
            ("数据库", "资料库"),
            ("人工智能", "人工智慧"),
            ("短视频", "短影片"),
            ("内存", "记忆体"),
        ] {
            assert!(
                variants(mainland).contains(&taiwan.to_string()),
                "{mainland}"
            );
            assert!(variants(taiwan).contains(&mainland.to_string()), "{taiwan}");
        }
        assert!(variants("位元組跳動").contains(&"字节跳动".to_string()));
        assert!(variants("軟體").contains(&"软件".to_string()));
        assert!(variants("服務器").contains(&"伺服器".to_string()));
    }

    /// The gate of [`may_vary`] leaves out only terms the converters give no regional variant
    /// (at most the same characters in another script): checked on every run of one to six
    /// characters of the bundled corpus's lines.
    #[test]
    fn terms_without_a_regional_key_have_no_variants() {
        let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/corpus");
        let mut runs: HashSet<String> = HashSet::new();
        for entry in std::fs::read_dir(corpus).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for line in text.lines() {
                let chars: Vec<char> = line.chars().collect();
                for len in 1..=6 {
                    runs.extend(chars.windows(len).map(|w| w.iter().collect::<String>()));
                }
            }
        }
        let mut gated = 0;
        for run in &runs {
            if may_vary(run) || run.is_ascii() {
                continue;
            }
            gated += 1;
            for v in converted_variants(run) {
                assert!(same_words(run, &v), "{run}: {v}");
            }
        }
        assert!(gated > 50_000, "{gated} of {}", runs.len());
    }

    /// Whether `v` only writes `run`'s characters in another script, character for character
    /// (what the converters give for a term without a regional key: 昵兒 → 暱儿, since OpenCC
    /// maps 昵 to 暱 but not back), rather than other words (软件 → 软体).
    fn same_words(run: &str, v: &str) -> bool {
        let s2t = |c: char| opencc::convert(S2t, &c.to_string());
        let n = |c: char| normalize(&c.to_string());
        run.chars().count() == v.chars().count()
            && run.chars().zip(v.chars()).all(|(a, b)| {
                a == b || n(a) == n(b) || s2t(a) == b.to_string() || s2t(b) == a.to_string()
            })
    }

    #[test]
    fn plain_text_has_no_variants() {
        assert!(variants("5k").is_empty());
        assert!(variants("瓶颈").is_empty());
        assert!(!variants("阿里云").contains(&"阿里云".to_string()));
    }
}

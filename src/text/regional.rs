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
    use super::*;

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

    #[test]
    fn plain_text_has_no_variants() {
        assert!(variants("5k").is_empty());
        assert!(variants("瓶颈").is_empty());
        assert!(!variants("阿里云").contains(&"阿里云".to_string()));
    }
}

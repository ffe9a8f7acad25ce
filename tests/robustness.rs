//! Randomised inputs (a fixed seed, so failures reproduce): the analysis keeps its offset map
//! on character boundaries, the parsers never panic. `fuzz/` holds the open-ended version.

use zhsearch::ingest::corpus;
use zhsearch::present::cite;
use zhsearch::search::query;
use zhsearch::text::{analysis, regional, t2s};

/// Characters that stress the analysis: both scripts, full width, compatibility forms,
/// combining marks, non-BMP, Hangul jamo, Markdown and HTML markup, quotes, line ends.
const POOL: &[&str] = &[
    "阿", "里", "雲", "云", "瓶", "頸", "颈", "處", "理", "位", "元", "組", "字", "节", "伺", "服",
    "器", "軟", "體", "５", "Ｋ", "ａ", "Q", "w", "2", ".", "-", "㍻", "ﬁ", "⼀", "\u{301}", "e",
    "𠀀", "🙂", "ᄀ", "ᅡ", "#", "*", "_", "`", "[", "]", "(", ")", "!", "<", ">", "|", "\"", "“",
    "”", "「", "」", "。", "，", "！", "？", "…", " ", "\u{3000}", "\t", "\n", "\r", "---\n",
    "title: ", "&amp;", "<p>", "</p>", "\\", "OR", "source:", "title:", "＂",
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn text(&mut self, max: usize) -> String {
        let n = (self.next() as usize) % (max + 1);
        (0..n)
            .map(|_| POOL[(self.next() as usize) % POOL.len()])
            .collect()
    }
}

#[test]
fn normalisation_maps_back_to_character_boundaries() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..3000 {
        let s = rng.text(40);
        let n = analysis::normalize_mapped(&s);
        assert_eq!(n.text, analysis::normalize(&s), "{s:?}");
        for i in 0..n.len() {
            let r = n.orig_range(i..i + 1);
            assert!(
                s.is_char_boundary(r.start) && s.is_char_boundary(r.end),
                "{s:?}"
            );
            assert!(r.start < r.end || s.is_empty(), "{s:?}");
        }
        // Every occurrence found maps to a slice that normalises to contain the needle.
        if n.len() >= 2 {
            let needle: String = n.text.chars().take(2).collect();
            for hit in n.find_all(&needle) {
                let orig = &s[n.orig_range(hit)];
                assert!(analysis::normalize(orig).contains(&needle) || orig.chars().count() > 2);
            }
        }
    }
}

/// Spacing is typography: the index tokens of any text are the characters of its compact
/// form (no whitespace) at consecutive positions, jieba's words fall inside that numbering,
/// and an occurrence in the compact text maps back to a slice holding it, spaces aside.
#[test]
fn whitespace_takes_no_token_and_no_position() {
    use tantivy::tokenizer::{TokenStream, Tokenizer};
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let mut words = analysis::TextTokenizer::default();
    for _ in 0..1500 {
        let s = analysis::normalize(&rng.text(30));
        let compact = analysis::compact(&s).into_owned();
        let mut stream = words.token_stream(&s);
        let mut chars = String::new();
        while stream.advance() {
            let t = stream.token();
            assert!(!t.text.contains(analysis::is_spacing), "{s:?}");
            if chars.chars().count() == t.position && t.text.chars().count() == 1 {
                chars.push_str(&t.text);
            } else {
                // A word: at the position of its first character in the compact text.
                let at: String = compact.chars().skip(t.position).collect();
                assert!(
                    at.starts_with(&t.text),
                    "{s:?}: {:?} at {}",
                    t.text,
                    t.position
                );
            }
        }
        assert_eq!(chars, compact, "{s:?}");
        let raw = rng.text(30);
        let n = analysis::normalize_mapped(&raw).compact();
        assert_eq!(
            n.text,
            analysis::compact(&analysis::normalize(&raw)),
            "{raw:?}"
        );
        if n.len() >= 2 {
            let needle: String = n.text.chars().take(2).collect();
            for hit in n.find_all(&needle) {
                let orig = &raw[n.orig_range(hit)];
                let got = analysis::compact(&analysis::normalize(orig)).into_owned();
                assert!(got.contains(&needle) || orig.chars().count() > 2, "{raw:?}");
            }
        }
    }
}

/// The fast t2s agrees with ferrous-opencc on random text thick with the first characters and
/// pieces of OpenCC's t2s phrases (where longest-match decisions happen).
#[test]
fn fast_t2s_agrees_with_opencc_on_random_text() {
    const PHRASE_BITS: &[&str] = &[
        "乾", "乾淨", "著", "瞭", "瞭然", "一目", "么", "麼", "幺", "於", "鍊", "鍾", "萬", "藉",
        "蕭", "覆", "雁", "雖", "電", "露", "頗", "顛", "顧", "龍", "黄", "申", "拉", "旋", "明",
        "有", "朝", "文", "重", "金", "銀", "錢", "書", "發", "髮", "後", "裡", "台", "臺",
    ];
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    for _ in 0..3000 {
        let n = (rng.next() as usize) % 12;
        let s: String = (0..n)
            .map(|_| {
                if rng.next().is_multiple_of(3) {
                    POOL[(rng.next() as usize) % POOL.len()]
                } else {
                    PHRASE_BITS[(rng.next() as usize) % PHRASE_BITS.len()]
                }
            })
            .collect();
        assert_eq!(t2s::convert(&s), t2s::opencc().convert(&s), "{s:?}");
    }
}

#[test]
fn documents_and_quotes_stay_inside_their_source() {
    let mut rng = Rng(42);
    for _ in 0..1500 {
        let s = rng.text(80);
        for name in ["x.txt", "x.md"] {
            let doc = corpus::parse_document(name, &s);
            for p in &doc.passages {
                assert!(!p.text.contains('\r'));
                for v in &p.visible {
                    let slice = p.text.get(v.orig.clone());
                    assert!(slice.is_some(), "{s:?}: {v:?}");
                    if v.verbatim {
                        assert_eq!(slice.unwrap(), v.text);
                    }
                }
                let end = p.text.chars().next().map_or(0, char::len_utf8);
                let r = cite::sentence_range(&p.text, std::slice::from_ref(&(0..end)));
                assert!(p.text.get(r.clone()).is_some(), "{s:?}");
                assert!(r.start == 0 && r.end >= end);
            }
        }
    }
}

#[test]
fn queries_parse_or_fail_cleanly() {
    let mut rng = Rng(7);
    for _ in 0..3000 {
        let s = rng.text(30);
        if let Ok(q) = query::parse(&s) {
            let q = zhsearch::search::plan::bind_with(&q, 100, &|w| w.len() as u64, None);
            assert!(!q.groups.is_empty());
        }
        let _ = regional::variants(&s);
    }
}

//! Search behaviour on the bundled corpus, through the library.

mod common;

use std::collections::BTreeSet;

use common::{lines_of, repo_corpus, search};
use ferrous_opencc::OpenCC;
use ferrous_opencc::config::BuiltinConfig;
use zhsearch::model::MatchKind;
use zhsearch::text::analysis::normalize;

const F001: &str = "001_f0acb97a223aa501.txt";

#[test]
fn five_k_bottleneck_in_both_scripts_ranks_the_three_passages_first() {
    for q in ["5k瓶颈", "5k瓶頸", "５Ｋ瓶頸"] {
        let hits = search(q, 10);
        let mut top: Vec<_> = lines_of(&hits[..3]);
        top.sort();
        assert_eq!(
            top,
            vec![(F001.into(), 34), (F001.into(), 53), (F001.into(), 57)],
            "query {q}"
        );
        // The highlight lands on the original Traditional characters.
        let h = &hits[0];
        let [s, e] = h.highlights[0];
        assert_eq!(normalize(&h.text[s..e]), "5k瓶颈");
    }
}

#[test]
fn substrings_inside_longer_words_are_found() {
    // jieba keeps 阿里雲穩 / 待处理-like runs as one word; the character index still finds them.
    for (q, source, line) in [
        ("阿里云", F001, 57),
        ("5000台", F001, 35),
        ("钉", "003_850e64a8af7dec3e.txt", 28),
        ("拿命换来", F001, 57),
    ] {
        let hits = search(&format!("\"{q}\""), 1000);
        assert!(
            lines_of(&hits).contains(&(source.to_string(), line)),
            "{q} not found at {source}:{line}"
        );
    }
}

#[test]
fn exact_string_ranks_above_words_only() {
    // Every hit containing the exact run comes before any hit that only has its words.
    let hits = search("合作伙伴", 100);
    let exact: Vec<bool> = hits
        .iter()
        .map(|h| normalize(&h.text).contains("合作伙伴"))
        .collect();
    assert!(exact.iter().any(|&e| e));
    let first_loose = exact.iter().position(|&e| !e).unwrap_or(exact.len());
    assert!(exact[first_loose..].iter().all(|&e| !e), "{exact:?}");
}

#[test]
fn all_terms_are_required() {
    let hits = search("苹果 阿里巴巴", 100);
    assert!(!hits.is_empty());
    for h in hits.iter().filter(|h| h.match_kind == MatchKind::All) {
        let n = normalize(&h.text);
        assert!(n.contains("苹果") && n.contains("阿里巴巴"), "{}", h.text);
    }
}

#[test]
fn front_matter_gives_title_and_date_and_stays_findable() {
    let hits = search("\"开源不是慈善\"", 10);
    let h = hits.iter().find(|h| h.source.starts_with("002")).unwrap();
    assert_eq!(
        h.meta.title.as_deref(),
        Some("开源 Qwen3-Coder 是顶级 AI 阳谋，阿里的野心藏不住了")
    );
    assert_eq!(h.meta.date.as_deref(), Some("2025-07-24 16:24:04"));
    // The title line itself is a front-matter passage (paragraph 0), not body text.
    let t = search("\"顶级 AI 阳谋\"", 10);
    assert_eq!(lines_of(&t), vec![("002_acabd706ace114ad.txt".into(), 2)]);
    assert_eq!(t[0].paragraph, 0);
    // Keys are not text (a quoted phrase that matches nothing shows the closest passages,
    // as partial matches).
    let keys = search("\"timeline_type\"", 10);
    assert!(keys.iter().all(|h| h.match_kind == MatchKind::Partial));
}

#[test]
fn markup_is_not_text_but_visible_text_is() {
    // `**组织全称**: Alibaba` is found as the reader sees it, across the markup.
    let hits = search("\"组织全称: alibaba\"", 10);
    assert_eq!(
        lines_of(&hits),
        vec![("000_39e6ba676af43959.txt".into(), 10)]
    );
    // Image alt text is visible; the image URL's words are not indexed as words.
    assert!(!search("\"所有产品接入大模型\"", 10).is_empty());
}

#[test]
fn passages_are_lines_with_exact_text() {
    let text = std::fs::read_to_string(repo_corpus().join(F001)).unwrap();
    let lines: Vec<&str> = text.split('\n').collect();
    for h in search("阿里云", 1000) {
        assert_eq!(h.line_start, h.line_end);
        if h.source == F001 {
            assert_eq!(h.text, lines[h.line_start - 1]);
        }
        assert!(h.paragraph >= 1);
        assert_eq!(h.id, format!("{}#L{}", h.source, h.line_start));
    }
}

#[test]
fn no_pinyin_or_character_or_folding() {
    let s = common::crafted(
        "negatives",
        &[
            ("a.txt", "这是一部经典作品\n本地的布店\n東京、大阪\n"),
            ("b.txt", "景點很多，不要錯過\n本田汽车\n京大學生\n"),
        ],
    );
    let at = |q: &str| lines_of(&common::find(&s, q));
    // 景点 is not 经典 (pinyin); 不 is not 布/部; 本田 is not 本地; 京大 does not span 東京、大阪
    // (東京 大阪 holds it: whitespace never decides a match, see tests/spacing.rs).
    assert_eq!(at("景点"), vec![("b.txt".into(), 1)]);
    assert_eq!(at("不"), vec![("b.txt".into(), 1)]);
    assert_eq!(at("本田"), vec![("b.txt".into(), 2)]);
    assert_eq!(at("京大"), vec![("b.txt".into(), 3)]);
    assert_eq!(at("\"京大\""), vec![("b.txt".into(), 3)]);
}

/// Characters and words share one index field: a one-character word is its character token.
/// A bare term matches through its words of two characters or more (and its other characters,
/// as characters), never through lone characters only, and a one-character term finds the
/// character inside longer words too.
#[test]
fn bare_terms_match_by_their_longer_words_and_characters_anywhere() {
    let s = common::crafted(
        "words-and-characters",
        &[
            ("a.txt", "性能终于突破了瓶颈\n明月几时有\n性能平平\n"),
            ("b.txt", "瓶颈在于性能\n月亮很圆\n"),
        ],
    );
    let strict = |q: &str| -> Vec<(String, usize)> {
        let hits = common::find(&s, q);
        let all: Vec<_> = hits
            .into_iter()
            .filter(|h| h.match_kind == MatchKind::All)
            .collect();
        let mut lines = lines_of(&all);
        lines.sort();
        lines
    };
    // 性能瓶颈: both longer words required, wherever they stand.
    assert_eq!(
        strict("性能瓶颈"),
        vec![("a.txt".into(), 1), ("b.txt".into(), 1)]
    );
    // 性能的瓶颈: the lone 的 is required too, and neither line holds it.
    assert!(strict("性能的瓶颈").is_empty());
    // 月 inside 明月 and 月亮.
    assert_eq!(strict("月"), vec![("a.txt".into(), 2), ("b.txt".into(), 2)]);
    // Only characters, no longer word: the exact string or nothing.
    assert!(strict("能瓶").is_empty());
}

/// Phrases sampled from the corpus, in Simplified and Traditional form, return exactly the
/// passages whose normalised line contains them, whitespace aside (a plain substring scan is
/// the reference).
#[test]
fn quoted_phrases_match_a_substring_scan() {
    let s2t = OpenCC::from_config(BuiltinConfig::S2t).unwrap();
    let t2s = OpenCC::from_config(BuiltinConfig::T2s).unwrap();
    let mut files: Vec<(String, Vec<String>)> = Vec::new();
    for e in std::fs::read_dir(repo_corpus()).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().to_string();
        let text = std::fs::read_to_string(e.path()).unwrap();
        files.push((name, text.split('\n').map(str::to_string).collect()));
    }
    files.sort();
    let is_han = |c: char| ('\u{4e00}'..='\u{9fff}').contains(&c);
    let mut queries = BTreeSet::new();
    let mut k = 0usize;
    for (_, lines) in &files {
        for line in lines.iter().step_by(7) {
            let chars: Vec<char> = line.chars().collect();
            for start in (0..chars.len()).step_by(23) {
                k += 1;
                let len = 1 + k % 8;
                let window: String = chars[start..chars.len().min(start + len)].iter().collect();
                if window.chars().count() == len && window.chars().all(is_han) {
                    let simp = t2s.convert(&window);
                    queries.insert(s2t.convert(&simp));
                    queries.insert(simp);
                }
            }
        }
    }
    assert!(queries.len() > 100, "only {} sample phrases", queries.len());
    for q in &queries {
        let nq = normalize(q);
        let mut expected = BTreeSet::new();
        for (name, lines) in &files {
            for (i, line) in lines.iter().enumerate() {
                let squeezed: String = normalize(line).split_whitespace().collect();
                if squeezed.contains(&nq) {
                    expected.insert((name.clone(), i + 1));
                }
            }
        }
        let got: BTreeSet<_> = lines_of(&search(&format!("\"{q}\""), 10_000))
            .into_iter()
            .collect();
        assert_eq!(got, expected, "phrase {q}");
    }
}

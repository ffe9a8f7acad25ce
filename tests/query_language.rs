//! The query language: syntax, regional vocabulary, partial matches, bad input.

mod common;

use common::{corpus_copy, crafted, find, lines_of, search, stderr, stdout, zhsearch};
use zhsearch::model::MatchKind;
use zhsearch::text::analysis::normalize;

const F001: &str = "001_f0acb97a223aa501.txt";

fn sources(hits: &[zhsearch::model::Hit]) -> Vec<String> {
    let mut s: Vec<String> = hits.iter().map(|h| h.source.clone()).collect();
    s.dedup();
    s
}

#[test]
fn regional_vocabulary_in_both_directions() {
    let s = crafted(
        "regional",
        &[
            (
                "mainland.txt",
                "字节跳动的服务器\n软件与数据库\n人工智能与短视频\n内存不足\n",
            ),
            (
                "taiwan.txt",
                "位元組跳動的伺服器\n軟體與資料庫\n人工智慧與短影片\n記憶體不足\n",
            ),
            ("hongkong.txt", "服務器\n"),
        ],
    );
    for (mainland, taiwan, line) in [
        ("字节跳动", "位元組跳動", 1),
        ("服务器", "伺服器", 1),
        ("软件", "軟體", 2),
        ("数据库", "資料庫", 2),
        ("人工智能", "人工智慧", 3),
        ("短视频", "短影片", 3),
        ("内存", "記憶體", 4),
    ] {
        for (q, other_file, other_form) in [
            (mainland, "taiwan.txt", taiwan),
            (taiwan, "mainland.txt", mainland),
        ] {
            let hits = find(&s, q);
            let other = hits
                .iter()
                .find(|h| h.source == other_file && h.line_start == line)
                .unwrap_or_else(|| panic!("{q} does not find {other_form} in {other_file}"));
            assert_eq!(other.variant.as_deref(), Some(other_form), "{q}");
            assert_eq!(other.match_kind, MatchKind::All);
            // The form typed ranks first.
            assert!(hits[0].variant.is_none(), "{q}: {:?}", hits[0]);
        }
    }
    // 伺服器 also finds the Hong Kong / mainland Traditional 服務器.
    assert!(sources(&find(&s, "伺服器")).contains(&"hongkong.txt".to_string()));
    // A quoted phrase is exact: no regional variants.
    assert_eq!(sources(&find(&s, "\"软件\"")), vec!["mainland.txt"]);
}

#[test]
fn exclusions_or_and_filters() {
    let s = crafted(
        "syntax",
        &[
            (
                "a/one.md",
                "---\ntitle: 雲端筆記\n---\n蘋果與阿里合作\n阿里的廣告\n",
            ),
            ("b/two.txt", "蘋果的硬件\n阿里付费阅读\n"),
        ],
    );
    let at = |q: &str| lines_of(&find(&s, q));
    assert_eq!(at("阿里 -广告 -\"付费阅读\""), vec![("a/one.md".into(), 4)]);
    assert_eq!(at("阿里 -广告 -付费"), vec![("a/one.md".into(), 4)]);
    let mut either = at("硬件 OR 合作");
    either.sort();
    assert_eq!(
        either,
        vec![("a/one.md".into(), 4), ("b/two.txt".into(), 1)]
    );
    assert_eq!(at("蘋果 source:b/*"), vec![("b/two.txt".into(), 1)]);
    assert_eq!(at("蘋果 source:*.md"), vec![("a/one.md".into(), 4)]);
    assert_eq!(at("蘋果 title:云端"), vec![("a/one.md".into(), 4)]);
    assert!(at("蘋果 title:不存在").is_empty());
    // Full width and case fold like the text.
    assert_eq!(
        at("ＡＬＩ OR 苹果 source:B/*").len(),
        0,
        "paths are case-sensitive"
    );
}

#[test]
fn a_question_finds_its_answer_in_the_top_three() {
    let hits = search("阿里云什么时候突破5k瓶颈", 10);
    let top: Vec<_> = lines_of(&hits[..3]);
    assert!(top.contains(&(F001.into(), 57)), "{top:?}");
    assert!(hits.iter().all(|h| h.match_kind == MatchKind::Partial));
}

#[test]
fn partial_matches_always_rank_below_strict_ones() {
    let hits = search("苹果 阿里巴巴 合作", 20);
    let kinds: Vec<MatchKind> = hits.iter().map(|h| h.match_kind).collect();
    let first_partial = kinds.iter().position(|k| *k == MatchKind::Partial).unwrap();
    assert!(first_partial > 0);
    assert!(
        kinds[first_partial..]
            .iter()
            .all(|k| *k == MatchKind::Partial)
    );
    for h in &hits[..first_partial] {
        let n = normalize(&h.text);
        assert!(n.contains("苹果") && n.contains("阿里巴巴") && n.contains("合作"));
    }
    // A quoted phrase never relaxes.
    for h in search("\"让天下没有难做的生意\"", 50) {
        assert_eq!(h.match_kind, MatchKind::All);
        assert!(normalize(&h.text).contains("让天下没有难做的生意"));
    }
}

#[test]
fn paging_and_ties_are_deterministic() {
    let all = search("阿里", 30);
    let page2 = common::corpus_searcher()
        .search(&zhsearch::search::query::parse("阿里").unwrap(), 10, 10)
        .unwrap();
    assert_eq!(lines_of(&all[10..20]), lines_of(&page2));
    assert_eq!(lines_of(&search("阿里", 30)), lines_of(&all));
    for w in all.windows(2) {
        assert!(w[0].score >= w[1].score || w[0].match_kind != w[1].match_kind);
    }
}

#[test]
fn bad_queries_get_leniency_or_one_line_and_status_2() {
    let dir = corpus_copy("bad-queries");
    let long = "字".repeat(5000);
    for (q, lenient) in [
        ("\"5k瓶颈", true),
        ("-", true),
        ("。。。", true),
        ("「」", true),
        ("OR", false),
        ("\"\"", false),
        ("-广告", false),
        ("x source:", false),
        (long.as_str(), false),
    ] {
        let o = zhsearch(&dir, &["search", q]);
        let code = o.status.code();
        if lenient {
            assert!(matches!(code, Some(0) | Some(1)), "{q}: {}", stderr(&o));
        } else {
            assert_eq!(code, Some(2), "{q}");
            let err = stderr(&o);
            let last = err.trim_end().lines().last().unwrap_or("");
            assert!(last.starts_with("zhsearch: "), "{q}: {err}");
        }
        assert!(!stderr(&o).contains("panicked"), "{q}");
    }
    // An exclusion given as its own argument is not read as an option.
    let o = zhsearch(&dir, &["search", "阿里巴巴", "-苹果", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for line in stdout(&o).lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(!normalize(v["text"].as_str().unwrap()).contains("苹果"));
    }
}

#[test]
fn the_single_word_fast_path_ranks_as_the_general_query() {
    // `source:**` matches every file but turns the fast path off.
    for q in ["阿里", "钉", "飞天", "云", "\"阿里\"", "合作", "the"] {
        let fast = search(q, 40);
        let general = search(&format!("{q} source:**"), 40);
        let key = |hits: &[zhsearch::model::Hit]| -> Vec<(String, usize, i64)> {
            hits.iter()
                .map(|h| {
                    (
                        h.source.clone(),
                        h.line_start,
                        (h.score * 100.0).round() as i64,
                    )
                })
                .collect()
        };
        assert_eq!(key(&fast), key(&general), "{q}");
    }
}

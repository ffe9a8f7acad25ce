//! Spacing is typography: whitespace (and invisible characters) never decide a match, in
//! quoted phrases and bare terms alike, and highlights land on the original characters, the
//! spaces between them included (README, Query syntax).

mod common;

use std::sync::OnceLock;

use common::{crafted, find, json_lines, scratch, stdout, zhsearch};
use zhsearch::model::{Hit, MatchKind};
use zhsearch::search::Searcher;
use zhsearch::text::analysis::normalize;

const A: &str = "电价降到 0.4 元，比去年低。\n\
Claude4 發布時，霸榜 HuggingFace 一周。\n\
到 2022年底，用户过亿。\n\
零寬\u{200b}標記藏在詞裡，還有字\u{2060}元\u{200d}連\u{200c}接符和\u{feff}字節序。\n\
价格 0.5 元。\n\
Claude 3.5 仍在用。\n\
東京、大阪\n\
涨到 1.5\u{a0}元，又到 2.5\u{202f}元。\n";

const B: &str = "---\ntitle: Claude 4 評測\n---\n\n模型 **Claude 4** 上線，每百萬 token 0.4元。\n";

/// A corpus whose files space Latin words and numbers differently.
fn searcher() -> &'static Searcher {
    static S: OnceLock<Searcher> = OnceLock::new();
    S.get_or_init(|| crafted("spacing", &[("a.txt", A), ("b.md", B)]))
}

fn squeeze(s: &str) -> String {
    normalize(s).split_whitespace().collect()
}

/// The full matches of a query (partial ones, if any, follow them and are labelled so).
fn full(q: &str) -> Vec<Hit> {
    let hits = find(searcher(), q);
    let n = hits
        .iter()
        .take_while(|h| h.match_kind == MatchKind::All)
        .count();
    assert!(hits[n..].iter().all(|h| h.match_kind == MatchKind::Partial));
    hits.into_iter().take(n).collect()
}

/// The lines a query matches in full, each checked: holding the phrase once whitespace is
/// removed from both, and highlighted on original characters that are the phrase.
fn lines(q: &str, phrase: &str) -> Vec<(String, usize)> {
    let hits: Vec<Hit> = full(q);
    for h in &hits {
        assert!(
            squeeze(&h.text).contains(&squeeze(phrase)),
            "{q}: {}",
            h.text
        );
        let marked: Vec<String> = h
            .highlights
            .iter()
            .map(|r| squeeze(&h.text[r[0]..r[1]]))
            .collect();
        assert!(
            marked.contains(&squeeze(phrase)),
            "{q}: {marked:?} in {}",
            h.text
        );
    }
    let mut out: Vec<(String, usize)> = hits
        .iter()
        .map(|h| (h.source.clone(), h.line_start))
        .collect();
    out.sort();
    out
}

fn at(file: &str, line: usize) -> (String, usize) {
    (file.to_string(), line)
}

/// The original bytes highlighted in the hit of `a.txt`.
fn highlighted(q: &str) -> Vec<String> {
    let hits = full(q);
    let h = hits.iter().find(|h| h.source == "a.txt").unwrap();
    h.highlights
        .iter()
        .map(|r| h.text[r[0]..r[1]].to_string())
        .collect()
}

#[test]
fn a_phrase_matches_whatever_the_spacing_of_either_side() {
    for q in ["\"0.4元\"", "\"0.4 元\"", "\"0. 4元\"", "“0.4元”"] {
        assert_eq!(
            lines(q, "0.4元"),
            vec![at("a.txt", 1), at("b.md", 5)],
            "{q}"
        );
    }
    for q in ["\"Claude 4\"", "\"claude4\"", "\"CLAUDE  4\""] {
        // The title line of the front matter too.
        let want = vec![at("a.txt", 2), at("b.md", 2), at("b.md", 5)];
        assert_eq!(lines(q, "claude4"), want, "{q}");
    }
    assert_eq!(
        lines("\"霸榜HuggingFace\"", "霸榜huggingface"),
        vec![at("a.txt", 2)]
    );
    assert_eq!(lines("\"2022 年底\"", "2022年底"), vec![at("a.txt", 3)]);
    // A space is no wildcard: the characters must all be there, in order.
    assert!(full("\"0.5 元 比\"").is_empty());
    assert!(full("\"Claude 3.5 4\"").is_empty());
}

#[test]
fn bare_terms_follow_the_same_rule() {
    assert_eq!(lines("0.4元", "0.4元"), vec![at("a.txt", 1), at("b.md", 5)]);
    assert_eq!(
        lines("霸榜HuggingFace", "霸榜huggingface"),
        vec![at("a.txt", 2)]
    );
    assert_eq!(lines("到2022年底", "到2022年底"), vec![at("a.txt", 3)]);
    // 京大 is not scattered across 東京、大阪; spacing alone would not have kept it apart.
    assert!(full("京大").is_empty());
}

#[test]
fn invisible_characters_inside_words_are_ignored() {
    assert_eq!(lines("\"零寬標記\"", "零寬標記"), vec![at("a.txt", 4)]);
    assert_eq!(lines("零宽标记", "零寬標記"), vec![at("a.txt", 4)]);
    assert_eq!(lines("\"字元連接符\"", "字元連接符"), vec![at("a.txt", 4)]);
    assert_eq!(lines("\"和字节序\"", "和字節序"), vec![at("a.txt", 4)]);
    // In the query too.
    assert_eq!(
        lines("\"零\u{200d}宽 标\u{feff}记\"", "零寬標記"),
        vec![at("a.txt", 4)]
    );
    assert_eq!(highlighted("\"零寬標記\""), vec!["零寬\u{200b}標記"]);
    assert_eq!(
        highlighted("\"字元連接符\""),
        vec!["字\u{2060}元\u{200d}連\u{200c}接符"]
    );
}

#[test]
fn highlights_land_on_the_original_characters_and_span_the_space() {
    assert_eq!(highlighted("\"0.4元\""), vec!["0.4 元"]);
    assert_eq!(highlighted("\"霸榜HuggingFace\""), vec!["霸榜 HuggingFace"]);
    assert_eq!(highlighted("\"2022 年底\""), vec!["2022年底"]);
    // No-break spaces are spaces (NFKC), and a full-width space in the query too.
    assert_eq!(highlighted("\"1.5元\""), vec!["1.5\u{a0}元"]);
    assert_eq!(highlighted("\"2.5\u{3000}元\""), vec!["2.5\u{202f}元"]);
    let hits = full("\"claude4\"");
    let md = hits.iter().find(|h| h.source == "b.md").unwrap();
    let marked: Vec<&str> = md.highlights.iter().map(|r| &md.text[r[0]..r[1]]).collect();
    assert_eq!(marked, vec!["Claude 4"]);
}

#[test]
fn exclusions_and_titles_read_spacing_the_same_way() {
    // 元 without the phrase 0.4元, however spaced.
    assert_eq!(
        lines("元 -\"0.4元\"", "元"),
        vec![at("a.txt", 4), at("a.txt", 5), at("a.txt", 8)]
    );
    assert_eq!(
        lines("元 -\"0.4 元\"", "元"),
        vec![at("a.txt", 4), at("a.txt", 5), at("a.txt", 8)]
    );
    // The title is `Claude 4 評測`.
    assert_eq!(lines("上線 title:claude4", "上線"), vec![at("b.md", 5)]);
    assert_eq!(
        lines("上線 title:'claude 4評 測'", "上線"),
        vec![at("b.md", 5)]
    );
}

#[test]
fn a_phrase_of_only_whitespace_is_ignored() {
    // Beside other terms it changes nothing; alone, the query is empty (exit status 2).
    assert_eq!(lines("降到 \"  \"", "降到"), vec![at("a.txt", 1)]);
    assert_eq!(
        lines("降到 \"\u{3000}\u{200b}\"", "降到"),
        vec![at("a.txt", 1)]
    );
    let dir = scratch("spacing-cli");
    std::fs::create_dir_all(dir.join("corpus")).unwrap();
    std::fs::write(dir.join("corpus/a.txt"), A).unwrap();
    let o = zhsearch(&dir, &["search", "\" \"", "--corpus", "corpus"]);
    assert_eq!(o.status.code(), Some(2));
    // Through the command line: JSON highlights are byte ranges of the original text.
    let o = zhsearch(
        &dir,
        &["search", "\"0.4元\"", "--json", "--corpus", "corpus"],
    );
    assert_eq!(o.status.code(), Some(0));
    let hits = json_lines(&stdout(&o));
    assert_eq!(hits.iter().filter(|h| h["match"] == "all").count(), 1);
    let text = hits[0]["text"].as_str().unwrap();
    let r = &hits[0]["highlights"][0];
    let (s, e) = (
        r[0].as_u64().unwrap() as usize,
        r[1].as_u64().unwrap() as usize,
    );
    assert_eq!(&text[s..e], "0.4 元");
    assert_eq!(hits[0]["match"], "all");
}

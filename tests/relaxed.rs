//! The relaxed tier: a misremembered line (a character dropped, swapped, replaced, in the
//! other script) still comes first, a question lists passages by its content words, and a
//! quoted phrase that matches nothing shows the closest passages, labelled partial.

mod common;

use common::{corpus_copy, json_lines, lines_of, search, stderr, stdout, zhsearch};
use zhsearch::model::MatchKind;
use zhsearch::text::analysis::normalize;

const POEMS: &str = "## 寄友
與汝林居未相失，近身藥裹酒長攜。
籠柵念有修，近身見損益。
近身皆鳥道，殊俗自人羣。
林居避世久，藥裹伴身長。
春眠不覺曉，處處聞啼鳥。
夜來風雨聲，花落知多少。
相失江湖遠，長攜一壺酒。
";

/// The example: with 酒 left out, the line's jieba words (酒, 長, 攜) no longer meet
/// the query's (長攜), yet the line comes first, as a partial match.
#[test]
fn a_line_with_broken_words_comes_first() {
    let s = common::crafted("broken-words", &[("poems.md", POEMS)]);
    for q in [
        "與汝林居未相失近身藥裹長攜",   // 酒 left out
        "近身藥裹長酒攜",               // swapped
        "與汝林居未相失近身藥裹茶長攜", // replaced
        "与汝林居未相失近身药裹长携",   // other script, left out
        "汝林居未相失近身药裹酒",       // cut at both ends, no punctuation
    ] {
        let hits = common::find(&s, q);
        assert_eq!(lines_of(&hits[..1]), vec![("poems.md".into(), 2)], "{q}");
        assert!(
            hits.iter().all(|h| h.match_kind == MatchKind::Partial),
            "{q}"
        );
        // What counted is highlighted: the aligned characters of the line.
        let h = &hits[0];
        let marked: String = h.highlights.iter().map(|r| &h.text[r[0]..r[1]]).collect();
        assert!(marked.contains("近身藥裹"), "{q}: {marked}");
    }
    // Unrelated lines are no partial match.
    let hits = common::find(&s, "與汝林居未相失近身藥裹長攜");
    assert!(!lines_of(&hits).contains(&("poems.md".into(), 6)));
}

#[test]
fn full_matches_stay_above_partial_ones() {
    let s = common::crafted("relaxed-order", &[("poems.md", POEMS)]);
    let hits = common::find(&s, "近身藥裹");
    let kinds: Vec<MatchKind> = hits.iter().map(|h| h.match_kind).collect();
    let first_partial = kinds.iter().position(|k| *k == MatchKind::Partial);
    let first_partial = first_partial.expect("partial matches follow");
    assert!(first_partial > 0, "{kinds:?}");
    assert!(
        kinds[first_partial..]
            .iter()
            .all(|k| *k == MatchKind::Partial)
    );
    for h in &hits[..first_partial] {
        assert!(normalize(&h.text).contains("近身药裹"));
    }
}

/// A question: the passage that answers it (阿里雲 and the rare 盈利, though not 第一次 or
/// 一年) is in the top three, the list is full, and 的/是/哪 are never highlighted.
#[test]
fn a_question_ranks_by_its_content_words() {
    let hits = search("阿里云第一次盈利是哪一年", 10);
    assert_eq!(hits.len(), 10, "a full list");
    let top = lines_of(&hits[..3]);
    assert!(
        top.contains(&("001_f0acb97a223aa501.txt".into(), 84)),
        "{top:?}"
    );
    for h in &hits {
        for r in &h.highlights {
            let marked = normalize(&h.text[r[0]..r[1]]);
            assert!(
                !["的", "是", "哪"].contains(&marked.as_str()),
                "{}: {marked}",
                h.id
            );
        }
    }
    // A question that shares only question words with the corpus finds nothing.
    assert!(search("哪里可以喝到铁观音", 10).is_empty());
}

/// The notes folder: the note that answers the question comes first, not the one
/// sharing its question words (哪裡可以…到).
#[test]
fn a_question_finds_the_note_that_answers_it() {
    let s = common::crafted(
        "question-notes",
        &[
            (
                "trip.md",
                "# 旅行筆記\n\n第二天去了安溪，坐纜車上山喝鐵觀音，風景很好。\n晚上回到廈門吃沙茶麵。\n哪裡可以買到便宜的機票？\n",
            ),
            ("home.md", "今天在家喝咖啡，看了一本書。\n"),
        ],
    );
    let hits = common::find(&s, "哪里可以喝到铁观音");
    assert_eq!(lines_of(&hits[..1]), vec![("trip.md".into(), 3)]);
    assert!(!lines_of(&hits).contains(&("trip.md".into(), 5)));
    let h = &hits[0];
    let marked: Vec<&str> = h.highlights.iter().map(|r| &h.text[r[0]..r[1]]).collect();
    assert_eq!(marked, vec!["鐵觀音"]);
}

/// A question word the corpus lacks weighs as little as one it holds: the index's vocabulary
/// splits it into characters (什么 into 什 and 么), and 什, unknown to the corpus, weighed
/// more than the content word 软件, so that 软件是什么 found nothing on this corpus.
#[test]
fn a_question_word_the_corpus_lacks_weighs_little() {
    let s = common::crafted(
        "absent-question-words",
        &[(
            "a.txt",
            "软件开发很重要。
服务器很贵。
",
        )],
    );
    for q in [
        "软件是什么",
        "软件是哪个",
        "软件在哪里",
        "軟件是什麼",
        "软件 什么",
        "什么是软件",
    ] {
        let hits = common::find(&s, q);
        assert_eq!(lines_of(&hits), vec![("a.txt".into(), 1)], "{q}");
        assert_eq!(hits[0].match_kind, MatchKind::Partial, "{q}");
    }
    // Only question words in common: nothing.
    assert!(common::find(&s, "什么是哪个").is_empty());
}

/// A quoted phrase that matches nothing: a line on stderr, then the closest passages as
/// partial matches (exit 0); `--exact` shows none (exit 1). JSON stays hits only.
#[test]
fn a_quoted_phrase_that_matches_nothing_shows_the_closest_passages() {
    let dir = corpus_copy("no-exact-match");
    let o = zhsearch(&dir, &["search", "\"开源不是慈悲\"", "--limit", "3"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.ends_with("zhsearch: no exact match for \"开源不是慈悲\"; closest passages:\n"),
        "{err}"
    );
    let out = stdout(&o);
    assert!(out.matches("[partial match]").count() >= 2, "{out}");
    assert!(out.contains("开源不是慈善"), "{out}");

    let o = zhsearch(&dir, &["search", "\"开源不是慈悲\"", "--json"]);
    assert_eq!(o.status.code(), Some(0));
    let hits = json_lines(&stdout(&o));
    assert!(!hits.is_empty() && hits.iter().all(|h| h["match"] == "partial"));
    assert!(hits[0]["text"].as_str().unwrap().contains("开源不是慈善"));
    assert!(
        !stderr(&o).contains("no exact match"),
        "JSON says it per hit"
    );

    for cmd in ["search", "cite"] {
        let o = zhsearch(&dir, &[cmd, "\"开源不是慈悲\"", "--exact"]);
        assert_eq!(o.status.code(), Some(1), "{cmd}");
        assert_eq!(stdout(&o), "", "{cmd}");
    }
    // A phrase that matches keeps its full matches only.
    let o = zhsearch(&dir, &["search", "\"开源不是慈善\"", "--json"]);
    let hits = json_lines(&stdout(&o));
    assert!(!hits.is_empty() && hits.iter().all(|h| h["match"] == "all"));
    assert_eq!(stderr(&o), "");
}

/// `--exact` leaves out the partial tier of bare terms too.
#[test]
fn exact_means_full_matches_only() {
    let dir = corpus_copy("exact-flag");
    let o = zhsearch(&dir, &["search", "5k瓶颈四", "--exact"]);
    assert_eq!(o.status.code(), Some(1));
    let o = zhsearch(&dir, &["search", "苹果 阿里巴巴 合作", "--exact", "--json"]);
    let hits = json_lines(&stdout(&o));
    assert!(!hits.is_empty() && hits.iter().all(|h| h["match"] == "all"));
}

/// A misremembered sentence typed without quotes is no full match of a passage that holds its
/// words scattered: a term of more than four pieces (words and characters) matches only as a
/// string, so the line meant comes first labelled partial, and `--exact` prints nothing.
#[test]
fn a_sentence_typed_bare_is_a_full_match_only_as_a_string() {
    let dir = corpus_copy("relaxed-sentence");
    // The passage reads …技术积淀的一个体现…: 淀 dropped, 体现 swapped.
    let q = "阿里云,只是阿里多年技术积的一个现体";
    let out = zhsearch(&dir, &["search", "--json", "--limit", "3", "--", q]);
    let hits = json_lines(&stdout(&out));
    assert!(!hits.is_empty(), "{}", stderr(&out));
    assert!(hits.iter().all(|h| h["match"] == "partial"), "{hits:?}");
    assert_eq!(hits[0]["id"], "003_850e64a8af7dec3e.txt#L35");
    let exact = zhsearch(&dir, &["search", "--exact", "--json", "--", q]);
    assert_eq!(
        (exact.status.code(), stdout(&exact)),
        (Some(1), String::new())
    );
    // A short term still matches by its pieces: 林小雨 needs 林 beside the word 小雨.
    let few = search("阿里 盈利", 10);
    assert!(few.iter().any(|h| h.match_kind == MatchKind::All));
}

/// In an index where every character of a quote is common (here in 12,000 of the passages,
/// never side by side as in the quote), the relaxed tier finds passages by the pairs that
/// cover every run of half the quote: the misremembered line still comes first, and a line
/// holding half of the quote in a row is still listed.
#[test]
fn a_quote_of_common_characters_still_finds_runs_of_half_of_it() {
    let mut text = String::from("丙戊乙庚丁甲辛壬\n壬癸丙戊乙庚子丑\n");
    for k in 0..12_000 {
        text.push_str(&format!("己辛甲丁庚乙戊丙{k}\n"));
    }
    let s = common::crafted("common-quote", &[("lines.txt", &text)]);
    let hits = common::find(&s, "丙戊乙庚丁甲辛己");
    assert_eq!(
        lines_of(&hits[..2]),
        vec![("lines.txt".into(), 1), ("lines.txt".into(), 2)]
    );
    assert!(hits.iter().all(|h| h.match_kind == MatchKind::Partial));
}

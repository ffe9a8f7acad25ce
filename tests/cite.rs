//! Citations: `cite`, `show`, `search --context`, and that every citation leads back.

mod common;

use common::{corpus_copy, repo_corpus, search, stderr, stdout, zhsearch};
use zhsearch::model::LineSpan;
use zhsearch::present::cite::{QuoteMode, cite};
use zhsearch::present::show::{Listed, excerpt};

/// The public judged queries of the evaluation kit, copied so the tests stand alone.
const QUERIES: &[&str] = &[
    "飞天",
    "苹果 阿里巴巴 合作",
    "\"让天下没有难做的生意\"",
    "胡晓明",
    "字节跳动",
    "人工智慧",
    "3800亿",
    "262K",
    "Qwen2.5-Max",
    "IOE",
    "３８００亿",
    "５ｋ瓶颈",
    "阿里云什么时候突破5k瓶颈",
    "钉",
    "拿命换来的",
];

#[test]
fn cite_quotes_verbatim_and_attributes() {
    let dir = corpus_copy("cite");
    let o = zhsearch(&dir, &["cite", "拿命换来的", "--to", "simplified"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let first = out.split("\n\n—").next().unwrap();
    assert!(first.starts_with("> "), "{out}");
    assert!(first.contains("阿里雲是拿命換來的"), "{out}");
    assert!(out.contains("001_f0acb97a223aa501.txt:57"), "{out}");
    let converted = out
        .lines()
        .find(|l| l.contains("阿里云是拿命换来的"))
        .expect("the converted quote");
    assert!(converted.starts_with("> "));
    assert!(out.contains("converted to Simplified"), "{out}");

    let o = zhsearch(&dir, &["cite", "\"开源不是慈善\"", "--limit", "1"]);
    let out = stdout(&o);
    assert!(
        out.contains("《开源 Qwen3-Coder 是顶级 AI 阳谋，阿里的野心藏不住了》"),
        "{out}"
    );
    assert!(out.contains("002_acabd706ace114ad.txt:"), "{out}");

    let o = zhsearch(
        &dir,
        &["cite", "拿命换来的", "--format", "plain", "-n", "1"],
    );
    assert!(stdout(&o).starts_with("“"), "{}", stdout(&o));
    assert!(stdout(&o).contains("）"));

    let o = zhsearch(
        &dir,
        &[
            "cite",
            "拿命换来的",
            "--format",
            "jsonl",
            "--quote",
            "paragraph",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(stdout(&o).lines().next().unwrap()).unwrap();
    assert_eq!(v["quote"], v["text"]);
    assert!(v["markdown"].as_str().unwrap().starts_with("> "));
    assert_eq!(v["id"], "001_f0acb97a223aa501.txt#L57");
}

#[test]
fn every_citation_of_every_judged_query_leads_back_to_its_quote() {
    let index = common::scratch("cite-back");
    let options = zhsearch::store::UpdateOptions::default();
    zhsearch::store::update(&index, Some(&repo_corpus()), &options, None, &()).unwrap();
    let corpus = Listed::of_index(&index).unwrap();
    let mut checked = 0;
    for q in QUERIES {
        for hit in search(q, 10) {
            for mode in [QuoteMode::Sentence, QuoteMode::Paragraph] {
                let c = cite(&hit, mode, None);
                assert_eq!(&hit.text[c.quote_range[0]..c.quote_range[1]], c.quote);
                let shown =
                    excerpt(&corpus, &LineSpan::parse(&hit.id, |_| false).unwrap(), 0).unwrap();
                assert!(
                    shown.text.contains(&c.quote),
                    "{q}: show {} lacks {:?}",
                    hit.id,
                    c.quote
                );
                // Every highlight is inside the sentence quote.
                if mode == QuoteMode::Sentence {
                    for h in &hit.highlights {
                        assert!(c.quote_range[0] <= h[0] && h[1] <= c.quote_range[1]);
                    }
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "{checked}");
}

#[test]
fn show_prints_lines_with_context_and_rejects_bad_locations() {
    let dir = corpus_copy("show");
    let o = zhsearch(
        &dir,
        &["show", "001_f0acb97a223aa501.txt:57", "--context", "1"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    // Context is marked, the cited line is exactly as in the file.
    assert!(lines[0].starts_with("┆ 為此,阿里雲召集了"), "{out}");
    assert!(lines[1].starts_with("在服務器快要到頂"), "{out}");
    assert_eq!(lines[2], "┆ ▲王堅與飛天紀念碑");
    assert!(out.contains("— 《001_f0acb97a223aa501》, 001_f0acb97a223aa501.txt:57, ¶54"));

    let o = zhsearch(
        &dir,
        &["show", "002_acabd706ace114ad.txt#L57-L59", "--json"],
    );
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["line_start"], 57);
    assert_eq!(v["text"].as_str().unwrap().split('\n').count(), 3);

    for (at, needle) in [
        ("001_f0acb97a223aa501.txt:900", "out of range"),
        ("001_f0acb97a223aa501.txt:0", "out of range"),
        ("nope.txt:1", "nope.txt is not a document of the index"),
        ("../etc/passwd:1", "relative to the corpus"),
        ("001_f0acb97a223aa501.txt", "FILE:LINE"),
    ] {
        let o = zhsearch(&dir, &["show", at]);
        assert_eq!(o.status.code(), Some(2), "{at}");
        assert!(stderr(&o).contains(needle), "{at}: {}", stderr(&o));
        assert_eq!(stderr(&o).trim_end().lines().count(), 1, "{}", stderr(&o));
    }
}

#[test]
fn search_context_shows_neighbouring_paragraphs() {
    let dir = corpus_copy("context");
    let o = zhsearch(&dir, &["search", "\"拿命換來\"", "--json", "-C", "2"]);
    let v: serde_json::Value = serde_json::from_str(stdout(&o).lines().next().unwrap()).unwrap();
    let before: Vec<u64> = v["context_before"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["line_start"].as_u64().unwrap())
        .collect();
    let after: Vec<u64> = v["context_after"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["line_start"].as_u64().unwrap())
        .collect();
    assert_eq!(before, vec![55, 56]);
    // Line 58 is blank: the next paragraphs are on lines 59 and 60.
    assert_eq!(after, vec![59, 60]);
    // Without --context the fields are absent.
    let o = zhsearch(&dir, &["search", "\"拿命換來\"", "--json"]);
    assert!(!stdout(&o).contains("context_before"));
}

/// A front matter line that matches the whole query is quoted when the body passages match
/// only part of it (cite said "no passage matches every term", and `--partial` quoted the
/// partial ones without it, an attack found); one is left out when a body passage matches
/// as well.
#[test]
fn a_front_matter_line_is_quoted_unless_a_body_passage_matches_as_well() {
    let dir = common::scratch("cite-front-matter");
    std::fs::create_dir_all(dir.join("corpus")).unwrap();
    let a = "---\ntitle: 麒麟踏雪而来\nauthor: 张三\n---\n\n麒麟踏雪而去。\n";
    std::fs::write(dir.join("corpus/a.md"), a).unwrap();
    std::fs::write(dir.join("corpus/b.txt"), "麒麟在这里踏雪\n").unwrap();
    let cite = |args: &[&str]| {
        let o = zhsearch(&dir, &[&["cite", "--format", "jsonl"][..], args].concat());
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        common::json_lines(&stdout(&o))
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(cite(&["麒麟踏雪而来"]), ["a.md#L2"]);
    assert_eq!(
        cite(&["麒麟踏雪而来", "--partial"]),
        ["a.md#L2", "a.md#L6", "b.txt#L1"]
    );
    // A body passage matches as well: the title line is left out.
    assert_eq!(cite(&["麒麟"]), ["a.md#L6", "b.txt#L1"]);
}

/// When the only full match is in a file changed since an index that cannot be updated, cite
/// says so, not that no passage matches every term (an attack found it saying that).
#[test]
fn a_full_match_withheld_is_not_called_missing() {
    use std::os::unix::fs::PermissionsExt;
    let dir = common::scratch("cite-withheld");
    std::fs::create_dir_all(dir.join("c")).unwrap();
    std::fs::write(dir.join("c/a.md"), "软件开发很重要。\n").unwrap();
    std::fs::write(dir.join("c/b.txt"), "软件很贵，开心。\n").unwrap();
    let o = zhsearch(&dir, &["index", "--quiet", "--corpus", "c", "--index", "i"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mode = |m: u32| {
        std::fs::set_permissions(dir.join("i"), std::fs::Permissions::from_mode(m)).unwrap()
    };
    mode(0o555);
    std::fs::write(dir.join("c/a.md"), "软件开发很重要，真的。\n").unwrap();
    let o = zhsearch(&dir, &["cite", "软件开发", "--index", "i"]);
    mode(0o755);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("not quoted: a.md changed"), "{err}");
    assert!(
        err.contains("no passage matching every term can be quoted"),
        "{err}"
    );
    assert!(!err.contains("no passage matches every term"), "{err}");
}

//! Promises about what a hit is and where it ranks: `match: all` means every term matched by
//! the README's rule (checked against an oracle written here), partial hits say so everywhere
//! (`search`, `cite`, exit status), and results are one ranking whatever the page or the
//! history of the index.

mod common;

use std::collections::HashSet;
use std::path::Path;

use common::{corpus_copy, json_lines, scratch, stderr, stdout, zhsearch};
use jieba_rs::Jieba;
use zhsearch::model::{Hit, MatchKind};
use zhsearch::search::Plan;
use zhsearch::search::Searcher;
use zhsearch::search::query;
use zhsearch::store::{self, UpdateOptions};
use zhsearch::text::analysis::normalize;

/// A fixed-seed xorshift generator: the same cases on every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn write_corpus(corpus: &Path, files: &[(String, String)]) {
    for (name, content) in files {
        std::fs::create_dir_all(corpus).unwrap();
        std::fs::write(corpus.join(name), content).unwrap();
    }
}

fn build(corpus: &Path, index: &Path) -> Searcher {
    store::update(index, Some(corpus), &UpdateOptions::default(), None, &()).unwrap();
    Searcher::open(index).unwrap()
}

fn run(s: &Searcher, q: &str, limit: usize, offset: usize) -> Vec<Hit> {
    s.search(&query::parse(q).unwrap(), limit, offset).unwrap()
}

/// Plain lines of the bundled corpus (no markup, so that a passage is its line), in five
/// `.txt` files.
fn plain_corpus() -> Vec<(String, String)> {
    let mut lines: Vec<String> = Vec::new();
    for f in ["001_f0acb97a223aa501.txt", "003_850e64a8af7dec3e.txt"] {
        let text = std::fs::read_to_string(common::repo_corpus().join(f)).unwrap();
        lines.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| {
                    let n = l.chars().count();
                    (8..300).contains(&n)
                        && !l.contains(|c| "*_[]<>#!|`~:\"“”".contains(c))
                        && !l.starts_with(|c: char| c == '-' || c.is_ascii_digit())
                })
                .map(str::to_string),
        );
    }
    lines.truncate(150);
    lines
        .chunks(30)
        .enumerate()
        .map(|(i, c)| (format!("p{i}.txt"), c.join("\n") + "\n"))
        .collect()
}

/// `s` without whitespace, which never decides a match (README, Query syntax).
fn squeeze(s: &str) -> String {
    s.split_whitespace().collect()
}

/// The oracle for one bare term form and one passage (normalised text `n` without its
/// whitespace, jieba words
/// `words`): the form as a string, or a cut of the form into at most four pieces, no two
/// alike, one at least of two characters or more, each long piece a word of the passage
/// and each other piece a character of it. The README's rule picks one such cut (the
/// term's segmentation), so every full match passes this.
fn oracle_form(form: &str, quoted: bool, n: &str, words: &HashSet<String>) -> bool {
    let form = &squeeze(form);
    if n.contains(form) {
        return true;
    }
    if quoted {
        return false;
    }
    let chars: Vec<char> = form.chars().collect();
    cut(&chars, &mut Vec::new(), n, words)
}

/// Whether `rest` cuts into pieces that, after `pieces`, make a cut `oracle_form` accepts.
fn cut(rest: &[char], pieces: &mut Vec<String>, n: &str, words: &HashSet<String>) -> bool {
    if rest.is_empty() {
        return pieces.iter().any(|p| p.chars().count() > 1);
    }
    if pieces.len() == 4 {
        return false;
    }
    (1..=rest.len()).any(|j| {
        let piece: String = rest[..j].iter().collect();
        let present = if j == 1 {
            n.contains(rest[0])
        } else {
            words.contains(&piece)
        };
        if !present || pieces.contains(&piece) {
            return false;
        }
        pieces.push(piece);
        let ok = cut(&rest[j..], pieces, n, words);
        pieces.pop();
        ok
    })
}

fn oracle_all(q: &Plan, text: &str, jieba: &Jieba) -> bool {
    let n = normalize(text);
    let words: HashSet<String> = jieba
        .cut_for_search(&n, false)
        .into_iter()
        .filter(|w| w.word.chars().count() > 1)
        .map(|w| w.word.to_string())
        .collect();
    let n = squeeze(&n);
    q.groups.iter().all(|g| {
        g.iter().any(|t| {
            t.forms
                .iter()
                .any(|f| oracle_form(&f.norm, t.quoted, &n, &words))
        })
    })
}

/// Random queries of the kinds that went wrong: a substring of a line, one with a character
/// glued on (present elsewhere or nowhere), two pieces of different lines glued together,
/// two terms.
fn queries(lines: &[Vec<char>], rng: &mut Rng, count: usize) -> Vec<String> {
    let absent = ['甲', '乙', '丙', '丁', '四', '龘', '量'];
    let piece = |rng: &mut Rng, min: usize, max: usize| -> String {
        let l = &lines[rng.below(lines.len())];
        let len = min + rng.below(max - min + 1);
        let start = rng.below(l.len().saturating_sub(len).max(1));
        l[start..(start + len).min(l.len())].iter().collect()
    };
    let mut out = Vec::new();
    while out.len() < count {
        let q = match rng.below(6) {
            5 => piece(rng, 2, 3).repeat(2 + rng.below(3)),
            0 => piece(rng, 2, 6),
            1 => format!("{}{}", piece(rng, 2, 5), absent[rng.below(absent.len())]),
            2 => format!("{}{}", piece(rng, 2, 4), piece(rng, 1, 3)),
            3 => format!("{} {}", piece(rng, 2, 4), piece(rng, 2, 4)),
            _ => format!("{}{}", absent[rng.below(absent.len())], piece(rng, 2, 4)),
        };
        let usable = !q.starts_with('-')
            && q.split(' ')
                .all(|t| t.chars().any(char::is_alphanumeric) && !t.contains(['"', ':']));
        if usable {
            out.push(q);
        }
    }
    out
}

/// Every hit labelled `all` matches each term by the README's rule (an independent oracle:
/// substring, or a cut into the passage's own jieba words and characters), every partial hit
/// ranks below every full one, and every passage holding each term as a string is a full
/// match.
#[test]
fn full_matches_are_exactly_what_the_rule_says() {
    let files = plain_corpus();
    let dir = scratch("match-oracle");
    let s = build(&dir.join("corpus"), &{
        write_corpus(&dir.join("corpus"), &files);
        dir.join("index")
    });
    let passages: Vec<(String, usize, String)> = files
        .iter()
        .flat_map(|(f, c)| {
            c.lines()
                .enumerate()
                .map(move |(i, l)| (f.clone(), i + 1, l.to_string()))
        })
        .collect();
    let lines: Vec<Vec<char>> = passages
        .iter()
        .map(|p| normalize(&p.2).chars().collect())
        .collect();
    let jieba = Jieba::new();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut full, mut partial) = (0, 0);
    for q in queries(&lines, &mut rng, 400) {
        let parsed = s.bind(&query::parse(&q).unwrap()).unwrap();
        let hits = run(&s, &q, 100_000, 0);
        let first_partial = hits
            .iter()
            .position(|h| h.match_kind == MatchKind::Partial)
            .unwrap_or(hits.len());
        assert!(
            hits[first_partial..]
                .iter()
                .all(|h| h.match_kind == MatchKind::Partial),
            "{q}: a full match ranks below a partial one"
        );
        for h in &hits[..first_partial] {
            assert!(
                oracle_all(&parsed, &h.text, &jieba),
                "{q}: labelled all but does not match: {}:{} {}",
                h.source,
                h.line_start,
                h.text
            );
        }
        let got: HashSet<(String, usize)> = hits[..first_partial]
            .iter()
            .map(|h| (h.source.clone(), h.line_start))
            .collect();
        for (f, line, text) in &passages {
            let n = squeeze(&normalize(text));
            if parsed.terms().all(|t| n.contains(&squeeze(t.norm()))) {
                assert!(
                    got.contains(&(f.clone(), *line)),
                    "{q}: {f}:{line} holds every term but is not a full match"
                );
            }
        }
        full += first_partial;
        partial += hits.len() - first_partial;
    }
    // The generated queries exercise both labels.
    assert!(
        full > 120 && partial > 100,
        "{full} full, {partial} partial"
    );
}

/// The reproductions: a passage lacking a character of the term is never `all`;
/// the passage that has it is.
#[test]
fn a_term_whose_characters_are_missing_is_only_partial() {
    let files = [
        ("a.txt", "我們討論了產品內容\n"),
        ("b.txt", "数量的变化与计算方法\n量子计算的进展很快\n"),
        ("c.txt", "这里的龙井茶很好喝\n明前龙井最贵\n"),
        ("d.txt", "窗外下着小雨\n林小雨来了\n"),
        ("e.txt", "他笑了：哈哈哈哈。\n飛天的故事\n"),
    ];
    let s = common::crafted("missing-characters", &files);
    for (q, full) in [
        ("甲乙丙丁內容", None),
        ("量子计算", Some(("b.txt", 2))),
        ("明前龙井", Some(("c.txt", 2))),
        ("林小雨", Some(("d.txt", 2))),
        ("5k瓶颈四", None),
        // A repeated piece is not held by a passage that holds it once.
        ("哈哈哈哈哈哈哈哈", None),
        ("哈哈哈哈", Some(("e.txt", 1))),
        ("飛天飛天", None),
    ] {
        let hits = common::find(&s, q);
        let all: Vec<(String, usize)> = hits
            .iter()
            .filter(|h| h.match_kind == MatchKind::All)
            .map(|h| (h.source.clone(), h.line_start))
            .collect();
        let want: Vec<(String, usize)> =
            full.map(|(f, l)| (f.to_string(), l)).into_iter().collect();
        assert_eq!(all, want, "{q}");
    }
    // On the bundled corpus too: nothing holds 四 beside 5k瓶颈, nor this made-up word.
    for q in ["5k瓶颈四", "完全不存在的词"] {
        let hits = common::search(q, 100);
        assert!(
            hits.iter().all(|h| h.match_kind == MatchKind::Partial),
            "{q}"
        );
    }
}

/// Text is folded a piece at a time and a query as a whole: where NFKC joins characters
/// (a half-width voiced mark to its kana, conjoining Hangul into a syllable), both fold
/// alike, so a copy of the text finds it, as typed or as NFKC writes it.
#[test]
fn text_and_query_fold_alike_where_nfkc_joins_characters() {
    let s = common::crafted(
        "nfkc-joins",
        &[
            ("k.txt", "ｶﾞｲﾄﾞ手冊\n"),
            ("h.txt", "\u{1112}\u{1161}\u{11AB}國語\n"),
        ],
    );
    for (q, file) in [
        ("ｶﾞｲﾄﾞ", Some("k.txt")),
        ("ガイド", Some("k.txt")),
        ("\"ｶﾞｲﾄﾞ手冊\"", Some("k.txt")),
        ("한", Some("h.txt")),
        ("\u{1112}\u{1161}\u{11AB}", Some("h.txt")),
        ("\"ﾞ\"", None),
        ("\"\u{1112}\"", None),
    ] {
        let all: Vec<String> = common::find(&s, q)
            .into_iter()
            .filter(|h| h.match_kind == MatchKind::All)
            .map(|h| h.source)
            .collect();
        let want: Vec<String> = file.map(str::to_string).into_iter().collect();
        assert_eq!(all, want, "{q}");
    }
}

/// Exit status and messages when only partial matches exist: `search` prints them (exit 0)
/// and, in human output, says so first on stderr; `cite` quotes nothing without `--partial`
/// (exit 1, one line naming the option) and labels each partial quote with it.
#[test]
fn partial_only_results_are_reported_as_such() {
    let dir = corpus_copy("partial-only");
    let o = zhsearch(&dir, &["search", "5k瓶颈四", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let hits = json_lines(&stdout(&o));
    assert!(!hits.is_empty() && hits.iter().all(|h| h["match"] == "partial"));
    assert!(!stderr(&o).contains("every term"), "JSON says it per hit");

    let o = zhsearch(&dir, &["search", "5k瓶颈四"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("no passage matches every term"));
    assert!(stdout(&o).contains("[partial match]"));
    // With full matches there is no such line.
    let o = zhsearch(&dir, &["search", "5k瓶颈"]);
    assert_eq!(stderr(&o), "");

    let o = zhsearch(&dir, &["cite", "5k瓶颈四"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o), "");
    assert_eq!(stderr(&o).lines().count(), 1);
    assert!(stderr(&o).contains("--partial"), "{}", stderr(&o));

    for format in ["markdown", "plain"] {
        let o = zhsearch(&dir, &["cite", "5k瓶颈四", "--partial", "--format", format]);
        assert_eq!(o.status.code(), Some(0));
        let out = stdout(&o);
        let quotes = out.matches("partial match").count();
        assert!(quotes >= 1, "{format}: {out}");
    }
    let o = zhsearch(
        &dir,
        &["cite", "5k瓶颈四", "--partial", "--format", "jsonl"],
    );
    for c in json_lines(&stdout(&o)) {
        assert_eq!(c["match"], "partial");
        assert!(c["markdown"].as_str().unwrap().contains("partial match"));
        assert!(c["plain"].as_str().unwrap().contains("partial match"));
    }
    // Full matches only are quoted when both kinds are found; they carry no label.
    let o = zhsearch(
        &dir,
        &["cite", "5k瓶颈", "--limit", "5", "--format", "jsonl"],
    );
    assert_eq!(o.status.code(), Some(0));
    let cited = json_lines(&stdout(&o));
    assert_eq!(cited.len(), 3);
    assert!(cited.iter().all(|c| c["match"] == "all"));
    // Nothing at all (--exact: not even the closest passages to a phrase): exit 1, no
    // message about partial matches.
    let o = zhsearch(&dir, &["cite", "\"完全不存在的词\"", "--exact"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!stderr(&o).contains("--partial"));
    // Without --exact, the closest passages are partial matches, which cite leaves out.
    let o = zhsearch(&dir, &["cite", "\"完全不存在的词\""]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--partial"), "{}", stderr(&o));
}

/// A closing `**` after the sentence end stays in the quote.
#[test]
fn cited_emphasis_stays_balanced() {
    let dir = corpus_copy("cite-emphasis");
    let o = zhsearch(
        &dir,
        &[
            "cite",
            "收费站建在自己手里",
            "--limit",
            "1",
            "--format",
            "jsonl",
        ],
    );
    let c = &json_lines(&stdout(&o))[0];
    let quote = c["quote"].as_str().unwrap();
    assert!(quote.ends_with("建在自己手里。**"), "{quote}");
    assert_eq!(quote.matches("**").count() % 2, 0, "{quote}");
}

/// Query limits count what is typed: spaces, and the number of terms.
#[test]
fn overlong_queries_and_bad_globs_are_refused() {
    let dir = corpus_copy("limits");
    assert_eq!(zhsearch(&dir, &["index", "--quiet"]).status.code(), Some(0));
    let spaces = format!("{}字", " ".repeat(1001));
    let many = vec!["字"; 101].join(" ");
    let hundred = vec!["字"; 100].join(" ");
    for (args, what) in [
        (vec!["search", spaces.as_str()], "too long"),
        (vec!["search", many.as_str()], "too many terms"),
        (vec!["search", "阿里", "--source", "["], "`[`"),
        (vec!["search", "阿里 source:00[1.txt"], "`00[1.txt`"),
        (vec!["cite", "阿里", "--source", "a[]"], "`a[]`"),
    ] {
        let o = zhsearch(&dir, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
        assert!(stderr(&o).contains(what), "{args:?}: {}", stderr(&o));
    }
    assert_ne!(zhsearch(&dir, &["search", &hundred]).status.code(), Some(2));
    // A set is a glob: [0-1] matches 000_… and 001_…, not 002_….
    let o = zhsearch(
        &dir,
        &[
            "search",
            "阿里",
            "--source",
            "00[0-1]_*.txt",
            "--json",
            "-n",
            "1000",
        ],
    );
    let sources: HashSet<String> = json_lines(&stdout(&o))
        .iter()
        .map(|h| h["source"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(sources.len(), 2, "{sources:?}");
    assert!(
        sources
            .iter()
            .all(|s| s.starts_with("000_") || s.starts_with("001_"))
    );
}

/// Near-identical files: many passages tie, which is where paging went wrong.
fn tied_corpus(count: usize, variant: usize) -> Vec<(String, String)> {
    let lines = [
        "阿里云终于突破了5k瓶颈。",
        "飞天系统突破瓶颈,阿里云很稳。",
        "瓶颈",
        "这一年,阿里云的飞天系统经受了考验。",
        "突破瓶颈需要时间,也需要耐心和很多很多的钱。",
    ];
    (0..count)
        .map(|i| {
            let k = (i * 7 + variant) % lines.len();
            let text = format!(
                "{}\n{}\n第{}号文件。\n",
                lines[k],
                lines[(k + i % 3 + 1) % lines.len()],
                i % 5
            );
            (format!("f{i:03}.txt"), text)
        })
        .collect()
}

const RANKING_QUERIES: &[&str] = &[
    "瓶颈",
    "阿里云",
    "突破 瓶颈",
    "\"飞天系统\"",
    "阿里云瓶颈",
    "飞天系统耐心",
    "阿里 OR 飞天",
    "瓶颈 -飞天",
    "文件",
];

/// `--offset k --limit 1` is row k+1 of one list, and pages of any size are slices of it;
/// equal scores go by file, then line.
#[test]
fn pages_are_slices_of_one_ranking() {
    let dir = scratch("tied-pages");
    write_corpus(&dir.join("corpus"), &tied_corpus(300, 0));
    let s = build(&dir.join("corpus"), &dir.join("index"));
    for q in RANKING_QUERIES {
        let list = run(&s, q, 100_000, 0);
        assert!(list.len() > 60, "{q}: {}", list.len());
        let key = |h: &Hit| (h.source.clone(), h.line_start, h.match_kind);
        let keys: Vec<_> = list.iter().map(key).collect();
        let mut rows: Vec<usize> = (0..40).collect();
        rows.extend((40..list.len()).step_by(37));
        rows.push(list.len() - 1);
        for k in rows {
            let one = run(&s, q, 1, k);
            assert_eq!(
                one.iter().map(key).collect::<Vec<_>>(),
                vec![keys[k].clone()],
                "{q} row {}",
                k + 1
            );
        }
        for size in [7, 10, 45] {
            let mut paged = Vec::new();
            for offset in (0..100).step_by(size) {
                paged.extend(run(&s, q, size, offset).iter().map(key));
            }
            assert_eq!(paged[..100], keys[..100], "{q}, pages of {size}");
        }
        // Shorter lists are prefixes.
        for limit in [1, 20, 29, 30, 31, 60] {
            let head: Vec<_> = run(&s, q, limit, 0).iter().map(key).collect();
            assert_eq!(head, keys[..limit], "{q} --limit {limit}");
        }
        for w in list.windows(2) {
            if w[0].score == w[1].score && w[0].match_kind == w[1].match_kind {
                assert!(
                    (&w[0].source, w[0].line_start) < (&w[1].source, w[1].line_start),
                    "{q}: tie out of order: {}:{} before {}:{}",
                    w[0].source,
                    w[0].line_start,
                    w[1].source,
                    w[1].line_start
                );
            }
        }
    }
}

/// Files of short lines far from BM25's reference length, their lengths differing from one
/// batch of files to the next: Tantivy's block maxima are chosen with each segment's own
/// average length when it is written, and pruning with them once skipped better passages,
/// so that the best ones depended on how the index was cut into segments.
#[test]
fn the_best_passages_do_not_depend_on_the_segments() {
    let pool: Vec<char> = "山水風花雪天地人日雲江河春秋".chars().collect();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    // Mostly two to five characters with a 月 or two; one line in 97 is 40 characters with
    // eight 月: with the reference length those rank first, with the short lines' own
    // average the short ones do.
    let mut line = |n: usize| -> String {
        let (len, moons) = if n.is_multiple_of(97) {
            (40, 8)
        } else {
            (2 + rng.below(4), 1 + rng.below(2))
        };
        let mut chars: Vec<char> = (0..len).map(|_| pool[rng.below(pool.len())]).collect();
        for _ in 0..moons {
            let at = rng.below(chars.len() + 1);
            chars.insert(at, '月');
        }
        chars.into_iter().collect()
    };
    let mut n = 0;
    let batches: Vec<Vec<(String, String)>> = (0..4)
        .map(|b| {
            (0..10)
                .map(|f| {
                    let lines: Vec<String> = (0..150)
                        .map(|_| {
                            n += 1;
                            line(n)
                        })
                        .collect();
                    (format!("b{b}f{f:02}.txt"), lines.join("\n\n") + "\n")
                })
                .collect()
        })
        .collect();
    let long = n / 97;
    let dir = scratch("segments");
    let (corpus, index) = (dir.join("corpus"), dir.join("index"));
    // One batch a commit: a segment each.
    let mut stepwise = None;
    for batch in &batches {
        write_corpus(&corpus, batch);
        stepwise = Some(build(&corpus, &index));
    }
    let stepwise = stepwise.unwrap();
    let whole = build(&corpus, &scratch("segments-whole").join("index"));
    let key = |h: &Hit| (h.source.clone(), h.line_start, h.score.to_bits());
    for s in [&stepwise, &whole] {
        let best = run(s, "月", long, 0);
        let found = best.iter().filter(|h| h.text.chars().count() == 48).count();
        assert_eq!(found, long, "the {long} lines with eight 月 come first");
    }
    for limit in [10, 100, 400] {
        let a: Vec<_> = run(&stepwise, "月", limit, 0).iter().map(key).collect();
        let b: Vec<_> = run(&whole, "月", limit, 0).iter().map(key).collect();
        assert_eq!(a.len(), limit);
        assert!(
            a == b,
            "the {limit} best passages for 月 differ with the segments"
        );
    }
}

/// An index brought up to date in several steps (files added, changed and removed) ranks
/// exactly as a fresh build of the same files.
#[test]
fn updates_rank_as_a_fresh_build() {
    let dir = scratch("history");
    let corpus = dir.join("corpus");
    let index = dir.join("index");
    write_corpus(&corpus, &tied_corpus(120, 0));
    build(&corpus, &index);
    // Add, change, remove, in separate commits.
    write_corpus(&corpus, &tied_corpus(200, 0)[120..]);
    build(&corpus, &index);
    let changed: Vec<(String, String)> = tied_corpus(200, 3).into_iter().step_by(4).collect();
    write_corpus(&corpus, &changed);
    build(&corpus, &index);
    for i in (0..200).step_by(9) {
        std::fs::remove_file(corpus.join(format!("f{i:03}.txt"))).unwrap();
    }
    let changed: Vec<(String, String)> =
        tied_corpus(200, 1).into_iter().skip(1).step_by(6).collect();
    write_corpus(&corpus, &changed);
    let updated = build(&corpus, &index);

    let fresh_dir = scratch("history-fresh");
    let fresh = build(&corpus, &fresh_dir.join("index"));
    let mut queries: Vec<String> = RANKING_QUERIES.iter().map(|q| q.to_string()).collect();
    queries.extend(
        [
            "阿里云的飞天",
            "耐心",
            "钱 瓶颈",
            "5k",
            "第3号",
            "考验 OR 耐心",
        ]
        .map(String::from),
    );
    for q in &queries {
        let key = |h: &Hit| {
            (
                h.source.clone(),
                h.line_start,
                h.match_kind,
                h.score.to_bits(),
            )
        };
        let a: Vec<_> = run(&updated, q, 500, 0).iter().map(key).collect();
        let b: Vec<_> = run(&fresh, q, 500, 0).iter().map(key).collect();
        assert!(!b.is_empty(), "{q}");
        let first = (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i));
        assert!(
            first.is_none(),
            "{q}: updated and fresh indexes differ at row {:?}: {:?} vs {:?}",
            first.map(|i| i + 1),
            first.and_then(|i| a.get(i)),
            first.and_then(|i| b.get(i))
        );
    }
}

/// Pieces of one long line that tie go by column.
#[test]
fn tied_pieces_of_a_long_line_go_by_column() {
    let unit = "阿里云突破了瓶颈,这是一句用来填满长行的句子。";
    let line = unit.repeat(200);
    let s = common::crafted("long-line-ties", &[("long.txt", &format!("{line}\n"))]);
    let hits = common::find(&s, "瓶颈");
    assert!(hits.len() >= 5, "{}", hits.len());
    let columns: Vec<usize> = hits.iter().map(|h| h.column_start.unwrap()).collect();
    for (w, c) in hits.windows(2).zip(columns.windows(2)) {
        if w[0].score == w[1].score {
            assert!(c[0] < c[1], "{columns:?}");
        }
    }
    assert!(
        hits.windows(2).any(|w| w[0].score == w[1].score),
        "no tie to order"
    );
}

/// "Best first": past the rerank window too, the printed score never rises down the list
/// within a match kind (every `all` comes before every `partial`).
#[test]
fn printed_scores_never_rise_down_the_list() {
    let dir = corpus_copy("score-order");
    for q in [
        "开源",
        "阿里云",
        "阿里 云",
        "的",
        "模型 OR 芯片",
        "阿里云什么时候突破5k瓶颈",
    ] {
        let o = zhsearch(&dir, &["search", q, "--json", "--limit", "300"]);
        assert_eq!(o.status.code(), Some(0), "{q}: {}", stderr(&o));
        let hits = json_lines(&stdout(&o));
        assert!(
            hits.len() > 30 || q.contains("5k"),
            "{q}: only {} hits",
            hits.len()
        );
        for pair in hits.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            if a["match"] == b["match"] {
                let (x, y) = (a["score"].as_f64().unwrap(), b["score"].as_f64().unwrap());
                assert!(x >= y, "{q}: {} ({x}) before {} ({y})", a["id"], b["id"]);
            } else {
                assert_eq!(
                    (&a["match"], &b["match"]),
                    (&"all".into(), &"partial".into())
                );
            }
        }
    }
}

/// A term that matches through the words of a regional form says so, in the passage's own
/// words, and highlights every word it matched by.
#[test]
fn a_regional_form_inside_a_longer_term_is_labelled_and_highlighted() {
    let dir = scratch("regional-inside");
    std::fs::create_dir_all(dir.join("corpus")).unwrap();
    std::fs::write(
        dir.join("corpus/a.txt"),
        "台灣的軟體很好。\n林中的软件很多。\n",
    )
    .unwrap();
    for (q, line, variant, marked) in [
        ("台湾软件", 1, "軟體", vec!["台灣", "軟體"]),
        ("林軟體", 2, "软件", vec!["林", "软件"]),
    ] {
        let o = zhsearch(&dir, &["search", q, "--json"]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let hit = &json_lines(&stdout(&o))[0];
        assert_eq!(
            (hit["line_start"].as_u64(), &hit["match"]),
            (Some(line), &"all".into())
        );
        assert_eq!(hit["variant"], variant, "{q}: {hit}");
        let text = hit["text"].as_str().unwrap();
        let spans: Vec<&str> = hit["highlights"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| &text[h[0].as_u64().unwrap() as usize..h[1].as_u64().unwrap() as usize])
            .collect();
        assert_eq!(spans, marked, "{q}");
    }
}

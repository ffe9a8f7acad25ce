//! The library's `Engine`, in-process: one engine serves many threads at once, while an
//! update runs, with the same answers as the command line.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};

use common::{corpus_copy, stdout, zhsearch};
use zhsearch::store::NoReport;
use zhsearch::{CiteOptions, Engine, EngineOptions, Error, SearchOptions};

/// Queries of every kind: words, phrases, several terms, variants, OR, exclusions, filters,
/// one character, partial matches, paging.
const QUERIES: &[(&str, usize, usize)] = &[
    ("5k瓶颈", 10, 0),
    ("\"开源不是慈善\"", 10, 0),
    ("苹果 阿里巴巴 合作", 10, 0),
    ("软件", 10, 0),
    ("服务器 OR 数据库", 10, 0),
    ("阿里 -云", 10, 0),
    ("钉", 5, 0),
    ("钉", 5, 5),
    ("完全不存在的词", 10, 0),
    ("source:'00*.txt' 工程师", 10, 0),
    ("title:阿里 技术", 10, 0),
    ("明天", 3, 2),
];

/// The CLI's JSON Lines for one query.
fn cli_json(dir: &Path, query: &str, limit: usize, offset: usize) -> Vec<String> {
    let (limit, offset) = (limit.to_string(), offset.to_string());
    let args = [
        "search", "--json", "--limit", &limit, "--offset", &offset, "--", query,
    ];
    let out = zhsearch(dir, &args);
    assert!(out.status.code().is_some_and(|c| c < 2), "{query}: {out:?}");
    stdout(&out).lines().map(str::to_string).collect()
}

/// The engine's answer to one query, as the CLI prints it.
fn engine_json(engine: &Engine, query: &str, limit: usize, offset: usize) -> Vec<String> {
    let options = SearchOptions {
        limit,
        offset,
        ..SearchOptions::default()
    };
    let q = engine.parse(query, &options).unwrap();
    let page = engine.search(&q, &options).unwrap();
    page.hits
        .iter()
        .map(|h| serde_json::to_string(h).unwrap())
        .collect()
}

fn answers(f: impl Fn(&str, usize, usize) -> Vec<String>) -> Vec<Vec<String>> {
    QUERIES.iter().map(|&(q, n, o)| f(q, n, o)).collect()
}

#[test]
fn eight_threads_search_while_an_update_runs_and_agree_with_the_cli() {
    let dir = corpus_copy("engine-threads");
    let before = answers(|q, n, o| cli_json(&dir, q, n, o));
    assert!(before.iter().filter(|a| !a.is_empty()).count() >= 10);

    let engine = Arc::new(Engine::open(EngineOptions::new(dir.join("index"))).unwrap());
    assert_eq!(
        answers(|q, n, o| engine_json(&engine, q, n, o)),
        before,
        "the engine answers as the CLI"
    );

    // A new file that changes the answers to most queries.
    let added = QUERIES
        .iter()
        .map(|(q, _, _)| q.replace(['"', '-'], "").replace("source:'00*.txt'", ""))
        .collect::<Vec<_>>()
        .join("。");
    std::fs::write(
        dir.join("corpus/zz_added.md"),
        format!("# 阿里\n\n{added}。\n"),
    )
    .unwrap();

    let updating = Arc::new(AtomicBool::new(true));
    let start = Arc::new(Barrier::new(9));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (engine, updating, start) = (engine.clone(), updating.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                let mut seen = Vec::new();
                // Until the update is over, and one round after.
                let mut last = false;
                while !last {
                    last = !updating.load(Ordering::SeqCst);
                    for i in 0..QUERIES.len() {
                        let (q, n, o) = QUERIES[(i + t) % QUERIES.len()];
                        seen.push(((i + t) % QUERIES.len(), engine_json(&engine, q, n, o)));
                    }
                }
                seen
            })
        })
        .collect();
    start.wait();
    let report = engine.update(false, &NoReport).unwrap();
    updating.store(false, Ordering::SeqCst);
    assert_eq!((report.added, report.changed, report.removed), (1, 0, 0));

    let after = answers(|q, n, o| cli_json(&dir, q, n, o));
    let changed = (0..QUERIES.len())
        .filter(|&i| before[i] != after[i])
        .count();
    assert!(changed >= 8, "the update changes most answers ({changed})");
    let mut searches = 0;
    for t in threads {
        let seen = t.join().expect("no search thread panicked");
        searches += seen.len();
        for (i, answer) in &seen {
            assert!(
                *answer == before[*i] || *answer == after[*i],
                "{}: an answer that is neither the one before nor the one after the update",
                QUERIES[*i].0
            );
        }
        // Every thread's last round ran after the update: the new answers.
        for (i, answer) in &seen[seen.len() - QUERIES.len()..] {
            assert_eq!(*answer, after[*i], "{}", QUERIES[*i].0);
        }
    }
    assert!(searches >= 8 * 2 * QUERIES.len());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn typed_errors_for_what_callers_branch_on() {
    let dir = common::scratch("engine-errors");
    let engine = Engine::open(EngineOptions::new(dir.join("index"))).unwrap();
    let options = SearchOptions::default();
    assert!(matches!(engine.parse("", &options), Err(Error::Query(_))));
    let q = engine.parse("瓶颈", &options).unwrap();
    assert!(matches!(
        engine.search(&q, &options),
        Err(Error::NoIndex(_))
    ));
    let missing = EngineOptions::new(dir.join("index")).corpus(dir.join("no-such-folder"));
    let engine = Engine::open(missing).unwrap();
    assert!(matches!(
        engine.update(false, &NoReport),
        Err(Error::Store(_))
    ));
    assert!(
        !dir.join("index").exists(),
        "nothing is created for a missing corpus"
    );

    let dir = corpus_copy("engine-cite");
    let engine = Engine::open(EngineOptions::new(dir.join("index")).corpus(dir.join("corpus")));
    let engine = engine.unwrap();
    engine.update(false, &NoReport).unwrap();
    let q = engine.parse("\"开源不是慈善\"", &options).unwrap();
    let hits = engine.search(&q, &options).unwrap().hits;
    let cite = CiteOptions {
        quote: zhsearch::present::cite::QuoteMode::Sentence,
        to: None,
        partial: false,
        semantic: None,
    };
    let cited = engine.cite(hits.clone(), cite).unwrap();
    assert_eq!(cited.quotes.len(), hits.len());
    let first = &cited.quotes[0].0;
    let shown = engine.show(&first.span().to_string(), 0, None).unwrap();
    assert!(shown.text.contains(&cited.quotes[0].1.quote));
    assert!(matches!(
        engine.show("no-such-file.txt:1", 0, None),
        Err(Error::Refused(_))
    ));
    assert!(matches!(
        engine.show("a.txt:9-1", 0, None),
        Err(Error::Location(_))
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// One search reads the index's `meta.json` once: the store is opened once, and the freshness
/// check, the search and the citation all use what it read (`strace`, which `.ci/run` installs).
#[test]
fn one_search_opens_meta_json_once() {
    let dir = corpus_copy("engine-strace");
    assert!(zhsearch(&dir, &["index", "--quiet"]).status.success());
    let trace = dir.join("trace.txt");
    for args in [
        &["search", "瓶颈"][..],
        &["search", "瓶颈", "-C", "1", "--json"],
        &["cite", "开源"],
        &["show", "001_f0acb97a223aa501.txt:57"],
    ] {
        let out = std::process::Command::new("strace")
            .args(["-f", "-e", "trace=open,openat,openat2", "-o"])
            .arg(&trace)
            .arg(env!("CARGO_BIN_EXE_zhsearch"))
            .args(args)
            .current_dir(&dir)
            .env("NO_COLOR", "1")
            .output()
            .expect("strace runs (apt-get install strace; .ci/run installs it)");
        assert!(out.status.success(), "{args:?}: {out:?}");
        let opened = std::fs::read_to_string(&trace).unwrap();
        let meta = opened.lines().filter(|l| l.contains("meta.json")).count();
        assert_eq!(meta, 1, "{args:?} opens meta.json {meta} times:\n{opened}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

fn opened(dir: &Path) -> Engine {
    let options = EngineOptions::new(dir.join("index")).corpus(dir.join("corpus"));
    Engine::open(options).unwrap()
}

/// A commit made by another process is adopted by the next refresh, even when it leaves this
/// engine nothing to do; hits found before an update are not quoted from the file's new lines.
#[test]
fn another_process_commit_is_seen_and_old_hits_are_not_quoted_from_new_lines() {
    let dir = corpus_copy("engine-other-process");
    let engine = opened(&dir);
    engine.update(false, &NoReport).unwrap();
    let options = SearchOptions::default();
    assert!(engine.search_text("鸚鵡螺號", &options).unwrap().is_empty());
    std::fs::write(dir.join("corpus/zz_new.txt"), "海底兩萬里的鸚鵡螺號。\n").unwrap();
    let cli = zhsearch(&dir, &["index", "--quiet"]);
    assert!(cli.status.success(), "{cli:?}");
    assert!(matches!(engine.refresh(&NoReport), Ok(zhsearch::Refresh::Done(r)) if r.is_noop()));
    let found = engine.search_text("鸚鵡螺號", &options).unwrap();
    assert_eq!(found.len(), 1, "the other process's commit is searched");
    assert!(engine.show("zz_new.txt:1", 0, None).is_ok());

    // A hit kept while its file is rewritten and indexed again.
    let hits = engine.search_text("鸚鵡螺號", &options).unwrap().hits;
    std::fs::write(
        dir.join("corpus/zz_new.txt"),
        "完全不同的一行。\n鸚鵡螺號\n",
    )
    .unwrap();
    engine.update(false, &NoReport).unwrap();
    let cited = engine.cite(hits.clone(), CiteOptions::default()).unwrap();
    assert!(cited.quotes.is_empty(), "{:?}", cited.quotes);
    assert!(matches!(
        cited.not_quoted.as_slice(),
        [zhsearch::present::show::Refused::Stale { .. }]
    ));
    let mut kept = hits;
    assert_eq!(engine.add_context(&mut kept, 1).unwrap(), ["zz_new.txt"]);
    assert!(kept[0].context_after.is_empty() && kept[0].context_before.is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Files that come and go while updates run (an editor's temporary files) never fail one.
#[test]
fn files_deleted_during_an_update_do_not_fail_it() {
    let dir = corpus_copy("engine-churn");
    let engine = opened(&dir);
    engine.update(false, &NoReport).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let churn = {
        let (stop, corpus) = (stop.clone(), dir.join("corpus"));
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let tmp = corpus.join(format!("tmp{}.txt", n % 4));
                let _ = std::fs::write(&tmp, format!("暫存檔 {n}\n"));
                let _ = std::fs::remove_file(&tmp);
                n += 1;
            }
        })
    };
    let mut failures = Vec::new();
    for _ in 0..150 {
        if let Err(e) = engine.update(false, &NoReport) {
            failures.push(e.to_string());
        }
    }
    stop.store(true, Ordering::SeqCst);
    churn.join().unwrap();
    assert!(
        failures.is_empty(),
        "{} failed: {:?}",
        failures.len(),
        failures.first()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `SearchOptions::sources` narrows `search` itself; a line out of range is a typed
/// location error.
#[test]
fn search_options_and_locations_are_applied_and_typed() {
    let dir = corpus_copy("engine-options");
    let engine = opened(&dir);
    engine.update(false, &NoReport).unwrap();
    let all = engine
        .search_text("阿里", &SearchOptions::default())
        .unwrap();
    assert!(all.iter().any(|h| !h.source.starts_with("001_")));
    let q = engine.parse("阿里", &SearchOptions::default()).unwrap();
    let narrowed = SearchOptions {
        sources: vec!["001_*.txt".into()],
        ..SearchOptions::default()
    };
    let only = engine.search(&q, &narrowed).unwrap();
    assert!(!only.is_empty() && only.iter().all(|h| h.source.starts_with("001_")));
    for at in [
        "001_f0acb97a223aa501.txt:100000",
        "001_f0acb97a223aa501.txt:0",
    ] {
        let e = engine.show(at, 0, None).unwrap_err();
        assert!(matches!(e, Error::Location(_)), "{at}: {e:?}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Each update writes the files it read into a new segment, and a search pays for every
/// segment it opens: small ones are merged as soon as there are two, so edits do not pile
/// them up (and the index still answers, with the edit).
#[test]
fn updates_do_not_pile_up_small_segments() {
    let dir = corpus_copy("segments");
    let run = |args: &[&str]| {
        let out = zhsearch(&dir, args);
        assert!(out.status.success(), "{args:?}: {}", common::stderr(&out));
        out
    };
    run(&["index", "--corpus", "corpus", "--index", "idx"]);
    let segments = || {
        let meta = std::fs::read_to_string(dir.join("idx/meta.json")).unwrap();
        let meta: serde_json::Value = serde_json::from_str(&meta).unwrap();
        meta["segments"].as_array().unwrap().len()
    };
    let built = segments();
    let file = std::fs::read_dir(dir.join("corpus"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    for round in 0..4 {
        let mut text = std::fs::read_to_string(&file).unwrap();
        text.push_str(&format!("\n第{round}次修改加的一句话。\n"));
        std::fs::write(&file, text).unwrap();
        run(&["index", "--corpus", "corpus", "--index", "idx"]);
    }
    assert_eq!(
        segments(),
        1,
        "the bundled corpus built into {built} segments"
    );
    let found = run(&["search", "第3次修改", "--index", "idx", "--json"]);
    assert!(stdout(&found).contains("第3次修改加的一句话"));
}

/// On a corpus of many files the freshness check runs beside the search (on a small one,
/// after it): either way an edit made since the last update is searched, and an unchanged
/// corpus is answered from the commit as it is.
#[test]
fn a_search_sees_an_edit_in_a_corpus_of_many_files() {
    let dir = common::scratch("many-files");
    let corpus = dir.join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    for i in 0..600 {
        std::fs::write(
            corpus.join(format!("{i:03}.txt")),
            format!("第{i}篇短文。\n"),
        )
        .unwrap();
    }
    let search = |q: &str| {
        let out = zhsearch(&dir, &["search", q, "--corpus", "corpus", "--index", "idx"]);
        assert!(
            out.status.code().is_some_and(|c| c < 2),
            "{}",
            common::stderr(&out)
        );
        stdout(&out)
    };
    assert!(search("第599篇").contains("599.txt"));
    assert!(search("新加的句子").is_empty());
    std::fs::write(corpus.join("123.txt"), "第123篇短文。\n新加的句子。\n").unwrap();
    assert!(search("新加的句子").contains("123.txt:2"));
    std::fs::remove_file(corpus.join("599.txt")).unwrap();
    assert!(!search("第599篇").contains("599.txt"));
}

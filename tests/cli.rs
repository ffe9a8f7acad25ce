//! The command line, end to end: first-use build, refresh on change, output, exit status.

mod common;

use common::{corpus_copy, json_lines, scratch, stderr, stdout, zhsearch};

#[test]
fn first_search_builds_the_index_and_finds_the_bottleneck() {
    let dir = corpus_copy("first-use");
    let o = zhsearch(&dir, &["search", "5k瓶颈", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("built the index"), "{}", stderr(&o));
    let hits = json_lines(&stdout(&o));
    let mut top: Vec<u64> = hits[..3]
        .iter()
        .map(|h| {
            assert_eq!(h["source"], "001_f0acb97a223aa501.txt");
            h["line_start"].as_u64().unwrap()
        })
        .collect();
    top.sort();
    assert_eq!(top, vec![34, 53, 57]);
    for h in &hits {
        for key in [
            "line_end",
            "paragraph",
            "score",
            "text",
            "title",
            "highlights",
            "id",
        ] {
            assert!(h.get(key).is_some(), "missing {key}");
        }
    }
    // The second search finds the index up to date and says nothing about it.
    let o = zhsearch(&dir, &["search", "5k瓶頸"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stderr(&o), "");
    let out = stdout(&o);
    assert!(out.contains("001_f0acb97a223aa501.txt:53"), "{out}");
    assert!(!out.contains('\u{1b}'), "no colour when not on a terminal");
}

#[test]
fn edits_additions_and_deletions_are_picked_up() {
    let dir = corpus_copy("refresh");
    let corpus = dir.join("corpus");
    assert_eq!(zhsearch(&dir, &["index", "--quiet"]).status.code(), Some(0));

    std::fs::write(corpus.join("new.md"), "# 新文件\n\n獨一無二的測試句子。\n").unwrap();
    let o = zhsearch(&dir, &["search", "独一无二的测试句子", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("1 added"), "{}", stderr(&o));
    let hits = json_lines(&stdout(&o));
    assert_eq!(hits[0]["source"], "new.md");
    assert_eq!(hits[0]["line_start"], 3);
    assert_eq!(hits[0]["title"], "新文件");

    std::fs::write(corpus.join("new.md"), "換了內容\n").unwrap();
    // --exact: a quoted phrase that matches nothing would otherwise show the closest passages.
    let o = zhsearch(&dir, &["search", "\"独一无二的测试句子\"", "--exact"]);
    assert_eq!(o.status.code(), Some(1), "old text is gone: {}", stdout(&o));
    assert!(stderr(&o).contains("1 changed"), "{}", stderr(&o));
    assert_eq!(
        zhsearch(&dir, &["search", "换了内容"]).status.code(),
        Some(0)
    );

    std::fs::remove_file(corpus.join("new.md")).unwrap();
    let o = zhsearch(&dir, &["search", "\"换了内容\"", "--exact"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("1 removed"), "{}", stderr(&o));
}

#[test]
fn index_reports_and_remembers_its_corpus() {
    let dir = corpus_copy("remember");
    let idx = dir.join("my-index");
    let o = zhsearch(
        &dir,
        &[
            "index",
            "--corpus",
            "corpus",
            "--index",
            idx.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("4 added"), "{}", stderr(&o));
    let o = zhsearch(&dir, &["index", "--index", idx.to_str().unwrap()]);
    assert!(stderr(&o).contains("up to date"), "{}", stderr(&o));
    // From another folder, without --corpus: the index knows where its corpus is.
    let elsewhere = scratch("elsewhere");
    let o = zhsearch(
        &elsewhere,
        &["search", "飞天", "--index", idx.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
}

#[test]
fn nothing_found_exits_1_and_errors_exit_2_with_one_line() {
    let dir = corpus_copy("status");
    let o = zhsearch(&dir, &["search", "\"不存在的短语xyz\"", "--exact"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o), "");
    let err = stderr(&o);
    assert!(
        err.ends_with("zhsearch: no exact match for \"不存在的短语xyz\"\n"),
        "{err}"
    );

    let o = zhsearch(&dir, &["search", "x", "--corpus", "no-such-folder"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("no-such-folder") && err.contains("--corpus"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");

    std::fs::create_dir_all(dir.join("notes")).unwrap();
    std::fs::write(dir.join("notes/keep.txt"), "mine").unwrap();
    let o = zhsearch(&dir, &["search", "x", "--index", "notes"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("not a zhsearch index"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("notes/keep.txt")).unwrap(),
        "mine"
    );

    let o = zhsearch(&dir, &["search", "\"\""]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("query is empty"), "{}", stderr(&o));

    // Bad arguments too: one line naming the argument, with clap's tip when it has one.
    for (args, needle) in [
        (vec!["search"], "<QUERY>"),
        (vec!["search", "x", "--limit", "0"], "--limit"),
        (vec!["search", "-x", "软件"], "'-- -x'"),
        (vec!["serch", "x"], "'search'"),
        (vec!["index", "--ext"], "--ext"),
        // A negative number is the option's value, refused as one, not an exclusion.
        (
            vec!["search", "--limit", "-3", "2", "x"],
            "'-3' for '--limit",
        ),
        (
            vec!["search", "x", "--offset", "-1", "y"],
            "'-1' for '--offset",
        ),
        (vec!["search", "x", "-C", "-1"], "'-1' for '--context"),
        (vec!["cite", "x", "-n", "-2"], "'-2' for '--limit"),
    ] {
        let o = zhsearch(&dir, &args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.contains(needle) && err.contains("--help"),
            "{args:?}: {err}"
        );
    }
    let o = zhsearch(&dir, &["search", "--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("Query syntax"));
}

#[test]
fn non_utf8_files_are_skipped_with_a_warning() {
    let dir = scratch("skip");
    let corpus = dir.join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    std::fs::write(corpus.join("ok.txt"), "好的文件\n").unwrap();
    std::fs::write(corpus.join("bad.txt"), [0xff, 0xfe, 0x00, 0xd8, 0x41]).unwrap();
    let o = zhsearch(&dir, &["search", "好的"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("skipped bad.txt"), "{}", stderr(&o));
    // Not retried while it is unchanged.
    let o = zhsearch(&dir, &["search", "好的"]);
    assert_eq!(stderr(&o), "");
}

#[test]
fn no_refresh_searches_the_last_commit_and_the_default_sees_an_edit_in_place() {
    let dir = corpus_copy("no-refresh");
    let corpus = dir.join("corpus");
    std::fs::write(corpus.join("edit.md"), "原來的一句話寫在這裡。\n").unwrap();
    assert_eq!(zhsearch(&dir, &["index", "--quiet"]).status.code(), Some(0));
    // Edited in place: the folder's own time does not change, the file's size does not either.
    std::fs::write(corpus.join("edit.md"), "後來的一句話寫在這裡。\n").unwrap();
    let modified = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    let file = std::fs::File::options()
        .write(true)
        .open(corpus.join("edit.md"))
        .unwrap();
    file.set_modified(modified).unwrap();
    let old = ["search", "\"原來的一句話\"", "--exact", "--json"];
    let o = zhsearch(&dir, &[&old[..], &["--no-refresh"]].concat());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stderr(&o), "", "nothing checked, nothing said");
    assert_eq!(json_lines(&stdout(&o))[0]["source"], "edit.md");
    let o = zhsearch(
        &dir,
        &[
            "search",
            "\"後來的一句話\"",
            "--exact",
            "--count",
            "--no-refresh",
        ],
    );
    assert_eq!(
        stdout(&o).trim(),
        "0",
        "the last commit does not hold the edit"
    );
    // A citation is never made from a changed file, whatever commit found it.
    let o = zhsearch(&dir, &["cite", "\"原來的一句話\"", "--no-refresh"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stderr(&o).contains("not quoted"), "{}", stderr(&o));
    // The default search checks the corpus first: the edit is seen, the old text is gone.
    let o = zhsearch(&dir, &old);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stderr(&o).contains("1 changed"), "{}", stderr(&o));
    let o = zhsearch(
        &dir,
        &["search", "\"後來的一句話\"", "--exact", "--no-refresh"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// An edit that keeps the file's size and sets its modification time back to what it was
/// (`touch -d`, a restore, a time before 1970) is seen: the index records the later of the
/// modification and status change times, and the latter cannot be set back.
#[test]
fn an_edit_whose_time_is_set_back_is_seen() {
    let dir = corpus_copy("time-set-back");
    let corpus = dir.join("corpus");
    let day = std::time::Duration::from_secs(86_400);
    let times = [
        std::time::UNIX_EPOCH + 11_000 * day,
        std::time::UNIX_EPOCH - 3_650 * day,
    ];
    for (round, when) in times.into_iter().enumerate() {
        let path = corpus.join(format!("old{round}.md"));
        let set_time = || {
            let file = std::fs::File::options().write(true).open(&path).unwrap();
            file.set_modified(when).unwrap();
        };
        std::fs::write(&path, "甲骨上的一句話寫在這裡。\n").unwrap();
        set_time();
        let o = zhsearch(&dir, &["index", "--quiet"]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        std::fs::write(&path, "金石上的一句話寫在這裡。\n").unwrap();
        set_time();
        let o = zhsearch(&dir, &["search", "\"金石上的一句話\"", "--exact", "--json"]);
        assert_eq!(o.status.code(), Some(0), "round {round}: {}", stderr(&o));
        assert!(stderr(&o).contains("1 changed"), "{}", stderr(&o));
        let o = zhsearch(
            &dir,
            &["search", "\"甲骨上的一句話\"", "--exact", "--count"],
        );
        assert_eq!(
            stdout(&o).trim(),
            "0",
            "round {round}: the old text is gone"
        );
    }
}

#[test]
fn no_refresh_without_an_index_builds_nothing() {
    let dir = corpus_copy("no-refresh-none");
    let o = zhsearch(&dir, &["search", "飞天", "--no-refresh"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("zhsearch index"), "{}", stderr(&o));
    assert!(!dir.join("index").exists(), "no index was built");
}

#[test]
fn no_refresh_refuses_an_index_of_another_corpus_as_the_default_does() {
    let dir = corpus_copy("no-refresh-other");
    let o = zhsearch(&dir, &["index"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let other = dir.join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("a.txt"), "飞天\n").unwrap();
    let default = zhsearch(
        &dir,
        &["search", "飞天", "--corpus", "other", "--index", "index"],
    );
    assert_eq!(default.status.code(), Some(2), "{}", stderr(&default));
    let elsewhere = ["--corpus", "other", "--index", "index", "--no-refresh"];
    for args in [
        [&["search", "飞天"][..], &elsewhere].concat(),
        [&["search", "飞天", "--count"][..], &elsewhere].concat(),
        [&["cite", "飞天"][..], &elsewhere].concat(),
        vec!["search", "飞天", "--ext", "md", "--no-refresh"],
    ] {
        let o = zhsearch(&dir, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stdout(&o).is_empty(), "{args:?}");
        assert!(stderr(&o).contains("holds"), "{args:?}: {}", stderr(&o));
    }
    assert!(
        zhsearch(&dir, &["search", "飞天", "--no-refresh"])
            .status
            .success()
    );
}

/// A search while another process makes the first commit waits for it, then answers (there
/// is nothing to search before; it once exited 2 and asked to try again).
#[test]
fn a_search_during_the_first_build_waits_for_it() {
    let dir = corpus_copy("first-build-wait");
    let corpus = dir.join("corpus");
    // Copies enough for the build to take a while.
    for e in std::fs::read_dir(&corpus).unwrap() {
        let path = e.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for i in 0..60 {
            let name = format!("copy{i:02}-{}", path.file_name().unwrap().to_string_lossy());
            std::fs::write(corpus.join(name), &text).unwrap();
        }
    }
    let mut build = std::process::Command::new(env!("CARGO_BIN_EXE_zhsearch"))
        .args(["index", "--quiet"])
        .current_dir(&dir)
        .env("XDG_CACHE_HOME", dir.join(".cache"))
        .spawn()
        .unwrap();
    // The marker is the first file of a build, written before the lock is taken.
    let marker = dir.join("index").join("zhsearch-index.json");
    let start = std::time::Instant::now();
    while !marker.exists() && start.elapsed().as_secs() < 30 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let o = zhsearch(&dir, &["search", "5k瓶颈", "--limit", "1"]);
    assert!(build.wait().unwrap().success());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains(":53"), "{}", stdout(&o));
    assert!(!stderr(&o).contains("try again"), "{}", stderr(&o));
}

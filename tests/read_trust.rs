//! What zhsearch reads: only the documents of its index, never through a symbolic link or
//! outside the corpus; files read whatever their size or name; text as a reader sees it.

mod common;

use std::path::{Path, PathBuf};

use common::{scratch, stderr, stdout, zhsearch};
use zhsearch::present::show::{Listed, Refused};

/// A folder with `corpus/` holding `files`, indexed into `index/`.
fn indexed(name: &str, files: &[(&str, &[u8])]) -> PathBuf {
    let dir = scratch(name);
    for (rel, content) in files {
        let path = dir.join("corpus").join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    let o = zhsearch(&dir, &["index", "--quiet"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    dir
}

#[cfg(unix)]
fn link(target: impl AsRef<Path>, at: impl AsRef<Path>) {
    std::os::unix::fs::symlink(target, at).unwrap();
}

/// `show at` fails with exit 2, one line on stderr holding `needle`, nothing on stdout.
fn refused(dir: &Path, at: &str, needle: &str) {
    let o = zhsearch(dir, &["show", at]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{at}: {err}");
    assert_eq!(stdout(&o), "", "{at}");
    assert!(err.contains(needle), "{at}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{at}: {err}");
}

const ARTICLE: &[u8] = "第一行正文。\n第二行正文。\n".as_bytes();

#[cfg(unix)]
#[test]
fn show_never_follows_a_link_out_of_the_corpus() {
    let dir = indexed("links", &[("a.txt", ARTICLE), ("sub/b.txt", ARTICLE)]);
    let corpus = dir.join("corpus");
    link("/etc/passwd", corpus.join("passwd.txt"));
    link("/etc", corpus.join("etclink"));
    link(corpus.join("sub"), corpus.join("alias"));
    link(corpus.join("a.txt"), corpus.join("same.txt"));
    for at in [
        "passwd.txt:1",
        "etclink/passwd:1",
        "etclink/shadow:1",
        "alias/b.txt:1",
        "same.txt:1",
    ] {
        refused(&dir, at, "not a document of the index");
    }
    // The real files still show.
    let o = zhsearch(&dir, &["show", "sub/b.txt:2"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("第二行正文。"));
}

#[test]
fn show_reads_only_files_the_index_lists() {
    let dir = indexed(
        "unlisted",
        &[
            ("a.txt", ARTICLE),
            (".hidden.txt", ARTICLE),
            (".gitignore", b"ignored.txt\nprivate/\n"),
            ("ignored.txt", ARTICLE),
            ("private/notes.txt", ARTICLE),
            ("secret.key", ARTICLE),
            ("bin.txt", b"\0\x01binary"),
        ],
    );
    for at in [
        ".hidden.txt:1",
        ".gitignore:1",
        "ignored.txt:1",
        "private/notes.txt:1",
        "secret.key:1",
        "nope.txt:1",
    ] {
        refused(&dir, at, "not a document of the index");
    }
    // Listed, but skipped when indexing: said so.
    refused(&dir, "bin.txt:1", "skipped when indexing");
    for at in ["../corpus/a.txt:1", "./a.txt:1", "sub/../a.txt:1"] {
        refused(&dir, at, "relative to the corpus");
    }
    let absolute = format!("{}:1", dir.join("corpus/a.txt").display());
    refused(&dir, &absolute, "relative to the corpus");
    refused(&dir, "/etc/passwd:1", "relative to the corpus");
}

#[cfg(unix)]
#[test]
fn a_file_replaced_by_a_link_after_indexing_is_not_read() {
    let files: &[(&str, &[u8])] = &[
        ("a.txt", ARTICLE),
        ("sub/b.txt", ARTICLE),
        ("c.txt", ARTICLE),
    ];
    let dir = indexed("replaced", files);
    let corpus = dir.join("corpus");
    let listed = Listed::of_index(&dir.join("index")).unwrap();
    assert!(listed.read("a.txt").is_ok());
    std::fs::remove_file(corpus.join("a.txt")).unwrap();
    link("/etc/passwd", corpus.join("a.txt"));
    // Its folder replaced by a link to a copy of itself.
    std::fs::rename(corpus.join("sub"), dir.join("elsewhere")).unwrap();
    link(dir.join("elsewhere"), corpus.join("sub"));
    for source in ["a.txt", "sub/b.txt"] {
        match listed.read(source) {
            Err(Refused::NotPlainFile { what, .. }) => assert!(what.contains("symbolic link")),
            other => panic!("{source}: {:?}", other.map(|b| b.len())),
        }
    }
    // The corpus folder itself moved, a link to it left in its place.
    std::fs::rename(&corpus, dir.join("moved")).unwrap();
    link(dir.join("moved"), &corpus);
    match listed.read("c.txt") {
        Err(Refused::CorpusMoved { now, .. }) => assert!(now.ends_with("moved")),
        other => panic!("c.txt: {:?}", other.map(|b| b.len())),
    }
    std::fs::remove_file(&corpus).unwrap();
    std::fs::rename(dir.join("moved"), &corpus).unwrap();
    assert!(listed.read("c.txt").is_ok());
    // On the command line the index is brought up to date first: neither is a document now.
    let o = zhsearch(&dir, &["index"]);
    assert!(stderr(&o).contains("2 removed"), "{}", stderr(&o));
    refused(&dir, "a.txt:1", "not a document of the index");
    refused(&dir, "sub/b.txt:1", "not a document of the index");
    let o = zhsearch(&dir, &["search", "正文", "--json", "-C", "1"]);
    assert!(!stdout(&o).contains("root"), "{}", stdout(&o));
}

#[test]
fn search_context_reads_through_the_same_boundary() {
    let dir = indexed("context", &[("a.txt", ARTICLE)]);
    let listed = Listed::of_index(&dir.join("index")).unwrap();
    // A file that is no regular file any more (a folder now) is refused.
    std::fs::remove_file(dir.join("corpus/a.txt")).unwrap();
    std::fs::create_dir(dir.join("corpus/a.txt")).unwrap();
    assert!(matches!(
        listed.read("a.txt"),
        Err(Refused::NotPlainFile { .. })
    ));
    assert!(matches!(
        listed.read("b.txt"),
        Err(Refused::NotListed { .. })
    ));
}

#[test]
fn show_without_an_index_or_corpus_says_what_to_do() {
    let dir = scratch("no-index");
    let o = zhsearch(&dir, &["show", "a.txt:1"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stderr(&o).trim_end().lines().count(), 1, "{}", stderr(&o));
}

/// Peak resident memory of the largest child process waited for so far, in kilobytes.
#[cfg(target_os = "linux")]
fn children_peak_kb() -> i64 {
    // struct rusage: two timevals, then ru_maxrss and 13 more longs.
    #[repr(C)]
    struct Rusage {
        times: [[i64; 2]; 2],
        maxrss: i64,
        rest: [i64; 13],
    }
    unsafe extern "C" {
        fn getrusage(who: i32, usage: *mut Rusage) -> i32;
    }
    const RUSAGE_CHILDREN: i32 = -1;
    let mut usage = Rusage {
        times: [[0; 2]; 2],
        maxrss: 0,
        rest: [0; 13],
    };
    // SAFETY: getrusage fills the struct it is given, laid out as Linux defines it.
    assert_eq!(unsafe { getrusage(RUSAGE_CHILDREN, &mut usage) }, 0);
    usage.maxrss
}

#[cfg(target_os = "linux")]
#[test]
fn indexing_memory_does_not_grow_with_one_large_file() {
    // 24 MB in one file: 300,000 short lines, then one line of 15 MB. Before streaming, a
    // file took about 25 times its size in memory (612 MB here); now the writer's budget
    // (64 MB a thread) and the batches queued for it dominate: 285-330 MB measured with
    // mimalloc, which keeps freed pages longer than glibc. The bound is the build's (#16).
    let dir = scratch("large-file");
    let corpus = dir.join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    let alphabet: Vec<char> =
        "阿里云飞天系统突破瓶颈服务器軟體開發團隊計劃數據中心王堅回憶這段時間"
            .chars()
            .collect();
    let mut text = String::new();
    for i in 0..300_000usize {
        for k in 0..9 {
            text.push(alphabet[(i * 7 + k * 13 + i / 31) % alphabet.len()]);
        }
        text.push('\n');
    }
    for i in 0..5_000_000usize {
        text.push(alphabet[(i * 11 + i / 17) % alphabet.len()]);
        if i % 97 == 96 {
            text.push('。');
        }
    }
    text.push_str("\n最後一行獨特標記。\n");
    std::fs::write(corpus.join("big.txt"), &text).unwrap();
    drop(text);
    let o = zhsearch(&dir, &["index", "--quiet"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let peak_mb = children_peak_kb() / 1024;
    assert!(
        peak_mb < 400,
        "indexing a 24 MB file peaked at {peak_mb} MB"
    );
    // And it is all there, to the last line.
    let o = zhsearch(&dir, &["search", "\"最後一行獨特標記\"", "--json"]);
    assert!(
        stdout(&o).contains("\"line_start\":300002"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn a_reversed_line_range_says_how_to_write_it() {
    let dir = indexed("reversed", &[("a.txt", ARTICLE)]);
    for (at, fix) in [("a.txt:2-1", "a.txt:1-2"), ("a.txt#L59-L57", "a.txt:57-59")] {
        refused(&dir, at, "reversed");
        refused(&dir, at, fix);
    }
}

/// Runs `zhsearch index` (not quiet) and returns its stderr.
fn index_warnings(dir: &Path) -> String {
    let o = zhsearch(dir, &["index"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    stderr(&o)
}

#[test]
fn nul_bytes_anywhere_make_a_file_binary() {
    let dir = scratch("late-nul");
    let corpus = dir.join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    let mut late = "前面都是正常文字。\n".repeat(1000).into_bytes();
    assert!(late.len() > 8192);
    late.extend_from_slice(b"\0\x01\x02");
    late.extend_from_slice("尾巴在這裡。\n".as_bytes());
    std::fs::write(corpus.join("late.txt"), &late).unwrap();
    std::fs::write(corpus.join("ok.txt"), ARTICLE).unwrap();
    let err = index_warnings(&dir);
    assert!(err.contains("skipped late.txt: it looks binary"), "{err}");
    let o = zhsearch(&dir, &["search", "尾巴在這裡", "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(!stdout(&o).contains("\\u0000"));
}

#[test]
fn short_legacy_files_are_read_in_the_encodings_zhsearch_claims() {
    // chardetng guesses EUC-KR, EUC-JP, windows-1255 and windows-1252 for these.
    let words = ["你好吗", "数据库", "计算机", "简体"];
    let mut files: Vec<(String, Vec<u8>)> = words
        .iter()
        .map(|w| {
            (
                format!("{w}.txt"),
                encoding_rs::GBK.encode(w).0.into_owned(),
            )
        })
        .collect();
    files.push((
        "開發者.txt".into(),
        encoding_rs::BIG5.encode("開發者").0.into_owned(),
    ));
    let named: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    let dir = indexed("short-legacy", &named);
    for (w, encoding) in words
        .iter()
        .map(|w| (*w, "gb18030"))
        .chain([("開發者", "Big5")])
    {
        let o = zhsearch(&dir, &["search", w, "--json"]);
        let out = stdout(&o);
        assert!(out.contains(&format!("\"text\":\"{w}\"")), "{w}: {out}");
        assert!(
            out.contains(&format!("\"encoding\":\"{encoding}\"")),
            "{w}: {out}"
        );
    }
}

#[test]
fn invisible_characters_do_not_hide_a_word() {
    let line = "文中有零寬\u{200b}標記與軟\u{00ad}連字號。";
    let dir = indexed("zero-width", &[("a.txt", line.as_bytes())]);
    for q in ["零寬標記", "\"零宽标记\"", "軟連字號"] {
        let o = zhsearch(&dir, &["search", q, "--json"]);
        assert_eq!(o.status.code(), Some(0), "{q}: {}", stderr(&o));
        let hit: serde_json::Value =
            serde_json::from_str(stdout(&o).lines().next().unwrap()).unwrap();
        assert_eq!(hit["text"], line, "{q}");
        let h = &hit["highlights"][0];
        let (a, b) = (
            h[0].as_u64().unwrap() as usize,
            h[1].as_u64().unwrap() as usize,
        );
        let want = if q.contains('軟') {
            "軟\u{00ad}連字號"
        } else {
            "零寬\u{200b}標記"
        };
        assert_eq!(&line[a..b], want, "{q}");
    }
    let o = zhsearch(&dir, &["cite", "零寬標記", "--format", "jsonl"]);
    let c: serde_json::Value = serde_json::from_str(stdout(&o).lines().next().unwrap()).unwrap();
    assert_eq!(c["quote"], line);
}

#[cfg(unix)]
#[test]
fn unusable_file_names_are_skipped_with_a_warning_once() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let dir = scratch("names");
    let corpus = dir.join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    std::fs::write(corpus.join("ok.txt"), ARTICLE).unwrap();
    let latin1 = corpus.join(OsStr::from_bytes(b"caf\xe9.txt"));
    if std::fs::write(&latin1, ARTICLE).is_err() {
        return; // A file system that only takes UTF-8 names.
    }
    std::fs::write(corpus.join("two\nlines.txt"), ARTICLE).unwrap();
    std::fs::write(corpus.join("tab\there.txt"), ARTICLE).unwrap();
    let err = index_warnings(&dir);
    let warnings: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("warning: skipped"))
        .collect();
    assert_eq!(warnings.len(), 3, "{err}");
    assert!(
        err.contains("skipped caf\\xe9.txt: its file name is not valid UTF-8"),
        "{err}"
    );
    assert!(
        err.contains("skipped two\\nlines.txt: its file name holds a line break"),
        "{err}"
    );
    assert!(err.contains("skipped tab\\there.txt"), "{err}");
    // Skipped files are counted as such, not as added.
    assert!(
        err.contains("1 added, 0 changed, 0 removed, 0 unchanged, 3 skipped"),
        "{err}"
    );
    // Remembered: not reported again until it changes.
    assert!(!index_warnings(&dir).contains("skipped"));
    let o = zhsearch(&dir, &["search", "正文", "--json"]);
    let sources: Vec<String> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["source"].to_string())
        .collect();
    assert!(sources.iter().all(|s| s == "\"ok.txt\""), "{sources:?}");
}

/// An unusable name is listed by its escape, which can be the literal name of another file:
/// the file that has that name keeps it, and nothing done to the unusable one touches it.
#[test]
fn an_escaped_name_never_stands_for_a_real_file() {
    let dir = scratch("escaped-twin");
    let corpus = dir.join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    // A backslash and a `t`; then a tab, escaped as the first file's name.
    std::fs::write(corpus.join(r"tab\there.txt"), "獨一無二的句子在這裡。\n").unwrap();
    let unusable = corpus.join("tab\there.txt");
    std::fs::write(&unusable, ARTICLE).unwrap();
    let found = |dir: &Path| {
        let o = zhsearch(dir, &["search", "獨一無二", "--json"]);
        stdout(&o).lines().count()
    };
    let err = index_warnings(&dir);
    assert!(err.contains("is also another file's"), "{err}");
    assert_eq!(found(&dir), 1);
    // Touched, the unusable file is looked at again: the real file's passages stay.
    std::fs::write(&unusable, "第三行。\n").unwrap();
    let err = index_warnings(&dir);
    assert!(err.contains("is also another file's"), "{err}");
    assert_eq!(found(&dir), 1);
    let o = zhsearch(&dir, &["search", "獨一無二", "--json"]);
    assert!(
        stdout(&o).contains(r#""source":"tab\\there.txt""#),
        "{}",
        stdout(&o)
    );
}

/// Runs `args` in `dir` with the index made read-only (`chmod -R a-w`): the index cannot be
/// brought up to date, even by root.
fn with_read_only_index(dir: &Path, args: &[&str]) -> std::process::Output {
    let chmod = |mode: &str| {
        let ok = std::process::Command::new("chmod")
            .args(["-R", mode])
            .arg(dir.join("index"))
            .status()
            .unwrap();
        assert!(ok.success());
    };
    chmod("a-w");
    let o = zhsearch(dir, args);
    chmod("u+w");
    o
}

#[test]
fn a_file_changed_since_a_stale_index_is_not_shown_under_old_lines() {
    let article = "第一段正文。\n\n第二段有瓶颈。\n\n第三段正文。\n";
    let dir = indexed(
        "stale",
        &[("a.txt", article.as_bytes()), ("b.txt", ARTICLE)],
    );
    std::fs::write(dir.join("corpus/a.txt"), format!("插入\n{article}")).unwrap();
    // show: one line naming the file, that it changed, and why the index is stale.
    let o = with_read_only_index(&dir, &["show", "a.txt:3"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(stdout(&o), "");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    for needle in ["a.txt changed since the index", "read-only", "chmod -R u+w"] {
        assert!(err.contains(needle), "{needle:?} not in {err}");
    }
    // An unchanged file is still shown (with the warning that the index is stale).
    let o = with_read_only_index(&dir, &["show", "b.txt:1"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().next(), Some("第一行正文。"));
    // -C: the hit, from the index, without context read from the changed file.
    let o = with_read_only_index(&dir, &["search", "瓶颈", "-C", "1", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let hit: serde_json::Value = serde_json::from_str(stdout(&o).lines().next().unwrap()).unwrap();
    assert_eq!(hit["text"], "第二段有瓶颈。");
    for key in ["context_before", "context_after"] {
        assert!(
            hit.get(key)
                .is_none_or(|c| c.as_array().is_some_and(|a| a.is_empty())),
            "{hit}"
        );
    }
    let warned = stderr(&o)
        .lines()
        .filter(|l| l.contains("a.txt changed since the index was last updated"))
        .count();
    assert_eq!(warned, 1, "{}", stderr(&o));
    // cite: a quote is a slice of the file as it is, so the changed file is not quoted.
    let o = with_read_only_index(&dir, &["cite", "瓶颈"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
    assert!(
        stderr(&o).contains("not quoted: a.txt changed since the index"),
        "{}",
        stderr(&o)
    );
    let o = with_read_only_index(&dir, &["cite", "第一行正文"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // A touched file (same bytes, new time) is still the indexed one.
    let b = dir.join("corpus/b.txt");
    let f = std::fs::File::options().write(true).open(&b).unwrap();
    f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
        .unwrap();
    let o = with_read_only_index(&dir, &["show", "b.txt:1"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // Once the index can be updated, the file is shown as it is now.
    let o = zhsearch(&dir, &["show", "a.txt:4"]);
    assert_eq!(
        stdout(&o).lines().next(),
        Some("第二段有瓶颈。"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_file_name_holding_hash_l_is_cited_by_file_and_line() {
    let dir = indexed("hash-l", &[("y#L3.txt", ARTICLE), ("y.txt", ARTICLE)]);
    let o = zhsearch(&dir, &["show", "y#L3.txt:2"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().next(), Some("第二行正文。"));
    // The id form still reads as an id.
    let o = zhsearch(&dir, &["show", "y.txt#L1"]);
    assert_eq!(
        stdout(&o).lines().next(),
        Some("第一行正文。"),
        "{}",
        stderr(&o)
    );
    let o = zhsearch(&dir, &["search", "第二行", "--json"]);
    for line in stdout(&o).lines() {
        let hit: serde_json::Value = serde_json::from_str(line).unwrap();
        let at = format!("{}:{}", hit["source"].as_str().unwrap(), hit["line_start"]);
        let shown = zhsearch(&dir, &["show", &at]);
        assert_eq!(stdout(&shown).lines().next().unwrap(), hit["text"], "{at}");
    }
}

#[test]
fn ignore_files_outside_the_corpus_drop_nothing() {
    let dir = scratch("parent-ignores");
    let parent = dir.join("parent");
    let corpus = parent.join("corpus");
    std::fs::create_dir_all(corpus.join(".git/info")).unwrap();
    std::fs::create_dir_all(dir.join("home/.config/git")).unwrap();
    for (at, rule) in [
        (parent.join(".gitignore"), "a.md\n"),
        (parent.join(".ignore"), "b.txt\n"),
        (dir.join("home/.config/git/ignore"), "c.txt\n"),
        (corpus.join(".git/info/exclude"), "d.txt\n"),
        (corpus.join(".ignore"), "e.txt\n"),
        (corpus.join(".gitignore"), "f.txt\n"),
    ] {
        std::fs::write(at, rule).unwrap();
    }
    for name in ["a.md", "b.txt", "c.txt", "d.txt", "e.txt", "f.txt"] {
        std::fs::write(corpus.join(name), "正文。\n").unwrap();
    }
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_zhsearch"))
        .args(["index", "--verbose", "--corpus", "parent/corpus"])
        .current_dir(&dir)
        .env("HOME", dir.join("home"))
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("GIT_DIR")
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let listed: Vec<&str> = err
        .lines()
        .filter_map(|l| l.split_once('\t').map(|(f, _)| f))
        .collect();
    // Only the corpus's own .ignore and .gitignore count.
    assert_eq!(listed, ["a.md", "b.txt", "c.txt", "d.txt"], "{err}");
}

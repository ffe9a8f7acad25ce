//! Messy real-world corpora: encodings, binaries, huge lines, links, incremental updates,
//! interrupted and concurrent indexing.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{json_lines, scratch, stderr, stdout, zhsearch};
use encoding_rs::{BIG5, GB18030, GBK};

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn utf16(s: &str, le: bool) -> Vec<u8> {
    let mut out = if le {
        vec![0xFF, 0xFE]
    } else {
        vec![0xFE, 0xFF]
    };
    for u in s.encode_utf16() {
        out.extend(if le { u.to_le_bytes() } else { u.to_be_bytes() });
    }
    out
}

#[test]
fn every_kind_of_file_is_read_or_skipped_with_a_reason() {
    let dir = scratch("messy");
    let c = dir.join("corpus");
    std::fs::create_dir_all(c.join("sub")).unwrap();
    let body = |tag: &str| {
        format!(
            "第一行說明文字，足夠讓偵測有所依據。\n標記{tag}在第二行，後面還有更多的中文內容。\n"
        )
    };
    let simp = |tag: &str| {
        format!(
            "第一行说明文字，足够让侦测有所依据。\n标记{tag}在第二行，后面还有更多的中文内容。\n"
        )
    };
    write(&c, "gbk.txt", &GBK.encode(&simp("甲")).0);
    write(
        &c,
        "gb18030.txt",
        &GB18030.encode(&format!("{}𠀀字在这里\n", simp("乙"))).0,
    );
    write(&c, "big5.txt", &BIG5.encode(&body("丙")).0);
    write(&c, "utf16le.txt", &utf16(&body("丁"), true));
    write(&c, "utf16be.md", &utf16(&body("戊"), false));
    write(
        &c,
        "bom.txt",
        &[b"\xEF\xBB\xBF".as_slice(), body("己").as_bytes()].concat(),
    );
    write(&c, "crlf.txt", body("庚").replace('\n', "\r\n").as_bytes());
    write(&c, "cr.txt", body("辛").replace('\n', "\r").as_bytes());
    write(
        &c,
        "binary.txt",
        b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00",
    );
    write(&c, "empty.txt", b"");
    write(&c, "only-front-matter.md", b"---\ntitle: x\n---\n");
    let noise: Vec<u8> = (0..4000u32)
        .map(|i| (i * 7919 % 251) as u8 | 0x80)
        .collect();
    write(&c, "noise.txt", &noise);
    let long = format!("{}壬在末尾。", "很長的一行，沒有換行。".repeat(500_000));
    write(&c, "sub/long.txt", long.as_bytes());
    write(&c, ".hidden.txt", "癸隱藏".as_bytes());
    write(&c, ".gitignore", b"ignored.txt\n");
    write(&c, "ignored.txt", "子被忽略".as_bytes());
    write(&c, "photo.jpg", "丑不是文件".as_bytes());
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(&c, c.join("sub/loop")).unwrap();
        std::os::unix::fs::symlink("/etc", c.join("outside")).unwrap();
    }

    let o = zhsearch(&dir, &["index", "--verbose"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(!err.contains("panicked"), "{err}");
    for (file, enc) in [
        ("gbk.txt", "gb18030"),
        ("gb18030.txt", "gb18030"),
        ("big5.txt", "Big5"),
        ("utf16le.txt", "UTF-16LE"),
        ("utf16be.md", "UTF-16BE"),
        ("bom.txt", "UTF-8"),
        ("crlf.txt", "UTF-8"),
        ("sub/long.txt", "UTF-8"),
    ] {
        assert!(err.contains(&format!("{file}\t{enc}")), "{file}: {err}");
    }
    assert!(err.contains("skipped binary.txt: it looks binary"), "{err}");
    assert!(
        err.contains("skipped noise.txt: its encoding cannot be recognised"),
        "{err}"
    );
    for hidden in [".hidden.txt", "ignored.txt", "photo.jpg", "outside", "loop"] {
        assert!(!err.contains(&format!("{hidden}\t")), "{hidden}: {err}");
    }

    // Each decodable file: its tag on line 2, the text exactly as decoded, no CR.
    for (tag, file) in [
        ("甲", "gbk.txt"),
        ("乙", "gb18030.txt"),
        ("丙", "big5.txt"),
        ("丁", "utf16le.txt"),
        ("戊", "utf16be.md"),
        ("己", "bom.txt"),
        ("庚", "crlf.txt"),
        ("辛", "cr.txt"),
    ] {
        let o = zhsearch(&dir, &["search", &format!("\"标记{tag}\""), "--json"]);
        assert_eq!(o.status.code(), Some(0), "{file}: {}", stderr(&o));
        let hits = json_lines(&stdout(&o));
        assert_eq!(hits.len(), 1, "{file}");
        assert_eq!(hits[0]["source"], file);
        assert_eq!(hits[0]["line_start"], 2, "{file}");
        let text = hits[0]["text"].as_str().unwrap();
        assert!(
            text.starts_with("標記") || text.starts_with("标记"),
            "{file}: {text}"
        );
        assert!(!text.contains('\r'));
    }
    let o = zhsearch(&dir, &["search", "𠀀字在这里", "--json"]);
    assert_eq!(json_lines(&stdout(&o))[0]["line_start"], 3);

    // The 5 MB line: bounded passages on line 1, with their columns.
    let o = zhsearch(&dir, &["search", "\"壬在末尾\"", "--json"]);
    let hit = &json_lines(&stdout(&o))[0];
    assert_eq!(hit["source"], "sub/long.txt");
    assert_eq!(hit["line_start"], 1);
    assert!(hit["text"].as_str().unwrap().chars().count() <= 1000);
    let end = hit["column_end"].as_u64().unwrap();
    assert_eq!(end as usize, long.chars().count());

    // Hidden, ignored and non-document files are not searched.
    for q in ["癸隱藏", "子被忽略", "丑不是文件"] {
        assert_eq!(
            zhsearch(&dir, &["search", &format!("\"{q}\"")])
                .status
                .code(),
            Some(1),
            "{q}"
        );
    }

    // --ext changes what is a document (with --rebuild only), and is remembered.
    let o = zhsearch(&dir, &["index", "--ext", "txt,jpg"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = zhsearch(&dir, &["index", "--rebuild", "--ext", "txt,jpg"]);
    assert!(stderr(&o).contains("2 removed"), "{}", stderr(&o));
    assert_eq!(
        zhsearch(&dir, &["search", "\"丑不是文件\""]).status.code(),
        Some(0)
    );
}

#[test]
fn empty_or_missing_corpus_is_a_clear_error() {
    let dir = scratch("empty-corpus");
    std::fs::create_dir_all(dir.join("corpus")).unwrap();
    let o = zhsearch(&dir, &["index"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no documents"), "{}", stderr(&o));
    let o = zhsearch(&dir, &["index", "--corpus", "gone"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("gone"), "{}", stderr(&o));
}

/// A corpus big enough that indexing takes a while: copies of the bundled articles.
fn big_corpus(name: &str, copies: usize) -> std::path::PathBuf {
    let dir = common::corpus_copy(name);
    let c = dir.join("corpus");
    for e in std::fs::read_dir(common::repo_corpus()).unwrap() {
        let e = e.unwrap();
        let text = std::fs::read_to_string(e.path()).unwrap();
        for k in 0..copies {
            let name = format!("copy{k:03}-{}", e.file_name().to_string_lossy());
            std::fs::write(c.join(name), &text).unwrap();
        }
    }
    dir
}

#[test]
fn killing_the_indexer_keeps_the_last_commit_searchable() {
    let dir = big_corpus("kill", 150);
    // A first complete index: the last commit.
    let o = zhsearch(&dir, &["index", "--quiet"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let baseline = stdout(&zhsearch(
        &dir,
        &["search", "\"5k瓶頸\"", "--json", "--limit", "2000"],
    ));
    assert!(!baseline.is_empty());
    for delay_ms in [5, 40, 120, 300, 700] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_zhsearch"))
            .args(["index", "--rebuild", "--quiet"])
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // Search answers from the last commit, whatever the kill interrupted.
        let o = zhsearch(&dir, &["search", "\"5k瓶頸\"", "--json", "--limit", "2000"]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "after {delay_ms} ms: {}",
            stderr(&o)
        );
        assert_eq!(stdout(&o), baseline, "after {delay_ms} ms");
    }
    // A new run completes, and the index is whole.
    let o = zhsearch(&dir, &["index", "--rebuild", "--quiet"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = zhsearch(&dir, &["search", "\"5k瓶頸\"", "--json", "--limit", "2000"]);
    assert_eq!(stdout(&o), baseline);
}

#[test]
fn a_second_indexer_is_told_to_wait_and_searches_keep_working() {
    let dir = big_corpus("concurrent", 150);
    assert_eq!(zhsearch(&dir, &["index", "--quiet"]).status.code(), Some(0));
    let first = Command::new(env!("CARGO_BIN_EXE_zhsearch"))
        .args(["index", "--rebuild"])
        .current_dir(&dir)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let second = zhsearch(&dir, &["index", "--rebuild"]);
    let search = zhsearch(&dir, &["search", "\"5k瓶頸\"", "--json"]);
    let first = first.wait_with_output().unwrap();
    // One may have finished before the other started; else whichever came second (on a busy
    // machine, the one started later may take the lock first) is refused with a clear line.
    let refused: Vec<&std::process::Output> = [&first, &second]
        .into_iter()
        .filter(|o| !o.status.success())
        .collect();
    assert!(
        refused.len() <= 1,
        "{}\n{}",
        stderr(&first),
        stderr(&second)
    );
    for o in refused {
        assert_eq!(o.status.code(), Some(2));
        assert!(
            stderr(o).contains("another zhsearch process"),
            "{}",
            stderr(o)
        );
    }
    assert_eq!(search.status.code(), Some(0), "{}", stderr(&search));
}

#[test]
fn a_damaged_index_says_how_to_rebuild_and_rebuild_repairs_it() {
    let dir = common::corpus_copy("damaged");
    assert_eq!(zhsearch(&dir, &["index", "--quiet"]).status.code(), Some(0));
    let index = dir.join("index");
    // A search refuses with one line naming the damage and the repair; --rebuild repairs.
    let damaged_then_repaired = |detail: &str| {
        let o = zhsearch(&dir, &["search", "阿里"]);
        assert_eq!(o.status.code(), Some(2));
        let err = stderr(&o);
        assert!(
            err.contains("is damaged") && err.contains("--rebuild"),
            "{err}"
        );
        assert!(err.contains(detail), "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        let rebuilt = zhsearch(&dir, &["index", "--rebuild", "--quiet"]);
        assert_eq!(rebuilt.status.code(), Some(0));
        assert_eq!(zhsearch(&dir, &["search", "阿里"]).status.code(), Some(0));
    };
    let files = |keep: &dyn Fn(&str) -> bool| -> Vec<std::path::PathBuf> {
        std::fs::read_dir(&index)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| keep(&p.file_name().unwrap().to_string_lossy()))
            .collect()
    };

    let segment = files(&|name| name.ends_with(".idx")).remove(0);
    std::fs::remove_file(segment).unwrap();
    damaged_then_repaired("");

    // Even an unreadable meta.json, in a folder of index files only.
    std::fs::write(index.join("meta.json"), "{\"garbage").unwrap();
    damaged_then_repaired("");

    // The list of indexed files is part of the index (a rebuild leaves just its own).
    let lists = files(&|name| zhsearch::store::manifest::is_list_file(name));
    assert_eq!(lists.len(), 1, "{lists:?}");
    std::fs::remove_file(&lists[0]).unwrap();
    damaged_then_repaired("files-");

    // Damaged in place: the rebuild makes a list of the same name (the corpus is the same),
    // which must be written again, not taken as it is.
    let list = files(&|name| zhsearch::store::manifest::is_list_file(name)).remove(0);
    let whole = std::fs::read(&list).unwrap();
    std::fs::write(&list, &whole[..10]).unwrap();
    damaged_then_repaired("files-");
    assert_eq!(std::fs::read(&list).unwrap(), whole);

    // A list that reads well but lacks every file: the files are indexed as new, and never
    // held twice.
    let hits = |o: &std::process::Output| String::from_utf8_lossy(&o.stdout).lines().count();
    let before = zhsearch(&dir, &["search", "阿里", "--json", "--limit", "1000"]);
    std::fs::write(&list, "[]").unwrap();
    for _ in 0..2 {
        let after = zhsearch(&dir, &["search", "阿里", "--json", "--limit", "1000"]);
        assert_eq!(after.status.code(), Some(0), "{}", stderr(&after));
        assert_eq!(hits(&after), hits(&before));
    }
}

#[test]
fn an_index_of_an_older_schema_is_rebuilt_from_its_own_corpus() {
    let dir = common::corpus_copy("old-schema");
    let idx = dir.join("elsewhere-index");
    let idx_arg = idx.to_str().unwrap();
    let o = zhsearch(&dir, &["index", "--quiet", "--index", idx_arg]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // Pretend an older zhsearch wrote it.
    let meta = std::fs::read_to_string(idx.join("meta.json")).unwrap();
    let current = format!("\\\"schema\\\":{}", zhsearch::store::index::SCHEMA_VERSION);
    assert!(meta.contains(&current), "{meta}");
    std::fs::write(
        idx.join("meta.json"),
        meta.replace(&current, "\\\"schema\\\":1"),
    )
    .unwrap();
    // From a folder with no corpus: the remembered one is rebuilt, and it says so.
    let o = zhsearch(
        &scratch("no-corpus-here"),
        &["search", "飞天", "--index", idx_arg],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("another version of zhsearch"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("4 added"), "{}", stderr(&o));
}

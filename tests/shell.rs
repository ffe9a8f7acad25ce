//! Everyday use from the shell: where the index lives (environment, a folder per corpus),
//! completions and the manual page, `list` and `stats`, editor output, counting and paging,
//! colour, and the output details of the CLI issue.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{corpus_copy, json_lines, scratch, stderr, stdout, zhsearch};

/// zhsearch in `cwd` with `env` set (and nothing else of the caller's zhsearch settings).
fn with_env(cwd: &Path, env: &[(&str, &Path)], args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_zhsearch"));
    c.args(args).current_dir(cwd).env("NO_COLOR", "1");
    for var in ["ZHSEARCH_INDEX", "ZHSEARCH_CORPUS", "XDG_CACHE_HOME"] {
        c.env_remove(var);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

/// A notes folder outside any project: two corpora, `notes` and `other/notes`.
fn notes() -> std::path::PathBuf {
    let dir = scratch("shell-notes");
    for (folder, text) in [
        ("notes", "今天喝了一杯乌龙茶。\n"),
        ("other/notes", "咖啡不是茶。\n"),
    ] {
        std::fs::create_dir_all(dir.join(folder)).unwrap();
        std::fs::write(dir.join(folder).join("a.txt"), text).unwrap();
    }
    std::fs::create_dir_all(dir.join("elsewhere")).unwrap();
    dir
}

#[test]
fn the_index_is_found_through_the_environment_or_kept_per_corpus() {
    let dir = notes();
    let (cache, elsewhere) = (dir.join("cache"), dir.join("elsewhere"));
    // ZHSEARCH_CORPUS alone: an index of its own under $XDG_CACHE_HOME/zhsearch.
    let env = [
        ("ZHSEARCH_CORPUS", &*dir.join("notes")),
        ("XDG_CACHE_HOME", &*cache),
    ];
    let o = with_env(&elsewhere, &env, &["search", "乌龙", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(json_lines(&stdout(&o))[0]["source"], "a.txt");
    let made: Vec<_> = std::fs::read_dir(cache.join("zhsearch")).unwrap().collect();
    assert_eq!(made.len(), 1);
    assert!(!elsewhere.join("index").exists());
    // Another corpus of the same name: a second index, and neither is rebuilt.
    let other = [
        ("ZHSEARCH_CORPUS", &*dir.join("other/notes")),
        ("XDG_CACHE_HOME", &*cache),
    ];
    let o = with_env(&elsewhere, &other, &["search", "咖啡", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_dir(cache.join("zhsearch")).unwrap().count(),
        2
    );
    let o = with_env(&elsewhere, &env, &["search", "乌龙", "--json"]);
    assert_eq!((o.status.code(), stderr(&o)), (Some(0), String::new()));
    // ZHSEARCH_INDEX names the folder; --index still wins over it.
    let idx = dir.join("my-index");
    let env = [
        ("ZHSEARCH_CORPUS", &*dir.join("notes")),
        ("ZHSEARCH_INDEX", &*idx),
    ];
    let o = with_env(&elsewhere, &env, &["index", "--quiet"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(idx.join("meta.json").exists());
    let o = with_env(&elsewhere, &env, &["stats", "--json", "--index", "given"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(elsewhere.join("given/meta.json").exists());
    // A relative XDG_CACHE_HOME is ignored (the XDG rule): the index goes under $HOME/.cache.
    let home = dir.join("home");
    let rel = [
        ("ZHSEARCH_CORPUS", &*dir.join("notes")),
        ("XDG_CACHE_HOME", Path::new("rel")),
    ];
    let rel = [rel[0], rel[1], ("HOME", &*home)];
    let o = with_env(&elsewhere, &rel, &["index", "--quiet"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(home.join(".cache/zhsearch").is_dir() && !elsewhere.join("rel").exists());
    // An empty variable is an unset one.
    let empty = [
        ("ZHSEARCH_INDEX", Path::new("")),
        ("ZHSEARCH_CORPUS", &*dir.join("notes")),
    ];
    let empty = [empty[0], empty[1], ("XDG_CACHE_HOME", &*cache)];
    let o = with_env(&elsewhere, &empty, &["search", "乌龙", "--json"]);
    assert_eq!((o.status.code(), stderr(&o)), (Some(0), String::new()));
    // The bundled layout keeps ./index: `--corpus corpus` beside it is the same corpus.
    let repo = corpus_copy("shell-bundled");
    let o = zhsearch(&repo, &["index", "--quiet", "--corpus", "corpus"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(repo.join("index/meta.json").exists() && !repo.join(".cache").exists());
}

#[test]
fn completions_and_manual_pages_are_generated() {
    let dir = scratch("shell-completions");
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let o = zhsearch(&dir, &["completions", shell]);
        assert_eq!(o.status.code(), Some(0), "{shell}: {}", stderr(&o));
        let script = stdout(&o);
        assert!(
            script.contains("cite") && script.contains("limit"),
            "{shell}"
        );
    }
    let bash = stdout(&zhsearch(&dir, &["completions", "bash"]));
    std::fs::write(dir.join("zhsearch.bash"), bash).unwrap();
    let check = Command::new("bash")
        .arg("-n")
        .arg(dir.join("zhsearch.bash"))
        .status();
    assert!(check.unwrap().success(), "bash -n rejects the script");
    let o = zhsearch(&dir, &["completions", "tcsh"]);
    assert_eq!(o.status.code(), Some(2));

    let page = stdout(&zhsearch(&dir, &["man"]));
    assert!(
        page.contains(".TH zhsearch 1") && page.contains("search"),
        "{page}"
    );
    let o = zhsearch(&dir, &["man", "--dir", "man1"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for name in [
        "zhsearch.1",
        "zhsearch-search.1",
        "zhsearch-cite.1",
        "zhsearch-stats.1",
    ] {
        assert!(dir.join("man1").join(name).is_file(), "{name}");
    }
}

#[test]
fn list_and_stats_say_what_the_index_holds() {
    let dir = corpus_copy("shell-list");
    let o = zhsearch(&dir, &["list", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let docs = json_lines(&stdout(&o));
    assert_eq!(docs.len(), 4);
    let qwen = docs
        .iter()
        .find(|d| d["source"] == "002_acabd706ace114ad.txt")
        .unwrap();
    assert!(qwen["title"].as_str().unwrap().contains("Qwen3-Coder"));
    assert_eq!(qwen["encoding"], "UTF-8");
    let passages: u64 = docs.iter().map(|d| d["passages"].as_u64().unwrap()).sum();

    let o = zhsearch(&dir, &["stats", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        (s["documents"].as_u64(), s["passages"].as_u64()),
        (Some(4), Some(passages))
    );
    let report = stderr(&zhsearch(&dir, &["index", "--rebuild"]));
    assert!(
        report.contains(&format!("({passages} passages indexed)")),
        "{report}"
    );
    let text: u64 = ["000", "001", "002", "003"]
        .iter()
        .map(|p| {
            let f = std::fs::read_dir(dir.join("corpus"))
                .unwrap()
                .flatten()
                .find(|e| e.file_name().to_string_lossy().starts_with(p));
            f.unwrap().metadata().unwrap().len()
        })
        .sum();
    assert_eq!(s["text_bytes"].as_u64(), Some(text));
    assert!(s["index_bytes"].as_u64().unwrap() > 10_000);
    let human = stdout(&zhsearch(&dir, &["stats"]));
    assert!(
        human.contains("documents    4 (0 skipped)") && human.contains(" UTC"),
        "{human}"
    );
    let table = stdout(&zhsearch(&dir, &["list"]));
    assert!(table.starts_with("path\ttitle\tauthor\tdate\tpassages\tencoding\n"));
    assert_eq!(table.lines().count(), 5);
}

#[test]
fn vimgrep_points_at_the_match_with_an_absolute_path() {
    let dir = corpus_copy("shell-vimgrep");
    let o = zhsearch(&dir, &["search", "5k瓶颈", "--vimgrep", "--exact"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert_eq!(out.lines().count(), 3, "{out}");
    for line in out.lines() {
        let mut f = line.splitn(4, ':');
        let (path, l, c) = (f.next().unwrap(), f.next().unwrap(), f.next().unwrap());
        assert!(Path::new(path).is_absolute(), "{line}");
        let file = std::fs::read_to_string(path).unwrap();
        let text = file.lines().nth(l.parse::<usize>().unwrap() - 1).unwrap();
        let at = &text[c.parse::<usize>().unwrap() - 1..];
        assert!(at.starts_with("5k瓶") || at.starts_with("5k瓶頸"), "{line}");
        assert_eq!(f.next().unwrap(), text);
    }
}

#[test]
fn count_and_files_agree_with_the_full_matches() {
    let dir = corpus_copy("shell-count");
    for q in ["5k瓶颈", "阿里", "瓶颈 -2013年", "不存在的词语组合"] {
        let o = zhsearch(
            &dir,
            &["search", q, "--json", "--exact", "--limit", "10000"],
        );
        let hits = json_lines(&stdout(&o));
        let count = stdout(&zhsearch(&dir, &["search", q, "--count"]));
        assert_eq!(count.trim(), hits.len().to_string(), "{q}");
        let mut files: Vec<String> = hits.iter().map(|h| h["source"].to_string()).collect();
        files.sort();
        files.dedup();
        let o = zhsearch(&dir, &["search", q, "-l"]);
        assert_eq!(
            o.status.code(),
            Some(if hits.is_empty() { 1 } else { 0 }),
            "{q}"
        );
        let mut listed: Vec<String> = stdout(&o).lines().map(|l| format!("\"{l}\"")).collect();
        listed.sort();
        assert_eq!(listed, files, "{q}");
    }
    // `-2013年` is an exclusion, not an option.
    let o = zhsearch(&dir, &["search", "瓶颈", "-2013年", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        json_lines(&stdout(&o))
            .iter()
            .all(|h| !h["text"].as_str().unwrap().contains("2013年"))
    );
}

#[test]
fn absolute_paths_hyperlinks_and_colour_are_as_asked() {
    let dir = corpus_copy("shell-paths");
    let abs = dir.join("corpus").canonicalize().unwrap();
    let out = stdout(&zhsearch(
        &dir,
        &["search", "5k瓶颈", "-n", "1", "--absolute"],
    ));
    assert!(
        out.starts_with(&format!("{}/001_f0acb97a223aa501.txt:53", abs.display())),
        "{out}"
    );
    let args = [
        "search",
        "5k瓶颈",
        "-n",
        "1",
        "--hyperlink",
        "--color",
        "always",
    ];
    let out = stdout(&zhsearch(&dir, &args));
    let link = format!(
        "\x1b]8;;file://{}/001_f0acb97a223aa501.txt\x1b\\",
        abs.display()
    );
    assert!(out.contains(&link) && out.contains("\x1b[31m"), "{out:?}");
    let out = stdout(&zhsearch(
        &dir,
        &["search", "5k瓶颈", "-n", "1", "--hyperlink"],
    ));
    assert!(!out.contains('\x1b'), "piped output is plain: {out:?}");
    let out = stdout(&zhsearch(&dir, &["search", "5k瓶颈", "--color", "never"]));
    assert!(!out.contains('\x1b'));
}

#[test]
fn citations_in_json_are_one_array_and_conversions_say_when_nothing_changes() {
    let dir = corpus_copy("shell-cite");
    let array = stdout(&zhsearch(&dir, &["cite", "5k瓶颈", "--format", "json"]));
    let array: Vec<serde_json::Value> = serde_json::from_str(&array).unwrap();
    let lines = json_lines(&stdout(&zhsearch(
        &dir,
        &["cite", "5k瓶颈", "--format", "jsonl"],
    )));
    assert_eq!(array, lines);
    assert_eq!(array.len(), 3);
    let out = stdout(&zhsearch(
        &dir,
        &["cite", "5k瓶颈", "-n", "1", "--to", "traditional"],
    ));
    assert!(out.contains("already in Traditional script"), "{out}");
    assert_eq!(out.matches("> ").count(), 1, "{out}");
    let out = stdout(&zhsearch(
        &dir,
        &["cite", "5k瓶颈", "-n", "1", "--to", "simplified"],
    ));
    assert!(
        out.contains("> 时间步入2013年") && out.contains("converted to Simplified"),
        "{out}"
    );
}

/// On a terminal, human output ends with which rows were shown and how to page on; a search
/// that finds nothing says so (`script` gives the command a terminal).
#[test]
fn a_person_at_a_terminal_is_told_the_totals_and_the_next_page() {
    let dir = corpus_copy("shell-paging");
    let bin = env!("CARGO_BIN_EXE_zhsearch");
    let run = |args: &str| {
        let o = Command::new("script")
            .args(["-qec", &format!("{bin} --color never {args}"), "/dev/null"])
            .current_dir(&dir)
            .output()
            .expect("script(1) from util-linux");
        String::from_utf8_lossy(&o.stdout).replace('\r', "")
    };
    let out = run("search 瓶颈 -2013年 -n 2");
    assert!(
        out.contains("zhsearch: showing 1–2 of 3; next page: --offset 2"),
        "{out}"
    );
    let out = run("search 瓶颈 -2013年 -n 2 --offset 2");
    assert!(out.contains("zhsearch: showing 3–"), "{out}");
    let out = run("search 不存在的词语组合 --exact");
    assert!(
        out.contains("zhsearch: no passage matches the query"),
        "{out}"
    );
    // Piped, stderr stays quiet.
    let o = zhsearch(&dir, &["search", "瓶颈", "-2013年", "-n", "2"]);
    assert_eq!(stderr(&o), "");
}

/// Every help text fits 80 columns, CJK characters counted as two.
#[test]
fn help_fits_eighty_columns() {
    let dir = scratch("shell-help");
    let commands = [
        "", "index", "search", "cite", "show", "list", "stats", "serve", "mcp",
    ];
    for cmd in commands.iter().chain(&["completions", "man"]) {
        let args: Vec<&str> = [*cmd, "--help"]
            .into_iter()
            .filter(|a| !a.is_empty())
            .collect();
        let out = stdout(&zhsearch(&dir, &args));
        assert!(out.len() > 100, "{cmd}");
        for line in out.lines() {
            let width: usize = line.chars().map(|c| if wide(c) { 2 } else { 1 }).sum();
            assert!(
                width <= 80,
                "zhsearch {cmd} --help: {width} columns: {line}"
            );
        }
    }
}

/// East Asian wide and fullwidth characters (the ranges the help text can hold).
fn wide(c: char) -> bool {
    matches!(c as u32, 0x1100..=0x115F | 0x2E80..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6 | 0x20000..=0x3FFFD)
}

/// Front matter (YAML `---` or Hugo's TOML `+++`, keys in any case) is metadata: its lines
/// rank below the body's and are quoted only when nothing in the body matches.
#[test]
fn front_matter_ranks_below_the_body_and_is_quoted_last() {
    let dir = scratch("shell-front-matter");
    let corpus = dir.join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    let yaml = "---\nTitle: 喝茶笔记\nauthor: 林小雨\ntags: [茶, 旅行]\n---\n\n今天和朋友去喝茶，林小雨说这家的茶最好。\n";
    std::fs::write(corpus.join("a.md"), yaml).unwrap();
    let toml = "+++\ntitle = \"旅行\"\nAuthor = \"王五\"\n+++\n\n旅途中喝到的茶。\n";
    std::fs::write(corpus.join("b.md"), toml).unwrap();
    let o = zhsearch(&dir, &["cite", "林小雨"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "> 今天和朋友去喝茶，林小雨说这家的茶最好。\n\n— 林小雨, 《喝茶笔记》, a.md:7, ¶1\n"
    );
    let hits = json_lines(&stdout(&zhsearch(&dir, &["search", "茶", "--json"])));
    let places: Vec<(String, u64)> = hits
        .iter()
        .map(|h| {
            (
                h["source"].as_str().unwrap().into(),
                h["line_start"].as_u64().unwrap(),
            )
        })
        .collect();
    let body = |p: &(String, u64)| *p == ("a.md".into(), 7) || *p == ("b.md".into(), 6);
    assert!(
        places.len() == 4 && places[..2].iter().all(body),
        "{places:?}"
    );
    let scores: Vec<f64> = hits.iter().map(|h| h["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    // Only front matter matches: then it is quoted.
    let out = stdout(&zhsearch(&dir, &["cite", "王五"]));
    assert!(out.starts_with("> Author = \"王五\"\n"), "{out}");
    let list = json_lines(&stdout(&zhsearch(&dir, &["list", "--json"])));
    assert_eq!(
        (&list[1]["title"], &list[1]["author"]),
        (&"旅行".into(), &"王五".into())
    );
}

/// `author:` and `date:` keep documents by their front matter; `--sort date` puts the newest
/// first; a date that is no date is an error naming the filter.
#[test]
fn author_and_date_filters_and_sorting_by_date() {
    let dir = scratch("shell-dates");
    let corpus = dir.join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    for (name, front, body) in [
        ("a.md", "author: 林小雨\ndate: 2022-05-01", "今天去喝茶。"),
        ("b.md", "author: 王五\ndate: 2023/4/1", "春天的茶最香。"),
        ("c.md", "date: 2024年12月1日", "冬天也喝茶。"),
        ("d.md", "title: 无日期", "没有日期的茶。"),
    ] {
        std::fs::write(corpus.join(name), format!("---\n{front}\n---\n\n{body}\n")).unwrap();
    }
    let files = |args: &[&str]| -> Vec<String> {
        let o = zhsearch(
            &dir,
            &[&["search", "--exact", "-n", "50"][..], args].concat(),
        );
        let mut seen = Vec::new();
        for h in json_lines(&stdout(&o)) {
            let s = h["source"].as_str().unwrap().to_string();
            if !seen.contains(&s) {
                seen.push(s);
            }
        }
        seen
    };
    let json = |q: &str| vec!["茶".to_string(), q.to_string(), "--json".to_string()];
    let run = |q: &str| files(&json(q).iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(run("date:2023"), ["b.md"]);
    let mut recent = run("date:>=2023-04");
    recent.sort();
    assert_eq!(recent, ["b.md", "c.md"]);
    assert_eq!(run("date:<2023"), ["a.md"]);
    assert_eq!(run("author:王五"), ["b.md"]);
    assert!(run("author:张三").is_empty());
    let by_date = files(&["茶", "--json", "--sort", "date"]);
    assert_eq!(by_date, ["c.md", "b.md", "a.md", "d.md"]);
    let o = zhsearch(&dir, &["search", "茶", "date:soon"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("`date:soon` is not a date"),
        "{}",
        stderr(&o)
    );
    // cite and --count take the same filters.
    let out = stdout(&zhsearch(&dir, &["cite", "茶", "author:林小雨"]));
    assert!(out.starts_with("> 今天去喝茶。\n\n— 林小雨"), "{out}");
    assert_eq!(
        stdout(&zhsearch(&dir, &["search", "茶", "date:2024", "--count"])),
        "1\n"
    );
}

/// Sorted by date, full matches still come before partial ones, each newest first.
#[test]
fn sorted_by_date_a_partial_hit_stays_below_the_full_ones() {
    let dir = scratch("sort-date-partial");
    let corpus = dir.join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    let doc = |name: &str, date: &str, text: &str| {
        let body = format!("---\ntitle: {name}\ndate: {date}\n---\n{text}\n");
        std::fs::write(corpus.join(name), body).unwrap();
    };
    doc("old.md", "2020-01-01", "綠茶很好喝");
    doc("new.md", "2024-01-01", "紅茶也好喝");
    doc("mid.md", "2022-01-01", "綠茶是春天的");
    let o = zhsearch(&dir, &["search", "綠茶 好喝", "--json", "--sort", "date"]);
    let hits: Vec<(String, String)> = json_lines(&stdout(&o))
        .iter()
        .map(|h| {
            let s = |k: &str| h[k].as_str().unwrap().to_string();
            (s("source"), s("match"))
        })
        .collect();
    let want = [
        ("old.md", "all"),
        ("new.md", "partial"),
        ("mid.md", "partial"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(hits, want);
}

/// Pages end at row 10,000: deeper ones would rank every row before them.
#[test]
fn pages_past_ten_thousand_rows_are_refused() {
    let dir = corpus_copy("shell-deep");
    let o = zhsearch(&dir, &["search", "的", "--offset", "9995", "-n", "10"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("rows past the first 10000"),
        "{}",
        stderr(&o)
    );
    let o = zhsearch(
        &dir,
        &["search", "的", "--offset", "9990", "-n", "10", "--json"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    // A limit the command could never show is refused as the argument it is.
    let o = zhsearch(&dir, &["search", "的", "--limit", "10001"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("1..=10000"), "{}", stderr(&o));
}

/// A reader that goes away (`zhsearch … | head`) is no error, whatever the output: JSON
/// output failed with serde_json's error around the I/O one, and printed "Broken pipe".
#[test]
fn a_reader_that_goes_away_is_no_error() {
    let dir = corpus_copy("shell-pipe");
    zhsearch(&dir, &["index", "--quiet"]);
    for args in [
        &["cite", "软件", "-n", "20", "--format", "json"][..],
        &["cite", "软件", "-n", "20", "--format", "jsonl"],
        &["cite", "软件", "-n", "20"],
        &["search", "软件", "-n", "20", "--json"],
        &["search", "软件", "-n", "20"],
        &["list"],
    ] {
        // The reading end is closed before the program writes.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = Command::new(env!("CARGO_BIN_EXE_zhsearch"))
            .args(args)
            .current_dir(&dir)
            .env("NO_COLOR", "1")
            .env_remove("ZHSEARCH_INDEX")
            .env_remove("ZHSEARCH_CORPUS")
            .stdout(writer)
            .output()
            .unwrap();
        assert_eq!(stderr(&out), "", "{args:?}");
        assert_eq!(out.status.code(), Some(0), "{args:?}");
    }
}

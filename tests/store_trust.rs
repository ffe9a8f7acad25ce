//! The index folder keeps its promises at the edges: zhsearch writes only into folders that
//! are its own, repairs with `--rebuild --index X` alone, leaves nothing behind when a command
//! fails, drops documents only when told to, and searches indexes it may only read or that sit
//! on a full disk. Every test runs the real binary, as a user would.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{corpus_copy, repo_corpus, scratch, stderr, stdout, zhsearch};

const BIN: &str = env!("CARGO_BIN_EXE_zhsearch");
const MARKER: &str = zhsearch::store::MARKER;

/// Every file in `dir` with its content: what "left untouched" compares. A file that goes
/// while it is read (a build is running) is left out.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    names(dir)
        .into_iter()
        .filter_map(|n| std::fs::read(dir.join(&n)).ok().map(|c| (n, c)))
        .collect()
}

/// The names of the files in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

/// An error: exit status 2 and one line on stderr holding every one of `needles`.
fn assert_error(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    for n in needles {
        assert!(err.contains(n), "{n:?} not in: {err}");
    }
}

fn hits(o: &Output) -> Vec<String> {
    stdout(o).lines().map(str::to_string).collect()
}

/// A corpus big enough that a build takes a while: copies of the bundled articles.
fn big_corpus(dir: &Path, copies: usize) -> PathBuf {
    let c = dir.join("big");
    std::fs::create_dir_all(&c).unwrap();
    for e in std::fs::read_dir(repo_corpus()).unwrap() {
        let e = e.unwrap();
        let text = std::fs::read(e.path()).unwrap();
        for k in 0..copies {
            let name = format!("copy{k:03}-{}", e.file_name().to_string_lossy());
            std::fs::write(c.join(name), &text).unwrap();
        }
    }
    c
}

/// The segment files in an index folder.
fn segment_files(dir: &Path) -> Vec<String> {
    names(dir)
        .into_iter()
        .filter(|n| n.len() > 33 && n.as_bytes()[32] == b'.')
        .collect()
}

/// The segment files that the last commit names.
fn committed_segment_files(dir: &Path) -> Vec<String> {
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("meta.json")).unwrap()).unwrap();
    let ids: Vec<String> = meta["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["segment_id"].as_str().unwrap().replace('-', ""))
        .collect();
    segment_files(dir)
        .into_iter()
        .filter(|n| ids.iter().any(|id| n.starts_with(id.as_str())))
        .collect()
}

#[test]
fn folders_with_files_of_others_are_refused_and_left_untouched() {
    let dir = corpus_copy("foreign");
    // The reproduction: someone's own meta.json, a lock file and a file named like a segment.
    let mine = dir.join("mine");
    std::fs::create_dir_all(&mine).unwrap();
    std::fs::write(mine.join("meta.json"), "{\"mine\": true}").unwrap();
    std::fs::write(mine.join("Cargo.lock"), "# mine").unwrap();
    std::fs::write(mine.join("d41d8cd98f00b204e9800998ecf8427e.jpg"), "jpg").unwrap();
    // A folder holding only hidden files is not empty.
    let hidden = dir.join("hidden");
    std::fs::create_dir_all(&hidden).unwrap();
    std::fs::write(hidden.join(".keep"), "").unwrap();
    std::fs::write(hidden.join(".DS_Store"), "x").unwrap();
    // A Tantivy index that zhsearch did not write (ours, stripped of marker and payload).
    let tantivy = dir.join("tantivy");
    let o = zhsearch(&dir, &["index", "--quiet", "--index", "tantivy"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    std::fs::remove_file(tantivy.join(MARKER)).unwrap();
    let meta = std::fs::read_to_string(tantivy.join("meta.json")).unwrap();
    let mut meta: serde_json::Value = serde_json::from_str(&meta).unwrap();
    meta["payload"] = serde_json::Value::Null;
    std::fs::write(tantivy.join("meta.json"), meta.to_string()).unwrap();
    // Someone's file that happens to have the marker's name.
    let fake = dir.join("fake");
    std::fs::create_dir_all(&fake).unwrap();
    std::fs::write(fake.join(MARKER), "{\"format\": \"mine\"}").unwrap();

    for folder in ["mine", "hidden", "tantivy", "fake"] {
        let before = snapshot(&dir.join(folder));
        for args in [
            vec!["index", "--index", folder],
            vec!["index", "--rebuild", "--index", folder],
            vec![
                "index",
                "--rebuild",
                "--corpus",
                "corpus",
                "--index",
                folder,
            ],
            vec!["search", "阿里", "--index", folder],
            vec!["cite", "阿里", "--index", folder],
        ] {
            let o = zhsearch(&dir, &args);
            assert_error(&o, &[folder, "not a zhsearch index", "--index"]);
            let after = snapshot(&dir.join(folder));
            assert!(after == before, "{folder} changed by {args:?}");
        }
    }
    let o = zhsearch(&dir, &["index", "--index", "mine"]);
    assert_error(&o, &["Cargo.lock", "meta.json"]);
}

#[test]
fn the_marker_is_written_first_and_names_corpus_and_extensions() {
    let dir = corpus_copy("marker");
    let o = zhsearch(&dir, &["index", "--quiet", "--ext", "TXT, .md"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let marker: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index").join(MARKER)).unwrap()).unwrap();
    assert_eq!(marker["format"], "zhsearch-index");
    assert_eq!(marker["schema"], zhsearch::store::index::SCHEMA_VERSION);
    let corpus = std::fs::canonicalize(dir.join("corpus")).unwrap();
    assert_eq!(marker["corpus"], corpus.to_str().unwrap());
    assert_eq!(marker["extensions"], serde_json::json!(["txt", "md"]));

    // An index written before the marker existed is ours, and gets the marker on its next
    // write (not on a search that writes nothing).
    std::fs::remove_file(dir.join("index").join(MARKER)).unwrap();
    assert_eq!(zhsearch(&dir, &["search", "飞天"]).status.code(), Some(0));
    assert!(!dir.join("index").join(MARKER).exists());
    std::fs::write(dir.join("corpus/new.txt"), "一篇新的文章\n").unwrap();
    let o = zhsearch(&dir, &["index", "--quiet"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(dir.join("index").join(MARKER).exists());
}

/// A way to damage an index folder, and its name.
type Damage<'a> = (&'a str, &'a dyn Fn(&Path));

#[test]
fn rebuild_with_only_the_index_repairs_every_damage() {
    let dir = corpus_copy("repair");
    // Not a document of this index: a repair that forgot its extensions would add it.
    std::fs::write(dir.join("corpus/extra.md"), "飞天不在索引里\n").unwrap();
    let idx = dir.join("idx");
    let idx_arg = idx.to_str().unwrap();
    let o = zhsearch(
        &dir,
        &["index", "--quiet", "--ext", "txt", "--index", idx_arg],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let baseline = stdout(&zhsearch(
        &dir,
        &["search", "飞天", "--json", "--index", idx_arg],
    ));
    // From a folder without a corpus: the marker says which corpus to read.
    let elsewhere = scratch("repair-elsewhere");
    let damages: [Damage; 5] = [
        ("meta.json corrupted", &|i| {
            std::fs::write(i.join("meta.json"), "{\"garbage").unwrap()
        }),
        ("meta.json emptied", &|i| {
            std::fs::write(i.join("meta.json"), "").unwrap()
        }),
        ("meta.json deleted", &|i| {
            std::fs::remove_file(i.join("meta.json")).unwrap()
        }),
        ("list deleted", &|i| {
            for n in names(i) {
                if zhsearch::store::manifest::is_list_file(&n) {
                    std::fs::remove_file(i.join(n)).unwrap();
                }
            }
        }),
        ("segment file deleted", &|i| {
            let seg = segment_files(i).into_iter().find(|n| n.ends_with(".term"));
            std::fs::remove_file(i.join(seg.unwrap())).unwrap();
        }),
    ];
    for (what, damage) in damages {
        damage(&idx);
        let o = zhsearch(&elsewhere, &["search", "飞天", "--index", idx_arg]);
        let fix = format!("zhsearch index --rebuild --index {idx_arg}");
        assert_error(&o, &["damaged", &fix]);
        let o = zhsearch(&elsewhere, &["index", "--rebuild", "--index", idx_arg]);
        assert_eq!(o.status.code(), Some(0), "{what}: {}", stderr(&o));
        let o = zhsearch(
            &elsewhere,
            &["search", "飞天", "--json", "--index", idx_arg],
        );
        assert_eq!(o.status.code(), Some(0), "{what}: {}", stderr(&o));
        assert_eq!(stdout(&o), baseline, "{what}");
    }
}

#[test]
fn killed_first_builds_neither_trap_nor_pile_up() {
    let dir = scratch("killed-first");
    let corpus = big_corpus(&dir, 150);
    let idx = dir.join("idx");
    let size_of = |d: &Path| -> u64 { snapshot(d).values().map(|v| v.len() as u64).sum() };
    let mut sizes = Vec::new();
    let mut left: Vec<String> = Vec::new();
    for delay_ms in [0, 50, 150, 300, 600] {
        let mut child = Command::new(BIN)
            .args(["index", "--quiet", "--corpus", "big", "--index", "idx"])
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Killed while it writes segments of its own, whatever the machine's speed.
        let started = std::time::Instant::now();
        let writing = || idx.is_dir() && segment_files(&idx).iter().any(|f| !left.contains(f));
        while !writing() {
            assert!(started.elapsed() < Duration::from_secs(60), "no segment");
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        assert!(!status.success(), "the build ended before {delay_ms} ms");
        sizes.push(size_of(&idx));
        assert!(idx.join(MARKER).exists());
        // What the build killed before left was cleared before this one wrote.
        let now = segment_files(&idx);
        let piled: Vec<&String> = now.iter().filter(|f| left.contains(f)).collect();
        assert!(piled.is_empty(), "after kill at {delay_ms} ms: {piled:?}");
        left = now;
    }
    // A plain search (no --rebuild, no --corpus) finishes the job from the marker.
    let elsewhere = scratch("killed-first-elsewhere");
    let o = zhsearch(
        &elsewhere,
        &["search", "\"5k瓶頸\"", "--index", idx.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(corpus.canonicalize().unwrap().to_str().unwrap()),
        "{}",
        stderr(&o)
    );
    assert_eq!(segment_files(&idx), committed_segment_files(&idx));
    // What a killed build left was cleared by the next one: never more than about one index.
    let whole = size_of(&idx);
    for (i, size) in sizes.iter().enumerate() {
        assert!(
            *size < 2 * whole,
            "after kill {i}: {size} bytes, a whole index {whole}"
        );
    }

    // Killed right after the marker was written: the marker alone is enough.
    let only_marker = dir.join("only-marker");
    std::fs::create_dir_all(&only_marker).unwrap();
    std::fs::copy(idx.join(MARKER), only_marker.join(MARKER)).unwrap();
    let o = zhsearch(
        &elsewhere,
        &["search", "飞天", "--index", only_marker.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn a_failed_command_leaves_no_new_folder_behind() {
    // No corpus here: the search fails and creates no ./index.
    let dir = scratch("no-leftovers");
    let o = zhsearch(&dir, &["search", "阿里"]);
    assert_error(&o, &["corpus", "--corpus"]);
    assert!(names(&dir).is_empty() && !dir.join("index").exists());
    let o = zhsearch(&dir, &["index", "--index", "a/b/idx"]);
    assert_error(&o, &["corpus"]);
    assert!(!dir.join("a").exists());

    // A corpus without documents, a bad --ext: nothing created, an empty folder stays empty.
    std::fs::create_dir_all(dir.join("corpus")).unwrap();
    std::fs::write(dir.join("corpus/notes.org"), "中文").unwrap();
    std::fs::create_dir_all(dir.join("empty")).unwrap();
    for index in ["index", "nested/deeper/idx", "empty"] {
        let o = zhsearch(&dir, &["search", "中文", "--index", index]);
        assert_error(&o, &["no documents"]);
        let o = zhsearch(&dir, &["index", "--ext", "txt,*", "--index", index]);
        assert_error(&o, &["--ext"]);
    }
    assert!(!dir.join("index").exists() && !dir.join("nested").exists());
    assert!(names(&dir.join("empty")).is_empty());
    // A query that is refused is refused before a first build starts.
    for q in ["", "-中文", "source:"] {
        let o = zhsearch(&dir, &["search", "--ext", "org", "--", q]);
        assert_error(&o, &[]);
        assert!(!dir.join("index").exists(), "{q:?} left an index");
    }
    // Then the empty folder takes the index.
    let o = zhsearch(
        &dir,
        &["search", "中文", "--ext", "org", "--index", "empty"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn corpus_and_extensions_change_only_with_rebuild() {
    let dir = corpus_copy("no-silent-drop");
    let corpus = dir.join("corpus");
    std::fs::write(corpus.join("tea.md"), "# 茶\n\n一杯奶茶的故事。\n").unwrap();
    std::fs::write(corpus.join("tea.txt"), "奶茶店开在街角。\n").unwrap();
    let o = zhsearch(&dir, &["index", "--quiet"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let all = hits(&zhsearch(&dir, &["search", "奶茶", "--json"]));
    assert_eq!(all.len(), 2);
    let lists_before = names(&dir.join("index"));

    // search, cite: a differing --ext or --corpus is an error naming both values and the fix.
    let other = dir.join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("a.txt"), "奶茶\n").unwrap();
    let other_abs = other.canonicalize().unwrap();
    let corpus_abs = corpus.canonicalize().unwrap();
    for cmd in ["search", "cite"] {
        let o = zhsearch(&dir, &[cmd, "奶茶", "--ext", "md"]);
        assert_error(
            &o,
            &[".txt, .md, .markdown", "not .md", "--rebuild --ext md"],
        );
        let o = zhsearch(&dir, &[cmd, "奶茶", "--ext", "txt,md"]);
        assert_error(&o, &["not .txt, .md", "--rebuild"]);
        // (The index named: without --index, another corpus gets an index of its own.)
        let o = zhsearch(
            &dir,
            &[cmd, "奶茶", "--corpus", "other", "--index", "index"],
        );
        let (old, new) = (corpus_abs.to_str().unwrap(), other_abs.to_str().unwrap());
        assert_error(&o, &[old, new, "--rebuild --corpus"]);
    }
    for args in [
        vec!["index", "--ext", "md"],
        vec!["index", "--corpus", "other", "--index", "index"],
    ] {
        assert_error(&zhsearch(&dir, &args), &["--rebuild"]);
    }
    // Nothing was dropped: the same hits, the same index files.
    assert_eq!(hits(&zhsearch(&dir, &["search", "奶茶", "--json"])), all);
    assert_eq!(names(&dir.join("index")), lists_before);
    // The same extensions written differently are the same.
    for same in ["markdown, .MD,txt", "txt,md,markdown,txt"] {
        let o = zhsearch(&dir, &["search", "奶茶", "--json", "--ext", same]);
        assert_eq!(o.status.code(), Some(0), "{same}: {}", stderr(&o));
    }

    // With --rebuild: changed, and the report says what went.
    let o = zhsearch(&dir, &["index", "--rebuild", "--ext", "md"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("5 removed"), "{}", stderr(&o));
    let o = zhsearch(&dir, &["search", "奶茶", "--json"]);
    assert_eq!(hits(&o).len(), 1, "{}", stdout(&o));
    // A corpus that moved: said so, with the way to point the index at its new place.
    std::fs::rename(&corpus, dir.join("moved")).unwrap();
    let o = zhsearch(&dir, &["search", "奶茶"]);
    assert_error(&o, &[corpus_abs.to_str().unwrap(), "--rebuild --corpus"]);
    let o = zhsearch(
        &dir,
        &[
            "index",
            "--rebuild",
            "--corpus",
            "other",
            "--ext",
            "txt",
            "--index",
            "index",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("1 removed"), "{}", stderr(&o));
}

#[test]
fn ext_is_trimmed_and_checked() {
    let dir = scratch("ext");
    let corpus = dir.join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    std::fs::write(corpus.join("a.txt"), "甲文件\n").unwrap();
    std::fs::write(corpus.join("b.MD"), "乙文件\n").unwrap();
    std::fs::write(corpus.join("c.org"), "丙文件\n").unwrap();
    // The issue's `'txt, md'` reads both.
    let o = zhsearch(&dir, &["search", "文件", "--json", "--ext", "txt, md"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(hits(&o).len(), 2, "{}", stdout(&o));
    let o = zhsearch(
        &dir,
        &[
            "search",
            "文件",
            "--json",
            "--ext",
            " .MD ,TXT,md",
            "--index",
            "i2",
        ],
    );
    assert_eq!(hits(&o).len(), 2, "{}", stderr(&o));
    for bad in [
        "", ",", "txt,", "t/x", "*", "m d", ".", "tar.gz", "txt;md", "../x",
    ] {
        let o = zhsearch(&dir, &["index", "--ext", bad, "--index", "bad"]);
        assert_error(&o, &["--ext"]);
        assert!(!dir.join("bad").exists(), "{bad:?}");
    }
}

/// Runs the binary as the unprivileged user `nobody`.
fn as_nobody(cwd: &Path, args: &[&str]) -> Output {
    Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .output()
        .expect("setpriv (util-linux) runs the binary as another user")
}

/// A scratch folder any user may read, in the system's temporary folder (the path to Cargo's
/// target folder may be closed to other users); removed when dropped, whatever happened.
struct WorldReadable(PathBuf);

impl Drop for WorldReadable {
    fn drop(&mut self) {
        let _ = Command::new("chmod")
            .arg("-R")
            .arg("u+w")
            .arg(&self.0)
            .status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn world_readable_scratch(name: &str) -> WorldReadable {
    let dir = common::scratch_in(&std::env::temp_dir(), &format!("zhsearch-{name}"));
    std::fs::create_dir_all(dir.join("corpus")).unwrap();
    for e in std::fs::read_dir(repo_corpus()).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.join("corpus").join(e.file_name())).unwrap();
    }
    WorldReadable(dir)
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn chmod_tree(dir: &Path, file_mode: u32, dir_mode: u32) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            chmod_tree(&p, file_mode, dir_mode);
        } else {
            chmod(&p, file_mode);
        }
    }
    chmod(dir, dir_mode);
}

#[test]
fn an_index_another_user_built_is_searchable_read_only() {
    assert_eq!(
        Command::new("id").arg("-u").output().unwrap().stdout,
        b"0\n",
        "this test builds an index as root and searches it as nobody"
    );
    let scratch = world_readable_scratch("read-only");
    let dir = scratch.0.clone();
    let o = zhsearch(&dir, &["index", "--quiet"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let idx = dir.join("index");
    let root_hits = stdout(&zhsearch(&dir, &["search", "5k瓶颈", "--json"]));
    chmod(&dir, 0o755);
    // As built: files readable by all, the folder writable by root only.
    let before = snapshot(&idx);
    let o = as_nobody(&dir, &["search", "5k瓶颈", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), root_hits);
    assert_eq!(stderr(&o), "");
    assert!(snapshot(&idx) == before, "a reader wrote to the index");
    // A folder and files chmod a-w, no lock file: still searchable, nothing written.
    for lock in [".tantivy-meta.lock", ".tantivy-writer.lock"] {
        let _ = std::fs::remove_file(idx.join(lock));
    }
    chmod(&idx.join(".managed.json"), 0o600);
    chmod_tree(&idx, 0o444, 0o555);
    chmod(&idx.join(".managed.json"), 0o400);
    let before = snapshot(&idx);
    for cmd in ["search", "cite"] {
        let o = as_nobody(&dir, &[cmd, "5k瓶颈"]);
        assert_eq!(o.status.code(), Some(0), "{cmd}: {}", stderr(&o));
    }
    assert!(snapshot(&idx) == before, "a reader wrote to the index");

    // The corpus changed but the index cannot be written: one warning, the last commit answers.
    std::fs::write(dir.join("corpus/new.txt"), "只读索引里没有的新句子\n").unwrap();
    chmod(&dir.join("corpus/new.txt"), 0o644);
    let o = as_nobody(&dir, &["search", "5k瓶颈", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), root_hits);
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("warning") && err.contains("read-only"),
        "{err}"
    );
    assert!(err.contains("index"), "{err}");
    // Listing the files or counting them says so too.
    for mode in ["-l", "--count"] {
        let o = as_nobody(&dir, &["search", "5k瓶颈", mode]);
        assert_eq!(o.status.code(), Some(0), "{mode}: {}", stderr(&o));
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{mode}: {err}");
        assert!(
            err.contains("warning") && err.contains("read-only"),
            "{mode}: {err}"
        );
    }
    // Writing is refused, naming the folder.
    let o = as_nobody(&dir, &["index"]);
    assert_error(&o, &["read-only", "index"]);
    assert!(
        snapshot(&idx) == before,
        "a refused writer wrote to the index"
    );
    // A file of the index this user may not read: said so, naming it. Without the marker
    // the index cannot be written but can still be searched.
    chmod_tree(&idx, 0o644, 0o755);
    for name in ["meta.json", MARKER] {
        chmod(&idx.join(name), 0o600);
        let needle = format!("permission denied reading index/{name}");
        assert_error(&as_nobody(&dir, &["index"]), &[&needle]);
        let o = as_nobody(&dir, &["search", "5k瓶颈"]);
        if name == MARKER {
            assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
            assert!(stderr(&o).contains(&needle), "{}", stderr(&o));
        } else {
            assert_error(&o, &[&needle]);
        }
        chmod(&idx.join(name), 0o644);
    }
}

/// A small tmpfs, unmounted when dropped.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(at: &Path, size: &str) -> SmallDisk {
        std::fs::create_dir_all(at).unwrap();
        let o = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "cannot mount a tmpfs to fill (this test needs root): {}",
            stderr(&o)
        );
        SmallDisk(at.to_path_buf())
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_keeps_the_last_commit_and_removes_half_writes() {
    let dir = corpus_copy("disk-full");
    let disk = SmallDisk::mount(&dir.join("disk"), "3m");
    let idx = disk.0.join("idx");
    let idx_arg = idx.to_str().unwrap();
    let o = zhsearch(&dir, &["index", "--quiet", "--index", idx_arg]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let baseline = stdout(&zhsearch(
        &dir,
        &["search", "飞天", "--json", "--index", idx_arg],
    ));
    let before = snapshot(&idx);
    // Far more text than the disk holds.
    let big = big_corpus(&dir, 60);
    for e in std::fs::read_dir(&big).unwrap() {
        let e = e.unwrap();
        std::fs::rename(e.path(), dir.join("corpus").join(e.file_name())).unwrap();
    }
    let o = zhsearch(&dir, &["index", "--index", idx_arg]);
    assert_error(&o, &[idx_arg, "no space left", "the last commit is kept"]);
    // What it half wrote is gone: the files of the last commit, nothing else.
    assert_eq!(names(&idx), before.keys().cloned().collect::<Vec<_>>());
    let after = snapshot(&idx);
    assert!(
        after["meta.json"] == before["meta.json"],
        "the last commit changed"
    );
    // A search that wants to refresh answers from the last commit, with one warning.
    let o = zhsearch(&dir, &["search", "飞天", "--json", "--index", idx_arg]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), baseline);
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("warning") && err.contains("no space left"),
        "{err}"
    );
    // A first build that does not fit leaves no folder behind.
    let o = zhsearch(
        &dir,
        &["index", "--index", disk.0.join("new").to_str().unwrap()],
    );
    assert_error(&o, &["no space left", "there is no commit yet"]);
    assert!(!stderr(&o).contains("last commit"), "{}", stderr(&o));
    assert!(!disk.0.join("new").exists());
}

#[test]
fn a_busy_index_answers_from_its_last_commit_with_a_warning() {
    let dir = corpus_copy("busy");
    let o = zhsearch(&dir, &["index", "--quiet"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let baseline = stdout(&zhsearch(&dir, &["search", "飞天", "--json"]));
    // Another writer holds the index's lock (Tantivy's is a flock on this file).
    let lock = dir.join("index/.tantivy-writer.lock");
    let mut holder = Command::new("flock")
        .args(["-x", "--no-fork"])
        .arg(&lock)
        .args(["sleep", "60"])
        .spawn()
        .expect("flock (util-linux) holds the writer lock");
    let started = std::time::Instant::now();
    while Command::new("flock")
        .arg("-n")
        .arg(&lock)
        .arg("true")
        .status()
        .unwrap()
        .success()
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "lock not taken"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    std::fs::write(dir.join("corpus/new.txt"), "飞天在新文件里\n").unwrap();
    let o = zhsearch(&dir, &["search", "飞天", "--json"]);
    let index = zhsearch(&dir, &["index"]);
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), baseline, "answered from the last commit");
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("warning") && err.contains("another zhsearch process"),
        "{err}"
    );
    assert_error(&index, &["another zhsearch process is writing the index"]);
    // Once the lock is free, the next search takes the change in.
    let o = zhsearch(&dir, &["search", "\"飞天在新文件里\"", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn racing_first_builds_end_in_one_index() {
    let dir = scratch("race");
    let big = big_corpus(&dir, 40);
    std::fs::rename(big, dir.join("corpus")).unwrap();
    for round in 0..3 {
        let _ = std::fs::remove_dir_all(dir.join("index"));
        let racers: Vec<_> = (0..2)
            .map(|_| {
                Command::new(BIN)
                    .args(["search", "\"5k瓶頸\"", "--json", "--limit", "1000"])
                    .current_dir(&dir)
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for r in racers {
            let o = r.wait_with_output().unwrap();
            if o.status.code() != Some(0) {
                assert_error(&o, &["another zhsearch process is writing the index"]);
            }
        }
        let o = zhsearch(&dir, &["search", "\"5k瓶頸\"", "--json", "--limit", "1000"]);
        assert_eq!(o.status.code(), Some(0), "round {round}: {}", stderr(&o));
        assert_eq!(hits(&o).len(), 40 * 3, "round {round}");
    }
    // The temporary marker of a build killed before it was renamed (its process is gone):
    // the folder is taken for empty again.
    let idx = dir.join("stale");
    std::fs::create_dir_all(&idx).unwrap();
    std::fs::write(idx.join(format!(".{MARKER}.4294967.tmp")), "{").unwrap();
    let o = zhsearch(&dir, &["search", "飞天", "--index", "stale"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!names(&idx).iter().any(|n| n.ends_with(".tmp")));
}

#[cfg(unix)]
#[test]
fn a_corpus_swapped_for_a_link_is_never_walked_nor_shown() {
    let dir = scratch("swapped-corpus");
    let outer = dir.join("outer");
    std::fs::create_dir_all(outer.join("c")).unwrap();
    std::fs::write(outer.join("c/a.txt"), "公开内容\n").unwrap();
    let o = zhsearch(
        &dir,
        &["index", "--quiet", "--corpus", "outer/c", "--index", "i"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    std::fs::create_dir_all(dir.join("secret")).unwrap();
    std::fs::write(dir.join("secret/a.txt"), "SECRET外部秘密\n").unwrap();
    // The corpus folder, then a folder above it, replaced by a link.
    std::fs::rename(outer.join("c"), dir.join("c.real")).unwrap();
    std::os::unix::fs::symlink(dir.join("secret"), outer.join("c")).unwrap();
    let swaps: [&dyn Fn(); 2] = [&|| {}, &|| {
        std::fs::remove_file(outer.join("c")).unwrap();
        std::fs::rename(dir.join("c.real"), outer.join("c")).unwrap();
        std::fs::rename(&outer, dir.join("outer.real")).unwrap();
        std::fs::create_dir_all(dir.join("fake/c")).unwrap();
        std::fs::write(dir.join("fake/c/a.txt"), "SECRET外部秘密\n").unwrap();
        std::os::unix::fs::symlink(dir.join("fake"), &outer).unwrap();
    }];
    for swap in swaps {
        swap();
        for args in [
            &["search", "--index", "i", "秘密"][..],
            &["cite", "--index", "i", "秘密"],
            &["search", "--index", "i", "公开", "-C", "1"],
            // Without the freshness check too (an attack found it answering).
            &["search", "--index", "i", "公开", "--no-refresh"],
            &["show", "--index", "i", "a.txt:1"],
            &["index", "--index", "i"],
            &["index", "--rebuild", "--index", "i"],
        ] {
            let o = zhsearch(&dir, args);
            assert!(!stdout(&o).contains("SECRET"), "{args:?}");
            assert_error(
                &o,
                &[
                    "outer/c",
                    "symbolic link",
                    "restore the folder",
                    "--rebuild --corpus",
                ],
            );
        }
    }
}

#[test]
fn a_search_writes_nothing_into_a_read_only_index_even_as_root() {
    let dir = corpus_copy("read-only-root");
    let o = zhsearch(&dir, &["index", "--quiet"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let idx = dir.join("index");
    let listing = || {
        let mut out: Vec<(String, std::time::SystemTime)> = std::fs::read_dir(&idx)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let md = e.metadata().unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    md.modified().unwrap(),
                )
            })
            .collect();
        out.sort();
        (out, std::fs::metadata(&idx).unwrap().modified().unwrap())
    };
    for lock in [".tantivy-meta.lock", ".tantivy-writer.lock"] {
        let _ = std::fs::remove_file(idx.join(lock));
    }
    let run = |args: &[&str]| {
        let o = zhsearch(&dir, args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        o
    };
    chmod_tree(&idx, 0o444, 0o555);
    let before = listing();
    run(&["search", "5k瓶颈"]);
    run(&["search", "5k瓶颈", "-C", "1", "--json"]);
    run(&["cite", "拿命换来的"]);
    run(&["show", "001_f0acb97a223aa501.txt:53"]);
    assert!(listing() == before, "a search wrote into a read-only index");
    // Not even when the corpus changed: the last commit answers, with one warning.
    std::fs::write(dir.join("corpus/new.txt"), "只读索引里没有的新句子\n").unwrap();
    let o = run(&["search", "5k瓶颈"]);
    assert!(stderr(&o).contains("read-only"), "{}", stderr(&o));
    assert!(listing() == before, "a search wrote into a read-only index");
    let o = zhsearch(&dir, &["index"]);
    assert_error(&o, &["read-only", "chmod -R u+w"]);
    assert!(listing() == before, "index wrote into a read-only index");
    chmod_tree(&idx, 0o644, 0o755);
}

#[test]
fn an_index_folder_inside_its_corpus_is_not_indexed() {
    let dir = corpus_copy("index-inside");
    // A folder holding a file of the marker's name that is not ours is the user's: read.
    std::fs::create_dir_all(dir.join("corpus/notes")).unwrap();
    std::fs::write(dir.join("corpus/notes").join(MARKER), "我的笔记\n").unwrap();
    std::fs::write(dir.join("corpus/notes/n.txt"), "笔记正文\n").unwrap();
    let o = zhsearch(
        &dir,
        &[
            "index",
            "--quiet",
            "--ext",
            "txt,json",
            "--index",
            "corpus/idx",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // Another index of ours in the corpus, under any name, is skipped too.
    let o = zhsearch(&dir, &["index", "--quiet", "--index", "corpus/other"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for _ in 0..2 {
        let o = zhsearch(&dir, &["index", "--index", "corpus/idx"]);
        let err = stderr(&o);
        assert!(err.contains("index is up to date"), "{err}");
        assert!(err.contains("6 unchanged"), "{err}");
    }
    let o = zhsearch(
        &dir,
        &["search", "--index", "corpus/idx", "我的笔记", "--json"],
    );
    assert!(
        stdout(&o).contains("notes/zhsearch-index.json"),
        "{}",
        stderr(&o)
    );
    let o = zhsearch(
        &dir,
        &["search", "--index", "corpus/idx", "schema", "--json"],
    );
    assert!(!stdout(&o).contains("idx/"), "{}", stdout(&o));
}

/// From a folder of its own, zhsearch removes only what its index wrote: files of others stay
/// byte for byte through an update and the repair of a damaged index, even when they are
/// named like an index's files.
#[test]
fn files_of_others_survive_updates_and_rebuilds() {
    let dir = corpus_copy("ours-and-theirs");
    let o = zhsearch(&dir, &["index", "--quiet", "--index", "idx"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let idx = dir.join("idx");
    let theirs = [
        ("notes.txt", "mine"),
        ("d41d8cd98f00b204e9800998ecf8427e.jpg", "jpg"),
        ("files.json", "[]"),
        ("files-mine.json", "[]"),
        ("0123456789abcdef0123456789abcdef.txt", "not a segment"),
        (".hidden", "h"),
        ("files-0123456789abcdef.json", "[\"mine\"]"),
        ("ffffffffffffffffffffffffffffffff.store", "mine"),
        ("0123456789abcdef0123456789abcdef.12.del", "mine"),
        (".meta.json.tmp", "mine"),
    ];
    for (name, content) in theirs {
        std::fs::write(idx.join(name), content).unwrap();
    }
    std::fs::write(dir.join("corpus/new.txt"), "新的一篇文章。\n").unwrap();
    let o = zhsearch(&dir, &["index", "--index", "idx"]);
    assert!(stderr(&o).contains("1 added"), "{}", stderr(&o));
    // Damage, then the repair.
    std::fs::write(idx.join("meta.json"), "{\"garbage").unwrap();
    let o = zhsearch(&dir, &["index", "--rebuild", "--quiet", "--index", "idx"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for (name, content) in theirs {
        assert_eq!(std::fs::read_to_string(idx.join(name)).unwrap(), content);
    }
    // What the index wrote is gone: only the segments of the last commit are left.
    let mut segments = segment_files(&idx);
    segments.retain(|n| !theirs.iter().any(|(t, _)| t == n));
    assert_eq!(segments, committed_segment_files(&idx));
    let o = zhsearch(&dir, &["search", "飞天", "--index", "idx"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn a_forged_list_name_is_not_read_outside_the_index() {
    let dir = corpus_copy("forged-list");
    let o = zhsearch(&dir, &["index", "--quiet", "--index", "idx"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let meta_path = dir.join("idx/meta.json");
    let mut meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&meta_path).unwrap()).unwrap();
    let mut head: serde_json::Value =
        serde_json::from_str(meta["payload"].as_str().unwrap()).unwrap();
    let list = head["files_in"].as_str().unwrap().to_string();
    std::fs::copy(dir.join("idx").join(&list), dir.join("victim.json")).unwrap();
    head["files_in"] = "../victim.json".into();
    meta["payload"] = head.to_string().into();
    std::fs::write(&meta_path, meta.to_string()).unwrap();
    let o = zhsearch(
        &dir,
        &["show", "--index", "idx", "000_39e6ba676af43959.txt:1"],
    );
    assert_error(&o, &["idx", "../victim.json", "--rebuild"]);
}

#[test]
fn a_failed_first_build_does_not_claim_a_last_commit() {
    let dir = corpus_copy("no-commit");
    std::fs::write(dir.join("afile"), "x").unwrap();
    std::os::unix::fs::symlink(dir.join("nowhere"), dir.join("dangling")).unwrap();
    for index in ["afile/sub", "dangling"] {
        let o = zhsearch(&dir, &["index", "--index", index]);
        assert_error(&o, &[index]);
        assert!(!stderr(&o).contains("last commit"), "{}", stderr(&o));
    }
    assert!(std::fs::read_link(dir.join("dangling")).is_ok());
    assert!(!dir.join("nowhere").exists());
}

#[test]
fn a_killed_rebuild_leaves_the_marker_naming_what_is_committed() {
    let dir = scratch("killed-rebuild");
    big_corpus(&dir, 150);
    std::fs::write(dir.join("big/extra.md"), "# 另一篇\n正文。\n").unwrap();
    let o = zhsearch(
        &dir,
        &[
            "index", "--quiet", "--corpus", "big", "--ext", "txt", "--index", "idx",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let idx = dir.join("idx");
    let committed = || {
        let meta: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(idx.join("meta.json")).unwrap()).unwrap();
        let head: serde_json::Value =
            serde_json::from_str(meta["payload"].as_str().unwrap()).unwrap();
        head["extensions"].clone()
    };
    let marker = || {
        let m: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(idx.join(MARKER)).unwrap()).unwrap();
        m["extensions"].clone()
    };
    let old = segment_files(&idx);
    let mut child = Command::new(BIN)
        .args([
            "index",
            "--rebuild",
            "--quiet",
            "--ext",
            "txt,md",
            "--index",
            "idx",
        ])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Killed while it writes segments of its own, before its commit.
    let started = std::time::Instant::now();
    while !segment_files(&idx).iter().any(|f| !old.contains(f)) {
        assert!(started.elapsed() < Duration::from_secs(60), "no segment");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    assert!(!child.wait().unwrap().success(), "the rebuild ended first");
    assert_eq!(committed(), serde_json::json!(["txt"]));
    assert_eq!(marker(), committed());
    // Finished, the marker names the new extensions.
    let o = zhsearch(
        &dir,
        &[
            "index",
            "--rebuild",
            "--quiet",
            "--ext",
            "txt,md",
            "--index",
            "idx",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(marker(), serde_json::json!(["txt", "md"]));
    assert_eq!(committed(), serde_json::json!(["txt", "md"]));
}

#[test]
fn searches_during_updates_never_fail_nor_lock() {
    let dir = corpus_copy("search-during-updates");
    let o = zhsearch(&dir, &["index", "--quiet"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let done = std::sync::atomic::AtomicBool::new(false);
    let started = std::time::Instant::now();
    let mut failed: Vec<String> = Vec::new();
    std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            // Every commit replaces segments and collects the files of those it replaced.
            let mut failed = Vec::new();
            for i in 0..20 {
                let text = format!("第{i}次更新的句子。\n").repeat(50);
                std::fs::write(dir.join(format!("corpus/u{}.txt", i % 3)), text).unwrap();
                let o = zhsearch(&dir, &["index", "--quiet"]);
                // A search may be bringing the index up to date itself: busy is fine.
                if o.status.code() != Some(0) && !stderr(&o).contains("another zhsearch") {
                    failed.push(stderr(&o));
                }
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            failed
        });
        while !done.load(std::sync::atomic::Ordering::SeqCst)
            && started.elapsed() < Duration::from_secs(120)
        {
            let o = zhsearch(&dir, &["search", "飞天", "--limit", "1"]);
            if o.status.code() != Some(0) {
                failed.push(stderr(&o));
            }
        }
        failed.extend(writer.join().unwrap());
    });
    assert!(failed.is_empty(), "{failed:?}");
    assert!(!dir.join("index/.tantivy-meta.lock").exists());
}

/// Tantivy's garbage collection deletes what `.managed.json` lists: a list someone edited
/// must not make an update delete their files, inside the index folder or outside it.
#[test]
fn an_edited_managed_list_deletes_no_file_of_others() {
    let dir = corpus_copy("managed-list");
    let o = zhsearch(&dir, &["index", "--quiet", "--index", "idx"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let idx = dir.join("idx");
    let outside = dir.join("victim.txt");
    std::fs::write(&outside, "mine").unwrap();
    std::fs::write(idx.join("notes.txt"), "mine").unwrap();
    let managed = idx.join(".managed.json");
    let mut list: Vec<String> =
        serde_json::from_str(&std::fs::read_to_string(&managed).unwrap()).unwrap();
    list.extend([
        "../victim.txt".to_string(),
        outside.to_str().unwrap().to_string(),
        "notes.txt".to_string(),
    ]);
    std::fs::write(&managed, serde_json::to_string(&list).unwrap()).unwrap();
    // A change makes the next search write a commit, and Tantivy collect garbage.
    std::fs::write(dir.join("corpus/new.txt"), "新的一篇文章。\n").unwrap();
    let o = zhsearch(&dir, &["search", "--index", "idx", "新的一篇"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = zhsearch(&dir, &["index", "--rebuild", "--quiet", "--index", "idx"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "mine");
    assert_eq!(
        std::fs::read_to_string(idx.join("notes.txt")).unwrap(),
        "mine"
    );
}

/// The last document deleted: the index holds none (every command went on refusing "no
/// documents", and `serve` kept answering from the deleted file, an attack found), and a
/// document added later is found.
#[test]
fn the_last_document_deleted_leaves_an_empty_index() {
    let dir = scratch("last-document");
    let corpus = dir.join("c");
    std::fs::create_dir_all(&corpus).unwrap();
    std::fs::write(corpus.join("only.txt"), "唯一的文件饕餮\n").unwrap();
    let index = ["--corpus", "c", "--index", "i"];
    let o = zhsearch(&dir, &[&["index", "--quiet"][..], &index].concat());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    std::fs::remove_file(corpus.join("only.txt")).unwrap();
    let o = zhsearch(&dir, &["search", "饕餮", "--index", "i"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
    assert!(
        stderr(&o).contains("holds no documents any more"),
        "{}",
        stderr(&o)
    );
    for args in [&["index", "--index", "i"][..], &["stats", "--index", "i"]] {
        let o = zhsearch(&dir, args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
    }
    let o = zhsearch(&dir, &["cite", "饕餮", "--index", "i"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    std::fs::write(corpus.join("new.txt"), "新来的文件\n").unwrap();
    let o = zhsearch(&dir, &["search", "新来", "--index", "i"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("new.txt:1"), "{}", stdout(&o));
    // An empty corpus is still no first build.
    std::fs::create_dir_all(dir.join("empty")).unwrap();
    let o = zhsearch(&dir, &["index", "--corpus", "empty", "--index", "j"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!dir.join("j").exists());
}

/// `zhsearch search` with its limit on open files set to `limit` (the hard limit kept) and
/// `held` descriptors already open, as a parent process may leave them.
fn search_with_file_limit(cwd: &Path, limit: u64, held: usize, args: &[&str]) -> Output {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_zhsearch"));
    cmd.current_dir(cwd).args(args);
    // SAFETY: only setrlimit and open (no allocation) run between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            use rustix::fs::{Mode, OFlags, open};
            use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
            let hard = getrlimit(Resource::Nofile).maximum;
            let current = Some(limit);
            setrlimit(
                Resource::Nofile,
                Rlimit {
                    current,
                    maximum: hard,
                },
            )?;
            for _ in 0..held {
                std::mem::forget(open(c"/dev/null", OFlags::RDONLY, Mode::empty())?);
            }
            Ok(())
        });
    }
    cmd.output().unwrap()
}

/// A search reads the index's files in ranges, each holding a file descriptor, but only while
/// half the process's limit on open files is free: past it they are mapped, as Tantivy does. A
/// low limit, or one mostly used already, still answers as no limit does, and running out of
/// descriptors is never called damage (which would send the user to rebuild a sound index) nor
/// a failed write.
#[test]
fn a_low_limit_on_open_files_answers_and_is_not_called_damage() {
    let dir = scratch("file-limit");
    let idx = dir.join("idx");
    let corpus = repo_corpus();
    let (c, i) = (corpus.to_str().unwrap(), idx.to_str().unwrap());
    assert!(
        zhsearch(&dir, &["index", "--corpus", c, "--index", i])
            .status
            .success()
    );
    let args = [
        "search",
        "开源",
        "--index",
        i,
        "--json",
        "--no-refresh",
        "--limit",
        "50",
    ];
    let free = zhsearch(&dir, &args);
    assert!(free.status.success(), "{}", stderr(&free));
    assert!(!segment_files(&idx).is_empty());
    // Low limits, and most of a higher one held already (by the parent).
    for (limit, held) in [
        (5, 0),
        (6, 0),
        (8, 0),
        (10, 0),
        (16, 0),
        (24, 0),
        (64, 0),
        (128, 100),
        (64, 50),
    ] {
        let o = search_with_file_limit(&dir, limit, held, &args);
        assert!(
            o.status.success(),
            "limit {limit}, {held} held: {}",
            stderr(&o)
        );
        assert_eq!(stdout(&o), stdout(&free), "limit {limit}, {held} held");
    }
    // With no descriptor to spare, the error names the limit, not damage.
    let o = search_with_file_limit(&dir, 3, 0, &args);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("too many files are open"), "{err}");
    assert!(
        !err.contains("is damaged") && !err.contains("commit"),
        "{err}"
    );
}

/// Tantivy panics on some damaged files (a postings list whose first bytes were overwritten):
/// a search says on one line that the index is damaged and how to repair it, exit status 2,
/// and the repair works.
#[test]
fn a_postings_file_overwritten_is_damage_not_a_crash() {
    let dir = scratch("postings-zeroed");
    let corpus = corpus_copy("postings-zeroed");
    let idx = dir.join("idx");
    let (c, i) = (corpus.to_str().unwrap(), idx.to_str().unwrap());
    assert!(
        zhsearch(&dir, &["index", "--corpus", c, "--index", i])
            .status
            .success()
    );
    let args = ["search", "阿里巴巴", "--index", i, "--json", "--no-refresh"];
    let sound = zhsearch(&dir, &args);
    assert!(sound.status.success(), "{}", stderr(&sound));
    for name in segment_files(&idx).iter().filter(|n| n.ends_with(".idx")) {
        let path = idx.join(name);
        let mut bytes = std::fs::read(&path).unwrap();
        let n = bytes.len().min(64);
        bytes[..n].fill(0);
        std::fs::write(&path, bytes).unwrap();
    }
    for cmd in [
        &args[..],
        &["cite", "阿里巴巴", "--index", i, "--no-refresh"],
    ] {
        let o = zhsearch(&dir, cmd);
        assert_eq!(o.status.code(), Some(2), "{cmd:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(
            err.contains("is damaged") && err.contains("--rebuild"),
            "{err}"
        );
    }
    let rebuilt = zhsearch(&dir, &["index", "--rebuild", "--index", i]);
    assert!(rebuilt.status.success(), "{}", stderr(&rebuilt));
    assert_eq!(stdout(&zhsearch(&dir, &args)), stdout(&sound));
}

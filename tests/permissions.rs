//! Files and folders the user may not read: skipped with a warning naming them, never a
//! failed search, and picked up once they are readable again (their times may not change: the
//! status change time does). As root every file is readable, so the commands then run as
//! `nobody`, through util-linux's `setpriv`.

mod common;

use std::fs::Permissions;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use common::{scratch, stderr, stdout};

fn run(dir: &Path, args: &[&str]) -> Output {
    let bin = env!("CARGO_BIN_EXE_zhsearch");
    // SAFETY: geteuid has no preconditions and cannot fail.
    let mut c = if unsafe { libc::geteuid() } == 0 {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", bin]);
        c
    } else {
        Command::new(bin)
    };
    c.args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("XDG_CACHE_HOME", dir.join(".cache"))
        .env_remove("ZHSEARCH_INDEX")
        .env_remove("ZHSEARCH_CORPUS")
        .output()
        .expect("setpriv (util-linux) runs the commands as nobody")
}

fn mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, Permissions::from_mode(mode)).unwrap();
}

#[test]
fn unreadable_files_and_folders_are_skipped_then_picked_up() {
    let dir = scratch("permissions");
    let c = dir.join("c");
    let files = [
        ("ok/a.txt", "蜻蜓点水的一句话。"),
        ("ok/pangolin.txt", "权限测试的穿山甲。"),
        ("dd/e/kirin.txt", "麒麟在这里出现。"),
    ];
    for (name, text) in files {
        let path = c.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, format!("{text}\n")).unwrap();
    }
    for d in [&dir, &c, &c.join("ok"), &c.join("dd"), &c.join("dd/e")] {
        mode(d, 0o777);
    }
    let o = run(&dir, &["index", "--corpus", "c", "--index", "idx"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // A folder that may be listed but not entered, and a file that may not be read.
    mode(&c.join("dd/e"), 0o444);
    mode(&c.join("ok/pangolin.txt"), 0o000);
    let o = run(&dir, &["search", "--index", "idx", "蜻蜓", "--exact"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("skipped dd/e/kirin.txt: cannot read it"),
        "{err}"
    );
    assert!(
        err.contains("skipped ok/pangolin.txt: cannot read it"),
        "{err}"
    );
    assert!(stdout(&o).contains("ok/a.txt:1"), "{}", stdout(&o));
    // What the index held of a file it can no longer read is not answered.
    let o = run(
        &dir,
        &["search", "--index", "idx", "麒麟", "--exact", "--count"],
    );
    assert_eq!(stdout(&o).trim(), "0", "{}", stderr(&o));
    // Readable again, with the same sizes and modification times: both are indexed.
    mode(&c.join("dd/e"), 0o777);
    mode(&c.join("ok/pangolin.txt"), 0o666);
    for (q, file) in [
        ("穿山甲", "ok/pangolin.txt:1"),
        ("麒麟", "dd/e/kirin.txt:1"),
    ] {
        let o = run(&dir, &["search", "--index", "idx", q, "--exact"]);
        assert_eq!(o.status.code(), Some(0), "{q}: {}", stderr(&o));
        assert!(stdout(&o).contains(file), "{q}: {}", stdout(&o));
    }
}

/// An index whose file list may not be read: the error names that file, and the index is left
/// as it was (readable again, it answers).
#[test]
fn an_unreadable_file_list_is_named() {
    let dir = scratch("permissions-list");
    let c = dir.join("c");
    std::fs::create_dir_all(&c).unwrap();
    std::fs::write(c.join("a.txt"), "蜻蜓点水的一句话。\n").unwrap();
    for d in [&dir, &c] {
        mode(d, 0o777);
    }
    let o = run(&dir, &["index", "--corpus", "c", "--index", "idx"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let list = std::fs::read_dir(dir.join("idx"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .find(|n| n.starts_with("files-"))
        .expect("a file list");
    mode(&dir.join("idx").join(&list), 0o000);
    let o = run(&dir, &["search", "--index", "idx", "蜻蜓"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!(
            "permission denied reading the index's file list idx/{list}"
        )),
        "{err}"
    );
    mode(&dir.join("idx").join(&list), 0o644);
    let o = run(&dir, &["search", "--index", "idx", "蜻蜓"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// A corpus folder that cannot be read is not an empty corpus: the index keeps its passages
/// (an empty corpus leaves an index of none, see `store_trust.rs`).
#[test]
fn an_unreadable_corpus_is_not_taken_for_an_empty_one() {
    let dir = scratch("unreadable-corpus");
    let c = dir.join("c");
    std::fs::create_dir_all(&c).unwrap();
    std::fs::write(c.join("a.txt"), "文件饕餮\n").unwrap();
    mode(&dir, 0o777);
    mode(&c, 0o777);
    let o = run(&dir, &["index", "--corpus", "c", "--index", "idx"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    mode(&c, 0o000);
    let o = run(&dir, &["search", "饕餮", "--index", "idx"]);
    mode(&c, 0o777);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("Permission denied"), "{}", stderr(&o));
    let o = run(&dir, &["search", "饕餮", "--index", "idx"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("a.txt:1"), "{}", stdout(&o));
}

/// An ignore file that cannot be read is warned about, naming it, and its rules are not
/// applied (before, the `ignore` crate passed over it in silence).
#[test]
fn an_unreadable_ignore_file_is_warned_about() {
    let dir = scratch("unreadable-gitignore");
    let c = dir.join("c");
    std::fs::create_dir_all(&c).unwrap();
    std::fs::write(c.join("a.txt"), "文件饕餮\n").unwrap();
    std::fs::write(c.join("b.txt"), "鸿鹄之志\n").unwrap();
    std::fs::write(c.join(".gitignore"), "b.txt\n").unwrap();
    mode(&dir, 0o777);
    mode(&c, 0o777);
    mode(&c.join(".gitignore"), 0o000);
    let o = run(&dir, &["index", "--corpus", "c", "--index", "idx"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let warned = stderr(&o).lines().any(|l| {
        l.contains("warning") && l.contains("c/.gitignore") && l.contains("Permission denied")
    });
    assert!(warned, "{}", stderr(&o));
    let o = run(&dir, &["search", "鸿鹄", "--index", "idx"]);
    assert!(stdout(&o).contains("b.txt:1"), "{}", stdout(&o));
    mode(&c.join(".gitignore"), 0o644);
    // Readable again: its rules apply, and b.txt leaves the index (no match: exit 1).
    let o = run(&dir, &["search", "鸿鹄", "--index", "idx"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(!stdout(&o).contains("b.txt"), "{}", stdout(&o));
}

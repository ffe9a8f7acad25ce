//! Promises the README makes about what a person sees: colour only when asked for, labels on
//! hits, a silent `--quiet`.

mod common;

use std::process::Command;

use common::{corpus_copy, stderr, stdout, zhsearch};

const ESC: char = '\u{1b}';

fn with_env(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_zhsearch"));
    cmd.args(args).current_dir(dir).env_remove("NO_COLOR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    stdout(&out)
}

#[test]
fn colour_only_when_asked_and_no_color_wins() {
    let dir = corpus_copy("colour");
    assert_eq!(zhsearch(&dir, &["index", "--quiet"]).status.code(), Some(0));
    let args = ["search", "5k瓶颈", "--limit", "1"];
    // Piped output (not a terminal) carries no escape codes.
    assert!(!with_env(&dir, &args, &[]).contains(ESC));
    // Forced colour highlights the match …
    let forced = with_env(&dir, &args, &[("CLICOLOR_FORCE", "1")]);
    assert!(forced.contains(ESC), "{forced}");
    // … unless NO_COLOR says no.
    let off = with_env(&dir, &args, &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]);
    assert!(!off.contains(ESC), "{off}");
}

#[test]
fn regional_variant_hits_say_so_in_the_passage_script() {
    let dir = corpus_copy("variant-label");
    assert_eq!(zhsearch(&dir, &["index", "--quiet"]).status.code(), Some(0));
    let o = zhsearch(&dir, &["search", "伺服器", "--limit", "3"]);
    let out = stdout(&o);
    assert!(out.contains("[regional variant: 服務器]"), "{out}");
}

#[test]
fn quiet_prints_nothing_but_errors() {
    let dir = corpus_copy("quiet");
    let o = zhsearch(&dir, &["index", "--quiet"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stderr(&o), "");
    assert_eq!(stdout(&o), "");
    let o = zhsearch(&dir, &["index"]);
    assert!(stderr(&o).contains("index is up to date"), "{}", stderr(&o));
}

/// Runs `zhsearch ARGS` under a pseudo-terminal (util-linux `script`), as a person would.
fn on_terminal(dir: &std::path::Path, args: &str) -> String {
    let bin = env!("CARGO_BIN_EXE_zhsearch");
    let out = Command::new("script")
        .args(["-qec", &format!("{bin} {args}"), "/dev/null"])
        .current_dir(dir)
        .env("TERM", "xterm")
        .output()
        .expect("util-linux `script` runs a command on a pseudo-terminal");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    stdout(&out)
}

#[test]
fn a_progress_bar_only_on_a_terminal_and_not_when_quiet() {
    let dir = corpus_copy("progress");
    let screen = on_terminal(&dir, "index");
    assert!(screen.contains("indexing ["), "{screen}");
    assert!(screen.contains("4 added"), "{screen}");
    let screen = on_terminal(&dir, "index --rebuild --quiet");
    assert_eq!(screen, "");
    let piped = zhsearch(&dir, &["index", "--rebuild"]);
    assert!(!stderr(&piped).contains("indexing ["), "{}", stderr(&piped));
}

/// A file cannot drive the terminal: control characters in a passage are shown as control
/// pictures in human, Markdown and plain output (JSON keeps them, escaped), and the rest of
/// the output is never lost to an unfinished escape sequence.
#[test]
fn control_characters_of_a_file_are_shown_not_sent() {
    let dir = common::scratch("controls");
    let corpus = dir.join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    std::fs::write(
        corpus.join("a.txt"),
        "终端注入\u{1b}]0;pwned\u{7}测试。第二句。\n",
    )
    .unwrap();
    // A direction override would disguise the name in a citation: the file is skipped.
    std::fs::write(corpus.join("rlo\u{202e}gpj.txt"), "终端注入的另一篇。\n").unwrap();
    let o = zhsearch(&dir, &["index"]);
    assert!(
        stderr(&o).contains("skipped rlo\\u{202e}gpj.txt"),
        "{}",
        stderr(&o)
    );
    for args in [
        vec!["search", "终端注入"],
        vec!["cite", "终端注入"],
        vec!["cite", "终端注入", "--format", "plain"],
        vec!["show", "a.txt:1"],
    ] {
        // As a terminal gets it (colour forced): no escape sequence but our own colours.
        let out = with_env(&dir, &args, &[("CLICOLOR_FORCE", "1")]);
        assert!(
            !out.contains('\u{7}') && !out.contains("\u{1b}]"),
            "{args:?}: {out:?}"
        );
        let out = with_env(&dir, &args, &[]);
        assert!(out.contains("终端注入␛]0;"), "{args:?}: {out}");
        assert!(out.contains("a.txt:1"), "{args:?}: {out}");
    }
    let o = zhsearch(&dir, &["search", "终端注入", "--json"]);
    assert!(
        stdout(&o).contains("\\u001b]0;pwned\\u0007"),
        "{}",
        stdout(&o)
    );
}

//! The README's examples are what the program prints: every `$ zhsearch …` line of a
//! `console` block is run against the bundled corpus and its output compared line for line.

mod common;

use std::path::Path;

use common::{repo_corpus, scratch, zhsearch};

/// One example: the arguments after `zhsearch` and the output the README shows.
struct Example {
    line: usize,
    args: Vec<String>,
    expected: String,
}

/// Splits a command line as a POSIX shell would for the simple quoting the README uses.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.get_or_insert_with(String::new).push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            (None, c) if c.is_whitespace() => words.extend(word.take()),
            (None, c) => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    words
}

fn examples(readme: &str) -> Vec<Example> {
    let mut out: Vec<Example> = Vec::new();
    let mut in_console = false;
    for (n, line) in readme.lines().enumerate() {
        if line.starts_with("```") {
            in_console = line == "```console";
            continue;
        }
        if !in_console {
            continue;
        }
        if let Some(cmd) = line.strip_prefix("$ zhsearch ") {
            out.push(Example {
                line: n + 1,
                args: shell_words(cmd),
                expected: String::new(),
            });
        } else if let Some(ex) = out.last_mut() {
            ex.expected.push_str(line);
            ex.expected.push('\n');
        }
    }
    out
}

#[test]
fn shell_words_follow_the_readme_quoting() {
    assert_eq!(
        shell_words(r#"search '"开源不是慈善"' --limit 2"#),
        vec!["search", "\"开源不是慈善\"", "--limit", "2"]
    );
    assert_eq!(shell_words("cite a  b"), vec!["cite", "a", "b"]);
}

#[test]
fn every_console_example_prints_what_the_readme_shows() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let examples = examples(&readme);
    assert!(
        examples.len() >= 3,
        "the README's console examples were not found"
    );
    let dir = scratch("readme");
    let index = dir.join("index");
    let built = zhsearch(
        &dir,
        &[
            "index",
            "--quiet",
            "--corpus",
            repo_corpus().to_str().unwrap(),
            "--index",
            index.to_str().unwrap(),
        ],
    );
    assert!(built.status.success(), "{built:?}");
    for ex in &examples {
        let mut args: Vec<&str> = ex.args.iter().map(String::as_str).collect();
        args.extend(["--index", index.to_str().unwrap()]);
        let out = zhsearch(&dir, &args);
        let printed = String::from_utf8_lossy(&out.stdout);
        // The README leaves out the blank line that ends the last hit.
        assert_eq!(
            printed.trim_end(),
            ex.expected.trim_end(),
            "README.md line {}: `zhsearch {}` prints something else (stderr: {})",
            ex.line,
            ex.args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

//! Punctuation and symbols are searched literally ("any visible string findable, down to one
//! character"): a phrase with marks inside, a query made only of marks, an exclusion with
//! marks each find exactly the passages that hold them; a passage with other characters
//! where the query has marks is no full match.

mod common;

use std::collections::BTreeSet;

use common::{lines_of, repo_corpus, scratch, search};
use zhsearch::model::{Hit, MatchKind};
use zhsearch::search::{Searcher, query};
use zhsearch::store::{self, UpdateOptions};
use zhsearch::text::analysis::normalize;

/// Punctuation and symbols: neither a letter or digit of any script nor whitespace.
fn is_mark(c: char) -> bool {
    !c.is_alphanumeric() && !c.is_whitespace()
}

fn full(hits: Vec<Hit>) -> BTreeSet<(String, usize)> {
    let full: Vec<Hit> = hits
        .into_iter()
        .filter(|h| h.match_kind == MatchKind::All)
        .collect();
    lines_of(&full).into_iter().collect()
}

fn searcher_of(files: &[(&str, &str)]) -> Searcher {
    let corpus = scratch("punct-corpus");
    for (name, text) in files {
        std::fs::write(corpus.join(name), text).unwrap();
    }
    let index = scratch("punct-index");
    store::update(&index, Some(&corpus), &UpdateOptions::default(), None, &()).unwrap();
    Searcher::open(&index).unwrap()
}

fn found(s: &Searcher, q: &str) -> BTreeSet<(String, usize)> {
    full(s.search(&query::parse(q).unwrap(), 1000, 0).unwrap())
}

fn lines(v: &[(&str, usize)]) -> BTreeSet<(String, usize)> {
    v.iter().map(|(f, l)| (f.to_string(), *l)).collect()
}

#[test]
fn marks_inside_around_and_alone_match_exactly() {
    let s = searcher_of(&[(
        "a.md",
        "突破「5k瓶颈」了。\n\n突破X5k瓶颈Y了\n\n价格降到 0.4 元，\n\n价格降到 0a4 元\n\n\
         他说：「」是空的\n\n他说：「x」不空\n\n等了——很久……\n\n等了—很久…\n\n真的!?\n\n真的?!\n",
    )]);
    let a = |l: &[usize]| lines(&l.iter().map(|&n| ("a.md", n)).collect::<Vec<_>>());
    assert_eq!(found(&s, "\"突破「5k瓶颈」\""), a(&[1]));
    let bare = s
        .search(&query::parse("突破「5k瓶颈」").unwrap(), 10, 0)
        .unwrap();
    assert_eq!(lines_of(&bare[..1]), vec![("a.md".to_string(), 1)]);
    assert_eq!(found(&s, "\"突破「5K瓶頸」\""), a(&[1]));
    assert_eq!(found(&s, "\"0.4元\""), a(&[5]));
    assert_eq!(found(&s, "「」"), a(&[9]));
    assert_eq!(found(&s, "「"), a(&[1, 9, 11]));
    assert_eq!(found(&s, "——"), a(&[13]));
    assert_eq!(found(&s, "……"), a(&[13]));
    assert_eq!(found(&s, "—"), a(&[13, 15]));
    assert_eq!(found(&s, "!?"), a(&[17]));
    assert_eq!(found(&s, "\"?!\""), a(&[19]));
    // A mark at either end still counts.
    assert_eq!(found(&s, "\"瓶颈」了\""), a(&[1]));
    assert_eq!(found(&s, "\"：「x\""), a(&[11]));
    // Exclusions with marks exclude exactly the passages that hold them.
    assert_eq!(found(&s, "突破 -\"「5k\""), a(&[3]));
    assert_eq!(found(&s, "价格 -\"0.4元\""), a(&[7]));
    assert_eq!(found(&s, "真的 -\"!?\""), a(&[19]));
    assert_eq!(found(&s, "他说 -「"), BTreeSet::new());
}

/// A line with Markdown or HTML syntax in it, whose visible text is not its text.
fn is_markup(line: &str) -> bool {
    line.contains(|c| "[]()*>#`_~<|!-".contains(c))
}

/// Phrases around the punctuation of the bundled corpus (Chinese marks: ASCII ones are
/// Markdown's too) return exactly the passages whose normalised line contains them,
/// whitespace aside, as a substring scan does (on the lines without markup, whose text is
/// what a reader sees).
#[test]
fn phrases_with_marks_match_a_substring_scan() {
    let mut files: Vec<(String, Vec<String>)> = Vec::new();
    for e in std::fs::read_dir(repo_corpus()).unwrap() {
        let e = e.unwrap();
        let text = std::fs::read_to_string(e.path()).unwrap();
        let name = e.file_name().to_string_lossy().to_string();
        files.push((name, text.split('\n').map(str::to_string).collect()));
    }
    files.sort();
    let mut queries = BTreeSet::new();
    let mut k = 0usize;
    for (_, lines) in &files {
        for line in lines {
            let chars: Vec<char> = normalize(line)
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            for (i, _) in chars
                .iter()
                .enumerate()
                .filter(|(_, c)| is_mark(**c) && !c.is_ascii())
            {
                k += 1;
                let (before, after) = (k % 3, (k / 3) % 4);
                let window: String = chars
                    [i.saturating_sub(before)..chars.len().min(i + 1 + after)]
                    .iter()
                    .collect();
                queries.insert(window);
            }
        }
    }
    for q in ["——", "……", "《", "》", "，", "。"] {
        queries.insert(q.to_string());
    }
    assert!(queries.len() > 400, "only {} sample phrases", queries.len());
    // Lines of markup and front matter are left out on both sides.
    let markup: BTreeSet<(String, usize)> = files
        .iter()
        .flat_map(|(name, lines)| {
            // Front matter too: only its values are text.
            let fence = lines.iter().skip(1).position(|l| l.trim() == "---");
            let front = if lines[0].trim() == "---" {
                fence.map_or(0, |f| f + 2)
            } else {
                0
            };
            let markup = lines
                .iter()
                .enumerate()
                .filter(move |(i, l)| *i < front || is_markup(l));
            markup.map(|(i, _)| (name.clone(), i + 1))
        })
        .collect();
    // A quote mark (the query language reads curly ones too) cannot be inside a phrase.
    for q in queries.iter().filter(|q| !q.contains(['"', '“', '”'])) {
        let (mut expected, nq) = (BTreeSet::new(), normalize(q));
        for (name, lines) in &files {
            for (i, line) in lines.iter().enumerate() {
                if markup.contains(&(name.clone(), i + 1)) {
                    continue;
                }
                let squeezed: String = normalize(line).split_whitespace().collect();
                if squeezed.contains(&nq) {
                    expected.insert((name.clone(), i + 1));
                }
            }
        }
        let got: BTreeSet<_> = full(search(&format!("\"{q}\""), 10_000))
            .into_iter()
            .filter(|(name, line)| !markup.contains(&(name.clone(), *line)))
            .collect();
        let missing: Vec<_> = expected.difference(&got).collect();
        let extra: Vec<_> = got.difference(&expected).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "phrase {q}: missing {missing:?}, extra {extra:?}"
        );
    }
}

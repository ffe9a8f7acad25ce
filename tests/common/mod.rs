//! Helpers shared by the integration tests: the bundled corpus, scratch folders, the binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use zhsearch::model::Hit;
use zhsearch::search::Searcher;
use zhsearch::search::query;
use zhsearch::store::{self, UpdateOptions};

pub fn repo_corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus")
}

/// A fresh, empty folder under Cargo's scratch space for integration tests.
pub fn scratch(name: &str) -> PathBuf {
    static SWEPT: std::sync::Once = std::sync::Once::new();
    let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
    SWEPT.call_once(|| sweep(base));
    scratch_in(base, name)
}

/// Removes the scratch folders of test processes that have ended (`NAME-PID-NANOS`, the PID
/// no longer running), so that runs do not pile up gigabytes of indexes under `target/tmp`.
fn sweep(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let mut parts = name.to_str().unwrap_or("").rsplit('-');
        let (Some(nanos), Some(pid)) = (parts.next(), parts.next()) else {
            continue;
        };
        let ended = nanos.parse::<u128>().is_ok()
            && pid.parse::<u32>().is_ok_and(|p| {
                p != std::process::id() && !Path::new(&format!("/proc/{p}")).exists()
            });
        if ended {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// A fresh, empty folder in `base` (e.g. the system's temporary folder, which other users
/// can reach when Cargo's scratch space is under a private home).
pub fn scratch_in(base: &Path, name: &str) -> PathBuf {
    let dir = base.join(format!(
        "{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// An index of the bundled corpus, built once per test binary.
pub fn corpus_searcher() -> &'static Searcher {
    static S: OnceLock<Searcher> = OnceLock::new();
    S.get_or_init(|| {
        let dir = scratch("bundled-index");
        store::update(
            &dir,
            Some(&repo_corpus()),
            &UpdateOptions::default(),
            None,
            &(),
        )
        .unwrap();
        Searcher::open(&dir).unwrap()
    })
}

pub fn search(q: &str, limit: usize) -> Vec<Hit> {
    corpus_searcher()
        .search(&query::parse(q).unwrap(), limit, 0)
        .unwrap()
}

pub fn lines_of(hits: &[Hit]) -> Vec<(String, usize)> {
    hits.iter()
        .map(|h| (h.source.clone(), h.line_start))
        .collect()
}

/// Runs the zhsearch binary in `cwd`.
pub fn zhsearch(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zhsearch"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        // An index of its own for a named corpus goes here, not into the user's cache.
        .env("XDG_CACHE_HOME", cwd.join(".cache"))
        .env_remove("ZHSEARCH_INDEX")
        .env_remove("ZHSEARCH_CORPUS")
        .output()
        .unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Copies the bundled corpus into a scratch folder.
pub fn corpus_copy(name: &str) -> PathBuf {
    let dir = scratch(name);
    let corpus = dir.join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    for e in std::fs::read_dir(repo_corpus()).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), corpus.join(e.file_name())).unwrap();
    }
    dir
}

/// Builds an index of a crafted corpus (`(relative path, content)` pairs).
pub fn crafted(name: &str, files: &[(&str, &str)]) -> Searcher {
    let dir = scratch(name);
    let corpus = dir.join("corpus");
    for (rel, content) in files {
        let path = corpus.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    store::update(
        &dir.join("index"),
        Some(&corpus),
        &UpdateOptions::default(),
        None,
        &(),
    )
    .unwrap();
    Searcher::open(&dir.join("index")).unwrap()
}

pub fn find(s: &Searcher, q: &str) -> Vec<Hit> {
    s.search(&query::parse(q).unwrap(), 1000, 0).unwrap()
}

/// JSON Lines output, one object per line.
pub fn json_lines(out: &str) -> Vec<serde_json::Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

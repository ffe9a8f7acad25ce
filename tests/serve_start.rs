//! How `serve` starts on an index that is already there: one that cannot be written now
//! (busy) answers as it is, through any number of requests; one of another corpus, or whose
//! corpus is gone, is refused (exit 2) rather than served.

mod common;
mod served;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use served::Served;

/// Holds the index's writer lock (as another `zhsearch index` would) while alive.
struct Locked(std::process::Child);

impl Locked {
    fn hold(index: &std::path::Path) -> Locked {
        let lock = index.join(".tantivy-writer.lock");
        let child = Command::new("flock")
            .arg(&lock)
            .args(["sleep", "60"])
            .stdin(Stdio::null())
            .spawn()
            .expect("flock(1) from util-linux");
        // flock creates the file when it holds the lock.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !lock.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(100));
        Locked(child)
    }
}

impl Drop for Locked {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_busy_index_is_served_as_it_is_through_many_requests() {
    let dir = common::corpus_copy("serve-busy");
    let o = common::zhsearch(&dir, &["index", "--quiet"]);
    assert_eq!(o.status.code(), Some(0), "{}", common::stderr(&o));
    std::fs::write(dir.join("corpus/new.txt"), "新加的文件。\n").unwrap();
    let _lock = Locked::hold(&dir.join("index"));
    let s = Served::launch(&dir, &["--bind", "127.0.0.1:0"]);
    s.wait_for("the index was not updated");
    for _ in 0..20 {
        let (code, _, body) = s.get("/api/search?q=5k%E7%93%B6%E9%A2%88");
        assert_eq!(code, 200, "{body}");
    }
    s.stop("TERM");
}

#[test]
fn an_index_of_another_corpus_or_of_a_corpus_gone_is_not_served() {
    let dir = common::corpus_copy("serve-other");
    let o = common::zhsearch(&dir, &["index", "--quiet"]);
    assert_eq!(o.status.code(), Some(0), "{}", common::stderr(&o));
    let other = dir.join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("a.txt"), "别的文件。\n").unwrap();
    let run = |corpus: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_zhsearch"))
            .args(["serve", "--bind", "127.0.0.1:0", "--corpus"])
            .arg(corpus)
            .arg("--index")
            .arg(dir.join("index"))
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let o = run(&other);
    assert_eq!(o.status.code(), Some(2), "{}", common::stderr(&o));
    assert!(
        common::stderr(&o).contains("--rebuild"),
        "{}",
        common::stderr(&o)
    );
    std::fs::rename(dir.join("corpus"), dir.join("moved")).unwrap();
    let o = run(&dir.join("corpus"));
    assert_eq!(o.status.code(), Some(2), "{}", common::stderr(&o));
}

#[test]
fn deep_pages_are_refused_over_http() {
    let dir = common::corpus_copy("serve-deep");
    let s = Served::start(&dir, "127.0.0.1:0");
    let (code, _, body) = s.get("/api/search?q=%E7%9A%84&offset=999000&limit=1000");
    assert_eq!(code, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("10000"), "{body}");
    // A parameter given twice is a mistake said, not one value silently picked.
    let (code, _, body) = s.get("/api/search?q=a&q=b");
    assert_eq!(code, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("more than once"),
        "{body}"
    );
    assert_eq!(s.get("/api/search?q=a&source=*.txt&source=*.md").0, 200);
    s.stop("TERM");
}

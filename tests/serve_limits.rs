//! `zhsearch serve` under pressure, over real sockets: slow and idle clients, the connection
//! bound, the time limit, the first build in the background, CORS, 500 requests at once.

mod common;
mod served;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use served::{Served, enc, error_of, generate_corpus, request};

/// How long the server gives a client to send its request's head (`serve::HEADER_TIMEOUT`).
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// A search that must answer 200 within `within`.
fn quick_search(s: &Served, within: Duration) {
    let t = Instant::now();
    let page = s.json(&format!("/api/search?q={}&limit=3", enc("5k瓶颈")));
    assert!(!page["hits"].as_array().unwrap().is_empty());
    assert!(t.elapsed() < within, "a search took {:?}", t.elapsed());
}

/// Waits until the server closes `stream` (a read gives 0 bytes or an error); how long it took.
fn closed_after(stream: &mut TcpStream, started: Instant) -> Duration {
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut buf = [0u8; 512];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return started.elapsed(),
            Ok(_) => {}
        }
    }
}

#[test]
fn a_slow_client_is_cut_off_and_holds_no_worker() {
    let dir = common::corpus_copy("serve-slow");
    let s = Served::start(&dir, "127.0.0.1:0");
    // More slow clients than engine calls allowed at once: each sends a header line a second.
    let started = Instant::now();
    let mut slow: Vec<TcpStream> = (0..40)
        .map(|_| {
            let mut c = TcpStream::connect(&s.addr).unwrap();
            c.write_all(b"GET /api/status HTTP/1.1\r\n").unwrap();
            c
        })
        .collect();
    let dripping = std::thread::spawn({
        let mut clients: Vec<TcpStream> = slow.iter().map(|c| c.try_clone().unwrap()).collect();
        move || {
            for _ in 0..12 {
                std::thread::sleep(Duration::from_millis(500));
                for c in &mut clients {
                    let _ = c.write_all(b"X-Slow: 1\r\n");
                }
            }
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..5 {
        quick_search(&s, Duration::from_secs(1));
    }
    for c in &mut slow {
        let after = closed_after(c, started);
        assert!(
            after >= HEADER_TIMEOUT - Duration::from_millis(500)
                && after < HEADER_TIMEOUT + Duration::from_secs(3),
            "a slow client was cut off after {after:?}"
        );
    }
    dripping.join().unwrap();
    quick_search(&s, Duration::from_secs(1));
    s.stop("TERM");
}

#[test]
fn idle_connections_are_bounded_and_time_out() {
    let dir = common::corpus_copy("serve-idle");
    let s = Served::start(&dir, "127.0.0.1:0");
    let started = Instant::now();
    // 900 connections that never send anything hold no worker: a search still answers at once.
    let mut idle: Vec<TcpStream> = (0..900)
        .map(|_| TcpStream::connect(&s.addr).unwrap())
        .collect();
    quick_search(&s, Duration::from_secs(1));
    // Past the bound (1024 open), a connection is answered 503 (or closed) at once.
    let mut over: Vec<TcpStream> = (0..200)
        .map(|_| TcpStream::connect(&s.addr).unwrap())
        .collect();
    let refused_at = Instant::now();
    let mut answer = String::new();
    let last = over.last_mut().unwrap();
    last.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let read = last.read_to_string(&mut answer);
    assert!(
        refused_at.elapsed() < Duration::from_secs(2),
        "a connection over the bound was kept open: {read:?}"
    );
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 503"),
        "{answer}"
    );
    let threads = s.proc_status("Threads:");
    assert!(threads < 64, "{threads} threads: one a connection?");
    // The idle ones are closed once they have not sent a request within the header timeout.
    for c in &mut idle {
        let after = closed_after(c, started);
        assert!(
            after < HEADER_TIMEOUT + Duration::from_secs(10),
            "an idle connection was kept {after:?}"
        );
    }
    drop(over);
    quick_search(&s, Duration::from_secs(1));
    s.stop("TERM");
}

#[test]
fn a_request_over_its_time_limit_is_answered_503_and_work_stays_bounded() {
    let dir = common::scratch("serve-time");
    generate_corpus(&dir, 200, 40);
    let s = Served::launch(&dir, &["--bind", "127.0.0.1:0", "--time-limit-ms", "1"]);
    s.wait_for("zhsearch: index ready");
    let heavy = format!(
        "/api/search?q={}&limit=1000&context=10",
        enc("钉子 OR 春风 OR 明月")
    );
    let threads: Vec<_> = (0..100)
        .map(|_| {
            let addr = s.addr.clone();
            let raw = format!("GET {heavy} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
            std::thread::spawn(move || request(&addr, &raw))
        })
        .collect();
    for t in threads {
        let (code, _, body) = t.join().unwrap();
        assert_eq!(code, 503, "{body}");
        assert!(body["error"].as_str().unwrap().contains("took over 1 ms"));
    }
    // 100 abandoned searches ran at most a few at once, each on a pooled thread.
    let threads = s.proc_status("Threads:");
    assert!(threads < 40, "{threads} threads");
    s.stop("TERM");
}

#[test]
fn the_first_build_runs_while_the_server_answers() {
    let dir = common::scratch("serve-build");
    let (files, paragraphs) = (2500, 40);
    generate_corpus(&dir, files, paragraphs);
    let s = Served::launch(&dir, &["--bind", "127.0.0.1:0"]);
    let started = Instant::now();
    let q = format!("/api/search?q={}", enc("钉子第7号"));
    let (code, error) = error_of(&s, &q);
    assert_eq!(code, 503, "{error}");
    assert!(error.contains("the index is being built"), "{error}");
    assert_eq!(error_of(&s, "/api/show?loc=gen00000.txt:1").0, 503);
    let mut seen = None;
    loop {
        let status = s.json("/api/status");
        if status["ready"] == true {
            break;
        }
        assert_eq!(status["updating"], true, "{status}");
        assert!(status["documents"].is_null());
        if let Some(done) = status["progress"]["done"].as_u64() {
            assert_eq!(status["progress"]["total"], files);
            seen = Some(done);
        }
        assert!(started.elapsed() < Duration::from_secs(120));
        std::thread::sleep(Duration::from_millis(20));
    }
    let built_in = started.elapsed();
    // The build was seen under way (503s above, progress here); how long it took depends on
    // the machine.
    assert!(seen.is_some(), "no progress seen in {built_in:?}");
    let status = s.json("/api/status");
    assert_eq!(status["documents"], files);
    assert_eq!(status["passages"], files * paragraphs);
    assert!(status["index_bytes"].as_u64().unwrap() > 1_000_000);
    assert!(status["last_update"]["unix_time"].as_u64().unwrap() > 1_700_000_000);
    assert!(status["progress"].is_null());
    assert_eq!(s.json(&q)["hits"][0]["source"], "gen00000.txt");
    s.stop("TERM");

    // With an index there, searches answer at once while it is brought up to date.
    generate_corpus(&dir, files + 300, paragraphs);
    let s = Served::launch(&dir, &["--bind", "127.0.0.1:0"]);
    assert_eq!(s.json(&q)["hits"][0]["source"], "gen00000.txt");
    let status = s.json("/api/status");
    assert_eq!(status["ready"], true);
    assert_eq!(status["updating"], true, "{status}");
    s.wait_for("zhsearch: index ready");
    assert_eq!(s.json("/api/status")["documents"], files + 300);
    s.stop("INT");
}

#[test]
fn cors_headers_go_only_to_the_allowed_origins() {
    let dir = common::corpus_copy("serve-cors");
    let s = Served::launch(
        &dir,
        &[
            "--bind",
            "127.0.0.1:0",
            "--allow-origin",
            "http://localhost:3000",
            "--allow-origin",
            "https://notes.example",
        ],
    );
    s.wait_for("zhsearch: index ready");
    let ask = |method: &str, origin: &str| {
        let raw = format!(
            "{method} /api/status HTTP/1.0\r\nHost: {}\r\nOrigin: {origin}\r\nAccess-Control-Request-Method: GET\r\n\r\n",
            s.addr
        );
        let (code, head, _) = request(&s.addr, &raw);
        (code, head.to_ascii_lowercase())
    };
    for origin in ["http://localhost:3000", "https://notes.example"] {
        let (code, head) = ask("GET", origin);
        assert_eq!(code, 200);
        assert!(
            head.contains(&format!("access-control-allow-origin: {origin}")),
            "{head}"
        );
        assert!(head.contains("vary: origin"), "{head}");
        let (code, head) = ask("OPTIONS", origin);
        assert_eq!(code, 204);
        assert!(head.contains("access-control-allow-methods: get"), "{head}");
        assert!(head.contains(&format!("access-control-allow-origin: {origin}")));
    }
    for origin in [
        "http://localhost:3001",
        "https://notes.example.evil",
        "http://notes.example",
        "null",
    ] {
        let (code, head) = ask("GET", origin);
        assert_eq!(code, 200);
        assert!(!head.contains("access-control"), "{origin}: {head}");
        let (code, head) = ask("OPTIONS", origin);
        assert_eq!(code, 405);
        assert!(!head.contains("access-control"), "{origin}: {head}");
    }
    s.stop("TERM");
}

#[test]
fn five_hundred_simultaneous_searches_all_answer() {
    let dir = common::corpus_copy("serve-500");
    let s = Served::start(&dir, "127.0.0.1:0");
    let queries = ["5k瓶颈", "钉", "开源", "服务器", "拿命换来的"];
    let gate = Arc::new(Barrier::new(500));
    let threads: Vec<_> = (0..500)
        .map(|i| {
            let addr = s.addr.clone();
            let gate = gate.clone();
            let q = enc(queries[i % queries.len()]);
            std::thread::spawn(move || {
                let raw = format!("GET /api/search?q={q}&limit=5 HTTP/1.0\r\nHost: {addr}\r\n\r\n");
                let mut stream = TcpStream::connect(&addr).unwrap();
                gate.wait();
                stream.write_all(raw.as_bytes()).unwrap();
                let mut answer = String::new();
                stream.read_to_string(&mut answer).unwrap();
                answer
            })
        })
        .collect();
    for t in threads {
        let answer = t.join().unwrap();
        assert!(answer.starts_with("HTTP/1.0 200"), "{answer:.200}");
        let body = answer.split_once("\r\n\r\n").unwrap().1;
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert!(body["hits"].is_array());
    }
    s.stop("TERM");
}

#[test]
fn a_first_build_that_fails_stops_the_server() {
    let dir = common::scratch("serve-nocorpus");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_zhsearch"))
        .args(["serve", "--bind", "127.0.0.1:0", "--corpus"])
        .arg(dir.join("corpus"))
        .arg("--index")
        .arg(dir.join("index"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = common::stderr(&out);
    assert!(err.contains("zhsearch: serving http://"), "{err}");
    assert!(err.contains("cannot read corpus folder"), "{err}");
    assert!(!err.contains("stopped"), "{err}");
}

#[test]
fn a_stop_during_the_first_build_leaves_an_index_that_builds_next_time() {
    let dir = common::scratch("serve-stop-build");
    let files = 2500;
    generate_corpus(&dir, files, 40);
    let s = Served::launch(&dir, &["--bind", "127.0.0.1:0"]);
    // Stopped as soon as some files are read, well before the commit.
    let started = Instant::now();
    while s.json("/api/status")["progress"]["done"]
        .as_u64()
        .unwrap_or(0)
        == 0
    {
        assert!(started.elapsed() < Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(s.json("/api/status")["ready"], false);
    let stopping = Instant::now();
    s.stop("TERM");
    assert!(stopping.elapsed() < Duration::from_secs(3));
    let s = Served::launch(&dir, &["--bind", "127.0.0.1:0"]);
    s.wait_for("zhsearch: index ready");
    let status = s.json("/api/status");
    assert_eq!(status["documents"], files, "{status}");
    assert_eq!(status["passages"], files * 40);
    s.stop("TERM");
}

#[test]
fn a_client_that_stops_reading_is_cut_off() {
    let dir = common::scratch("serve-noread");
    generate_corpus(&dir, 200, 40);
    let s = Served::start(&dir, "127.0.0.1:0");
    assert_eq!(s.json("/api/status")["connections"], 1);
    // Twenty big answers asked for at once, none read: far more than the sockets buffer.
    let big = format!(
        "GET /api/search?q={}&limit=1000&context=10 HTTP/1.1\r\nHost: {}\r\n\r\n",
        enc("钉子"),
        s.addr
    );
    let mut stalled = TcpStream::connect(&s.addr).unwrap();
    stalled.write_all(big.repeat(20).as_bytes()).unwrap();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(s.json("/api/status")["connections"], 2);
    let t = Instant::now();
    let page = s.json(&format!("/api/search?q={}", enc("钉子第7号")));
    assert_eq!(page["hits"][0]["source"], "gen00000.txt");
    assert!(t.elapsed() < Duration::from_secs(2));
    // Closed once writing has made no progress for 10 s (`serve::WRITE_TIMEOUT`).
    let started = Instant::now();
    while s.json("/api/status")["connections"] != 1 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "a client that reads nothing is still connected"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(stalled);
    s.stop("TERM");
}

#[test]
fn a_kept_alive_connection_left_idle_is_closed() {
    let dir = common::corpus_copy("serve-keepalive");
    let s = Served::start(&dir, "127.0.0.1:0");
    let mut c = TcpStream::connect(&s.addr).unwrap();
    let ask = format!("GET /api/status HTTP/1.1\r\nHost: {}\r\n\r\n", s.addr);
    c.write_all(ask.as_bytes()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    // The whole answer (its JSON ends the body), the connection still open after it.
    while !answer.ends_with(b"}") {
        let n = c.read(&mut buf).unwrap();
        assert!(n > 0, "closed after one answer");
        answer.extend_from_slice(&buf[..n]);
    }
    assert!(answer.starts_with(b"HTTP/1.1 200"));
    let answered = Instant::now();
    let after = closed_after(&mut c, answered);
    assert!(
        after >= HEADER_TIMEOUT - Duration::from_millis(500)
            && after < HEADER_TIMEOUT + Duration::from_secs(3),
        "an idle kept-alive connection was closed after {after:?}"
    );
    s.stop("TERM");
}

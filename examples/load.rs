//! A bounded load test of `zhsearch serve`: a fixed number of searches from a fixed number of
//! clients, each on one kept-alive HTTP/1.1 connection (a new one if the server closes it),
//! over loopback only. It stops by itself and prints one JSON object: throughput, latency
//! percentiles, errors, and the server's resident memory before and after.
//!
//!     cargo run --release --example load -- --addr 127.0.0.1:7700 --pid PID \
//!         --clients 8 --requests 2000 --queries FILE [--queries FILE …] [--limit 10]
//!
//! `--requests` is per client. A queries file holds one query a line, or JSON Lines with a
//! `query` field; the clients take them in turn. `--pid` is the server's process, whose
//! `VmRSS` is read from `/proc/PID/status`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

struct Args {
    addr: SocketAddr,
    pid: Option<u32>,
    clients: usize,
    requests: usize,
    limit: usize,
    queries: Vec<String>,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        addr: "127.0.0.1:7700".parse()?,
        pid: None,
        clients: 8,
        requests: 2000,
        limit: 10,
        queries: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--addr" => args.addr = value.parse()?,
            "--pid" => args.pid = Some(value.parse()?),
            "--clients" => args.clients = value.parse()?,
            "--requests" => args.requests = value.parse()?,
            "--limit" => args.limit = value.parse()?,
            "--queries" => args.queries.extend(read_queries(&value)?),
            _ => bail!("unknown argument {flag}"),
        }
    }
    if !args.addr.ip().is_loopback() {
        bail!("the load test runs over loopback only, not {}", args.addr);
    }
    if args.queries.is_empty() {
        bail!("give at least one --queries FILE");
    }
    Ok(args)
}

/// The queries of `path`: JSON Lines with a `query` field, or plain lines.
fn read_queries(path: &str) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?;
    let mut queries = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(v) if v["query"].is_string() => {
                queries.push(v["query"].as_str().unwrap_or("").into())
            }
            _ => queries.push(line.trim().to_string()),
        }
    }
    Ok(queries)
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One kept-alive connection.
struct Client {
    addr: SocketAddr,
    conn: Option<BufReader<TcpStream>>,
}

impl Client {
    /// Sends `target` and reads the answer; its status code.
    fn get(&mut self, target: &str) -> Result<u16> {
        if self.conn.is_none() {
            let stream = TcpStream::connect(self.addr)?;
            stream.set_nodelay(true)?;
            stream.set_read_timeout(Some(Duration::from_secs(30)))?;
            self.conn = Some(BufReader::new(stream));
        }
        let result = self.exchange(target);
        if !matches!(result, Ok((_, true))) {
            self.conn = None;
        }
        result.map(|(code, _)| code)
    }

    /// The status code, and whether the connection may be used again.
    fn exchange(&mut self, target: &str) -> Result<(u16, bool)> {
        let conn = self.conn.as_mut().context("no connection")?;
        let raw = format!("GET {target} HTTP/1.1\r\nHost: {}\r\n\r\n", self.addr);
        conn.get_mut().write_all(raw.as_bytes())?;
        let mut line = String::new();
        conn.read_line(&mut line)?;
        let code: u16 = line.split(' ').nth(1).context("no status line")?.parse()?;
        let (mut length, mut keep) = (0usize, true);
        loop {
            line.clear();
            conn.read_line(&mut line)?;
            let header = line.trim_end().to_ascii_lowercase();
            if header.is_empty() {
                break;
            }
            if let Some(v) = header.strip_prefix("content-length:") {
                length = v.trim().parse()?;
            }
            if header == "connection: close" {
                keep = false;
            }
        }
        let mut body = vec![0; length];
        conn.read_exact(&mut body)?;
        Ok((code, keep))
    }
}

/// The CPU seconds the server has used (user and system; Linux counts them in 1/100 s).
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// The server's resident memory in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let targets: Vec<String> = args
        .queries
        .iter()
        .map(|q| format!("/api/search?q={}&limit={}", percent_encode(q), args.limit))
        .collect();
    // One untimed pass of each client warms the page cache and the server's threads, as a
    // server in use has them.
    run(&args, &targets, targets.len());
    let rss_before = args.pid.and_then(rss_kib);
    let cpu_before = args.pid.and_then(cpu_seconds);
    let started = Instant::now();
    let (mut times, errors) = run(&args, &targets, args.requests);
    let elapsed = started.elapsed().as_secs_f64();
    let rss_after = args.pid.and_then(rss_kib);
    let cpu = match (cpu_before, args.pid.and_then(cpu_seconds)) {
        (Some(b), Some(a)) => Some(a - b),
        _ => None,
    };
    times.sort_by(f64::total_cmp);
    let growth = match (rss_before, rss_after) {
        (Some(b), Some(a)) if b > 0 => Some((a as f64 - b as f64) / b as f64 * 100.0),
        _ => None,
    };
    let at = |p: f64| {
        let i = (times.len() as f64 * p) as usize;
        times.get(i.min(times.len().saturating_sub(1))).copied()
    };
    let report = serde_json::json!({
        "clients": args.clients,
        "requests": args.clients * args.requests,
        "errors": errors,
        "seconds": elapsed,
        "searches_per_second": times.len() as f64 / elapsed,
        "p50_ms": at(0.50),
        "p90_ms": at(0.90),
        "p99_ms": at(0.99),
        "max_ms": times.last(),
        "server_cpu_ms_per_search": cpu.map(|c| c * 1000.0 / times.len().max(1) as f64),
        "rss_kib_before": rss_before,
        "rss_kib_after": rss_after,
        "rss_growth_percent": growth,
    });
    println!("{report}");
    Ok(())
}

/// `per_client` searches from each client at once, the targets in turn (each client from its
/// own place): the latencies of
/// those answered 200 (ms), and the number of the others.
fn run(args: &Args, targets: &[String], per_client: usize) -> (Vec<f64>, usize) {
    let runs: Vec<_> = (0..args.clients)
        .map(|c| {
            let targets = targets.to_vec();
            let (addr, n) = (args.addr, per_client);
            std::thread::spawn(move || {
                let mut client = Client { addr, conn: None };
                let (mut times, mut errors) = (Vec::with_capacity(n), 0usize);
                for i in 0..n {
                    let target = &targets[(c * 7919 + i) % targets.len()];
                    let t = Instant::now();
                    match client.get(target) {
                        Ok(200) => times.push(t.elapsed().as_secs_f64() * 1000.0),
                        _ => errors += 1,
                    }
                }
                (times, errors)
            })
        })
        .collect();
    let (mut times, mut errors) = (Vec::new(), 0);
    for run in runs {
        match run.join() {
            Ok((t, e)) => {
                times.extend(t);
                errors += e;
            }
            Err(_) => errors += per_client,
        }
    }
    (times, errors)
}

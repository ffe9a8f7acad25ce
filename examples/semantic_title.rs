//! Does the document title help the passage vectors? Dense retrieval alone over every passage
//! of an index, each embedded as the engine embeds it (its visible text folded) and with its
//! document's title before it (when the file has a title of its own, not its name), scored on
//! eval sets: MRR@10 and recall@10 of the relevant lines.
//!
//!     cargo run --release --example semantic_title -- URL INDEX SET.jsonl...
//!
//! `INDEX` is an index folder of the corpus the sets judge (`target/semantic-latency` after
//! `examples/semantic_latency.rs`); nothing of it is written.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context, Result};
use zhsearch::embed::client::{Client, Kind};
use zhsearch::embed::sync::fold;
use zhsearch::embed::{EmbedderConfig, worth_embedding};
use zhsearch::search::{Backend, Searcher};

/// A passage: its file, its lines, its text without and with its title.
struct Passage {
    source: String,
    lines: (usize, usize),
    plain: String,
    titled: String,
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        anyhow::bail!("usage: semantic_title URL INDEX SET.jsonl...");
    }
    let mut config = EmbedderConfig::new(&args[0]);
    let client = Client::new(&config, Duration::from_secs(120))?;
    config.model = Some(client.first_model()?);
    let client = Client::new(&config, Duration::from_secs(120))?;
    let passages = passages(&args[1])?;
    let titled = passages.iter().filter(|p| p.titled != p.plain).count();
    println!("{} passages, {titled} of them with a title", passages.len());
    let embed_all = |texts: Vec<String>| -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::new();
        for chunk in texts.chunks(32) {
            out.extend(unit(client.embed(chunk, Kind::Passage, None)?));
        }
        Ok(out)
    };
    let plain = embed_all(passages.iter().map(|p| p.plain.clone()).collect())?;
    let with_title = embed_all(passages.iter().map(|p| p.titled.clone()).collect())?;
    for set in &args[2..] {
        let (mut a, mut b) = (Score::default(), Score::default());
        for line in std::fs::read_to_string(set)?.lines() {
            let q: serde_json::Value = serde_json::from_str(line)?;
            let text = fold(q["query"].as_str().context("no query")?);
            let v = unit(client.embed(&[text], Kind::Query, None)?).remove(0);
            let relevant: Vec<(String, usize)> = serde_json::from_value(q["relevant"].clone())?;
            a.add(&rank(&v, &plain), &passages, &relevant);
            b.add(&rank(&v, &with_title), &passages, &relevant);
        }
        println!("{set}: without the title {a}; with it {b}");
    }
    Ok(())
}

/// The passages of the index with something to embed, and their titled texts.
fn passages(index: &str) -> Result<Vec<Passage>> {
    let searcher = Searcher::open(index.as_ref())?;
    let backend = searcher.backend();
    let mut titles: HashMap<String, Option<String>> = HashMap::new();
    let mut out = Vec::new();
    for p in backend.all_passages()? {
        let visible: String = p.visible.iter().map(|v| v.text.as_str()).collect();
        let plain = fold(&visible);
        if !worth_embedding(&plain) {
            continue;
        }
        if !titles.contains_key(&p.source) {
            let stem = p.source.rsplit('/').next().unwrap_or("").split('.').next();
            let title = backend.doc_meta(&p.source)?.title;
            // A file's name is no title of its own.
            let title = title.filter(|t| Some(t.as_str()) != stem);
            titles.insert(p.source.clone(), title);
        }
        let titled = match &titles[&p.source] {
            Some(t) => fold(&format!("{t}\n{visible}")),
            None => plain.clone(),
        };
        out.push(Passage {
            source: p.source,
            lines: (p.line_start, p.line_end),
            plain,
            titled,
        });
    }
    Ok(out)
}

fn unit(vs: Vec<Vec<f32>>) -> Vec<Vec<f32>> {
    vs.into_iter()
        .map(|v| {
            let n = v
                .iter()
                .map(|x| x * x)
                .sum::<f32>()
                .sqrt()
                .max(f32::MIN_POSITIVE);
            v.iter().map(|x| x / n).collect()
        })
        .collect()
}

/// The passages' indices, most similar first.
fn rank(q: &[f32], vs: &[Vec<f32>]) -> Vec<usize> {
    let mut order: Vec<(f32, usize)> = vs
        .iter()
        .enumerate()
        .map(|(i, v)| (v.iter().zip(q).map(|(a, b)| a * b).sum(), i))
        .collect();
    order.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    order.into_iter().map(|(_, i)| i).collect()
}

#[derive(Default)]
struct Score {
    queries: usize,
    rr: f64,
    recall: f64,
}

impl Score {
    /// MRR@10 and recall@10 of one query: a passage is relevant when its lines hold one of
    /// the relevant lines.
    fn add(&mut self, order: &[usize], passages: &[Passage], relevant: &[(String, usize)]) {
        let holds = |i: usize, (s, l): &(String, usize)| {
            let p = &passages[i];
            p.source == *s && (p.lines.0..=p.lines.1).contains(l)
        };
        let top = &order[..order.len().min(10)];
        self.queries += 1;
        if let Some(at) = top
            .iter()
            .position(|&i| relevant.iter().any(|r| holds(i, r)))
        {
            self.rr += 1.0 / (at + 1) as f64;
        }
        let found = relevant
            .iter()
            .filter(|r| top.iter().any(|&i| holds(i, r)))
            .count();
        self.recall += found as f64 / relevant.len().max(1) as f64;
    }
}

impl std::fmt::Display for Score {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.queries.max(1) as f64;
        write!(
            f,
            "MRR@10 {:.3}, recall@10 {:.3} ({} queries)",
            self.rr / n,
            self.recall / n,
            self.queries
        )
    }
}

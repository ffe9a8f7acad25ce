//! Nearest-neighbour search over the semantic tier's int8 vectors, on synthetic data shaped
//! like real embeddings: `N` unit vectors of 384 numbers drawn around `C` random centres.
//!
//! `cargo run --release --example ann_bench -- [N] [C] [QUERIES] [EF...]` (default 1000000
//! 4096 100) prints the exact scan's latency (p50, p95) and memory; with EF values, also an
//! HNSW graph of the same int8 vectors (the `hnsw_rs` crate, a dev-dependency: the engine
//! does not use it yet), its build time, and for each `ef` its latency and recall@10 against
//! the exact scan.

use std::time::Instant;

use hnsw_rs::prelude::{Distance, Hnsw};
use zhsearch::embed::vectors::quantise;
use zhsearch::embed::{ExactScan, Neighbours};

const DIM: usize = 384;

/// xorshift64*: reproducible numbers without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (x >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }

    fn vector(&mut self) -> Vec<f32> {
        (0..DIM).map(|_| self.next()).collect()
    }
}

fn near(rng: &mut Rng, centre: &[f32], spread: f32) -> Vec<f32> {
    centre.iter().map(|c| c + spread * rng.next()).collect()
}

/// Cosine distance of int8 vectors (each row's scale cancels out).
struct CosineI8;

impl Distance<i8> for CosineI8 {
    fn eval(&self, a: &[i8], b: &[i8]) -> f32 {
        let (mut ab, mut aa, mut bb) = (0i32, 0i32, 0i32);
        for (&x, &y) in a.iter().zip(b) {
            let (x, y) = (x as i32, y as i32);
            ab += x * y;
            aa += x * x;
            bb += y * y;
        }
        1.0 - ab as f32 / ((aa as f32).sqrt() * (bb as f32).sqrt()).max(1.0)
    }
}

/// p50 and p95 of `times`.
fn percentiles(mut times: Vec<f64>) -> (f64, f64) {
    times.sort_by(f64::total_cmp);
    let pct = |p: f64| times[((times.len() as f64 - 1.0) * p).round() as usize];
    (pct(0.5), pct(0.95))
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(1_000_000);
    let c = args.get(1).copied().unwrap_or(4096);
    let queries = args.get(2).copied().unwrap_or(100);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let centres: Vec<Vec<f32>> = (0..c).map(|_| rng.vector()).collect();
    let efs: Vec<usize> = args.iter().skip(3).copied().collect();
    let start = Instant::now();
    let mut scan = ExactScan::new(DIM);
    let mut rows: Vec<Vec<i8>> = Vec::new();
    for i in 0..n {
        let (scale, q) = quantise(&near(&mut rng, &centres[i % c], 0.5));
        scan.push(scale, &q);
        if !efs.is_empty() {
            rows.push(q);
        }
    }
    let built = start.elapsed();
    let queries: Vec<Vec<f32>> = (0..queries)
        .map(|i| near(&mut rng, &centres[(i * 7919) % c], 0.5))
        .collect();
    let mut truth = Vec::new();
    let times: Vec<f64> = queries
        .iter()
        .map(|q| {
            let t = Instant::now();
            let top = scan.nearest(q, 10);
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            truth.push(top.iter().map(|t| t.1).collect::<Vec<usize>>());
            ms
        })
        .collect();
    let (p50, p95) = percentiles(times);
    println!(
        "exact scan: {n} vectors of {DIM} (int8), {c} centres: built in {:.1} s, {:.0} MB; \
         top 10 of {} queries: p50 {p50:.1} ms, p95 {p95:.1} ms",
        built.as_secs_f64(),
        scan.bytes() as f64 / 1e6,
        queries.len(),
    );
    if efs.is_empty() {
        return;
    }
    let start = Instant::now();
    let hnsw = Hnsw::<i8, CosineI8>::new(16, n, 16, 100, CosineI8);
    let data: Vec<(&[i8], usize)> = rows.iter().enumerate().map(|(i, r)| (&r[..], i)).collect();
    hnsw.parallel_insert_slice(&data);
    println!(
        "hnsw (M 16, ef_construction 100): built in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    for ef in efs {
        let mut found = 0;
        let times: Vec<f64> = queries
            .iter()
            .zip(&truth)
            .map(|(q, truth)| {
                let t = Instant::now();
                let (_, qi) = quantise(q);
                let top = hnsw.search(&qi, 10, ef);
                let ms = t.elapsed().as_secs_f64() * 1000.0;
                found += top.iter().filter(|nb| truth.contains(&nb.d_id)).count();
                ms
            })
            .collect();
        let (p50, p95) = percentiles(times);
        let recall = found as f64 / (10 * queries.len()) as f64;
        println!("hnsw ef {ef}: p50 {p50:.2} ms, p95 {p95:.2} ms, recall@10 {recall:.3}");
    }
}

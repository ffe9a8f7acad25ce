//! Nearest-neighbour search over the semantic tier's int8 vectors, on synthetic data shaped
//! like real embeddings: `N` unit vectors of 384 numbers drawn around `C` random centres.
//!
//! `cargo run --release --example ann_bench -- [N] [C] [QUERIES]` (default 1000000 4096 100)
//! prints the exact scan's latency (p50, p95) and memory. Only the exact scan exists so far:
//! an approximate index (and its recall against this scan) is future work.

use std::time::Instant;

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
    let start = Instant::now();
    let mut scan = ExactScan::new(DIM);
    for i in 0..n {
        let (scale, q) = quantise(&near(&mut rng, &centres[i % c], 0.5));
        scan.push(scale, &q);
    }
    let built = start.elapsed();
    let mut times: Vec<f64> = (0..queries)
        .map(|i| {
            let q = near(&mut rng, &centres[(i * 7919) % c], 0.5);
            let t = Instant::now();
            let top = scan.nearest(&q, 10);
            assert_eq!(top.len(), 10.min(n));
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let pct = |p: f64| times[((times.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "exact scan: {n} vectors of {DIM} (int8), {c} centres: built in {:.1} s, {:.0} MB; \
         top 10 of {queries} queries: p50 {:.1} ms, p95 {:.1} ms",
        built.as_secs_f64(),
        scan.bytes() as f64 / 1e6,
        pct(0.5),
        pct(0.95)
    );
}

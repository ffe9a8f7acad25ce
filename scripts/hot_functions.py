#!/usr/bin/env python3
"""Write .cargo/hot-functions.txt: the functions a search runs, for the linker to put together.

    python3 scripts/hot_functions.py [--bin target/release/zhsearch] [--large-index DIR]

Why: a search process runs about 2,400 of the program's functions, 1.7 MB of its 15 MB of
code, and the linker scatters them. Each first touch of a 64 KB stretch of code is a page
fault, 10-20 us on the bench machine (README, Performance): a one-word search took about 100
of them. `.cargo/link-static` hands this list to the linker (lld's --symbol-ordering-file),
which puts these functions first, side by side: about 20 faults.

How: runs the program under valgrind's callgrind (`apt-get install valgrind`) on an index of
the bundled corpus (built in a temporary folder) for a spread of commands, and lists every
function of the program that ran, in the order callgrind first met them. With
--large-index, also runs a search there (a second search thread starts only on an index of a
million passages or more). Names are as the linker sees them, with Rust's hashes: a list made
by another compiler or other dependency versions matches fewer functions (those not listed
are placed as before, without a warning), so run this again after updating either, and
relink (`cargo build --release`; build.rs relinks when the list changes).
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, ".cargo", "hot-functions.txt")

# Commands run on the bundled corpus's index (INDEX stands for it): searches of each kind
# (words, phrases, single characters, several terms, a question, a filter, pages, JSON), with
# and without the freshness check, and cite, list, stats, and an update with nothing to do (the
# index is built before, not under callgrind: a build's functions are not a search's).
COMMANDS = [
    ["search", "开源", "--index", "INDEX"],
    ["search", "開源", "--index", "INDEX", "--json", "--no-refresh"],
    ["search", '"开源不是慈善"', "--index", "INDEX", "--no-refresh"],
    ["search", "钉", "--index", "INDEX", "--json", "--limit", "5"],
    ["search", "苹果", "阿里巴巴", "合作", "--index", "INDEX", "--no-refresh"],
    ["search", "什么是开源软件", "--index", "INDEX", "--json"],
    ["search", "开源", "date:2024", "--index", "INDEX", "--no-refresh"],
    ["search", "开源", "--index", "INDEX", "--offset", "10", "--no-refresh"],
    ["cite", "开源", "--index", "INDEX", "--no-refresh"],
    ["list", "--index", "INDEX"],
    ["stats", "--index", "INDEX"],
    ["index", "--index", "INDEX"],
]


def callgrind(binary: str, args: list[str], out: str) -> None:
    cmd = ["valgrind", "--tool=callgrind", "--demangle=no", f"--callgrind-out-file={out}",
           binary, *args]
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def functions(profile: str, binary: str) -> list[str]:
    """The functions of `binary` that ran, in the order the profile first names them."""
    names: list[str] = []
    objects: dict[str, str] = {}
    fns: dict[str, str] = {}
    current = None
    for line in open(profile, encoding="utf-8", errors="replace"):
        m = re.match(r"(c?)(ob|fn)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
        if not m:
            continue
        callee, kind, ident, name = m.groups()
        table = objects if kind == "ob" else fns
        if name:
            table[ident] = name
        if callee:
            continue
        if kind == "ob":
            current = objects.get(ident)
        elif current and os.path.realpath(current) == binary and fns.get(ident):
            # callgrind marks a function's recursion levels with 'N.
            names.append(re.sub(r"'\d+$", "", fns[ident]))
    return names


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "zhsearch"))
    ap.add_argument("--large-index", help="an index of a million passages or more")
    args = ap.parse_args()
    if not shutil.which("valgrind"):
        sys.exit("hot_functions.py: valgrind is needed (apt-get install valgrind)")
    binary = os.path.realpath(args.bin)
    if not os.path.isfile(binary):
        sys.exit(f"hot_functions.py: no program at {binary}: run `cargo build --release` first")
    corpus = os.path.join(ROOT, "corpus")
    seen: dict[str, None] = {}
    with tempfile.TemporaryDirectory() as tmp:
        index = os.path.join(tmp, "index")
        subprocess.run([binary, "index", "--corpus", corpus, "--index", index],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        runs = [[a.replace("INDEX", index) for a in c] for c in COMMANDS]
        if args.large_index:
            runs.append(["search", "山", "--index", args.large_index, "--no-refresh"])
        for i, run in enumerate(runs):
            out = os.path.join(tmp, f"{i}.out")
            callgrind(binary, run, out)
            for name in functions(out, binary):
                seen.setdefault(name, None)
    if not seen:
        sys.exit("hot_functions.py: callgrind recorded no function of the program")
    with open(OUT, "w", encoding="utf-8") as f:
        f.write("# The functions a search runs, first in the program (scripts/hot_functions.py).\n")
        f.write("\n".join(seen) + "\n")
    print(f"{len(seen)} functions written to {os.path.relpath(OUT, ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

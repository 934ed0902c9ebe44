"""A large app: start-up, memory, cold resolve and decode at 30,000 modules (issue targets beside).

    .venv/bin/python benchmarks/bench_large.py                  # 30,000 modules, 5 processes
    .venv/bin/python benchmarks/bench_large.py --modules 2000 --runs 3

Every sample is a fresh Python process (no Flask imported) on the synthetic project:
- load: `MendelTrees(project)`, the first time without the compiled manifest
  (`MENDEL_MANIFEST_CACHE=off`: read, parse, validate, check every digest), then with it;
- RSS: the process's resident memory right after that load (and after a collection), then after
  two bundles were packed (every module's piece made) and Flask imported;
- first pack / next pack: `pack_js` of a tree when no piece is made yet, then of another tree;
- cold resolve / decode: medians over `--sets` new variation sets, every cache cleared before
  each (`clear_caches()`), of `find_tree_for_variations` and of `find_tree_for_hash` with the
  resolved file list read.
Also says whether the walk ran in C (the optional `_speedups` extension).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from synth import random_variation_sets, write_synthetic_project  # noqa: E402

TARGETS = {"load": 0.5, "cold_resolve_ms": 8.0, "decode_ms": 8.0, "rss_mib": 120.0}
EXTRA = {"first_pack_ms": "ms", "next_pack_ms": "ms", "rss_packed_mib": "MiB", "rss_flask_mib": "MiB"}

# What one fresh process measures; prints one JSON object.
PROBE = r"""
import gc, json, statistics, sys, time
project, sets = sys.argv[1], json.loads(sys.argv[2])

def rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20

from mendel_py import MendelTrees
from mendel_py.core.walk import ACCELERATED
start = time.perf_counter()
trees = MendelTrees(project)
load = time.perf_counter() - start
gc.collect()
rss = rss_mib()
resolve, decode = [], []
for names in sets:
    _, chains = trees.variations_and_chains(names)
    trees.clear_caches()
    start = time.perf_counter()
    tree = trees.find_tree_for_variations("main", chains)
    resolve.append(time.perf_counter() - start)
    trees.clear_caches()
    start = time.perf_counter()
    trees.find_tree_for_hash("main", tree.hash).files
    decode.append(time.perf_counter() - start)
from mendel_py.packing.packer import pack_js
start = time.perf_counter()
pack_js(tree)  # the first bundle of this process: every module's piece is made
first_pack = time.perf_counter() - start
start = time.perf_counter()
pack_js(trees.find_tree_for_variations("main", trees.variations_and_chains(sets[0])[1]))
next_pack = time.perf_counter() - start
gc.collect()
rss_packed = rss_mib()
import flask
flask.Flask("probe")
gc.collect()
print(json.dumps({"load": load, "rss_mib": rss, "accelerated": ACCELERATED,
                  "cold_resolve_ms": 1e3 * statistics.median(resolve),
                  "decode_ms": 1e3 * statistics.median(decode),
                  "first_pack_ms": 1e3 * first_pack, "next_pack_ms": 1e3 * next_pack,
                  "rss_packed_mib": rss_packed, "rss_flask_mib": rss_mib()}))
"""


def probe(project: str, sets: list[list[str]], compiled: bool) -> dict[str, float]:
    env = dict(os.environ, MENDEL_MANIFEST_CACHE="on" if compiled else "off")
    out = subprocess.run([sys.executable, "-c", PROBE, project, json.dumps(sets)],
                         env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", type=int, default=30000)
    parser.add_argument("--runs", type=int, default=5, help="processes with the compiled manifest")
    parser.add_argument("--sets", type=int, default=40, help="variation sets per process")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mendel-large-") as tmp:
        project = write_synthetic_project(os.path.join(tmp, "project"), modules=args.modules)
        sets = list(random_variation_sets(args.sets, seed=3))
        first = probe(project, sets, compiled=False)
        probe(project, sets, compiled=True)  # writes the compiled form (a first start-up)
        runs = [probe(project, sets, compiled=True) for _ in range(args.runs)]
    result = {key: statistics.median(run[key] for run in runs) for key in (*TARGETS, *EXTRA)}
    result["first_load"] = first["load"]
    result["first_rss_mib"] = first["rss_mib"]
    result["accelerated"] = all(run["accelerated"] for run in runs)
    if args.json:
        print(json.dumps({"modules": args.modules, "runs": args.runs, **result}, indent=1))
        return 0
    print(f"{args.modules} modules, medians of {args.runs} processes, walk in C: {result['accelerated']}")
    print(f"  first load, no compiled manifest  {first['load']:8.3f} s    RSS {first['rss_mib']:6.1f} MiB")
    rows = [("load", "s", 3), ("rss_mib", "MiB", 1), ("cold_resolve_ms", "ms", 2), ("decode_ms", "ms", 2)]
    for key, unit, digits in rows:
        verdict = "met" if result[key] <= TARGETS[key] else "MISSED"
        print(f"  {key:33} {result[key]:8.{digits}f} {unit:4} target <= {TARGETS[key]:g}: {verdict}")
    for key, unit in EXTRA.items():
        print(f"  {key:33} {result[key]:8.1f} {unit}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

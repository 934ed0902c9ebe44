"""What Subresource Integrity and source maps cost on the 2,000-module benchmark bundle.

    .venv/bin/python benchmarks/bench_tags.py            # the figures of benchmarks/README.md
    .venv/bin/python benchmarks/bench_tags.py --quick    # 200 modules, fewer samples
    .venv/bin/python benchmarks/bench_tags.py --json

Rows: a page's `script_tag("main")` on a fresh per-request resolver for a set already seen
(warm: the tree and the digest are cached), with and without integrity, in the same run; the
first integrity of a (bundle, hash) (cold: pack + sha384, each sample a new variation set);
the source map of the bundle (built per request in development, by `mendel sourcemap` otherwise)
and its size next to the bundle's.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_manifest import median_ms, print_result  # noqa: E402
from synth import random_variation_sets, write_synthetic_project  # noqa: E402

from mendel_py.core.trees import MendelTrees  # noqa: E402
from mendel_py.packing.packer import pack_js  # noqa: E402
from mendel_py.packing.sourcemap import source_map_bytes  # noqa: E402
from mendel_py.serving.wsgi import MendelMiddleware  # noqa: E402


def median_us(action: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        action()
        samples.append((time.perf_counter_ns() - start) / 1e3)
    return statistics.median(samples)


def page_tag(middleware: MendelMiddleware, names: list[str], integrity: bool) -> str:
    resolver = middleware.resolver({"SCRIPT_NAME": ""})
    resolver.set_variations(names)
    return resolver.script_tag("main", integrity=integrity)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    modules, samples, cold = (200, 500, 20) if args.quick else (2000, 3000, 60)
    with tempfile.TemporaryDirectory() as folder:
        write_synthetic_project(folder, modules=modules)
        middleware = MendelMiddleware(lambda e, s: [], MendelTrees(folder))
        sets = list(random_variation_sets(cold + 1))
        warm = sets[0]
        page_tag(middleware, warm, True)
        result: dict[str, object] = {"modules": modules}
        plain = median_us(lambda: page_tag(middleware, warm, False), samples)
        result["page tag, warm, no integrity (us)"] = round(plain, 2)
        with_integrity = median_us(lambda: page_tag(middleware, warm, True), samples)
        result["page tag, warm, integrity (us)"] = round(with_integrity, 2)
        firsts = iter(sets[1:])
        result["first integrity of a hash (ms)"] = round(
            median_ms(lambda: page_tag(middleware, next(firsts), True), cold), 3
        )
        _matching, chains = middleware.trees.variations_and_chains(warm)
        tree = middleware.trees.find_tree_for_variations("main", chains)
        result["pack bundle (ms)"] = round(median_ms(lambda: pack_js(tree), 20), 3)
        result["source map (ms)"] = round(median_ms(lambda: source_map_bytes(tree, "main.js"), 20), 3)
        result["bundle bytes"] = len(pack_js(tree))
        result["source map bytes"] = len(source_map_bytes(tree, "main.js"))
    print_result(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

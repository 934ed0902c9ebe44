"""What verifying every file's digests costs when a manifest loads.

    .venv/bin/python benchmarks/bench_manifest.py            # 2000 modules, 9 runs
    .venv/bin/python benchmarks/bench_manifest.py --modules 30000 --runs 5

Times, as medians over `--runs` loads of the synthetic project's manifest:
- `load_manifest` (read, parse, validate, compile, and check each entry's sha1 and blake3);
- the digest checks alone: sha1 and blake3 of every entry's UTF-8 source, the work the load adds.
"""
from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import blake3

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from synth import MANIFEST_PATH, write_synthetic_project  # noqa: E402

from mendel_py.core.manifest import load_manifest  # noqa: E402


def median_ms(action: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter_ns()
        action()
        samples.append((time.perf_counter_ns() - start) / 1e6)
    return statistics.median(samples)


def digest_checks(sources: list[bytes]) -> None:
    for source in sources:
        hashlib.sha1(source).hexdigest()
        blake3.blake3(source).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        write_synthetic_project(Path(tmp), modules=args.modules)
        path = os.path.join(tmp, MANIFEST_PATH)
        data = json.loads(Path(path).read_text())
        sources = [entry["source"].encode() for module in data["bundles"] for entry in module["data"]]
        load = median_ms(lambda: load_manifest(path, "main"), args.runs)
        checks = median_ms(lambda: digest_checks(sources), args.runs)
    result = {
        "modules": args.modules,
        "files": len(sources),
        "source_bytes": sum(map(len, sources)),
        "load_ms": round(load, 2),
        "digest_checks_ms": round(checks, 2),
        "share_of_load": round(checks / load, 3),
    }
    print_result(result, args.json)
    return 0


def print_result(result: dict[str, object], as_json: bool) -> None:
    """One JSON object, or `name  value` lines."""
    if as_json:
        print(json.dumps(result))
        return
    width = max(map(len, result))
    for key, value in result.items():
        print(f"{key:{width}}  {value}")


if __name__ == "__main__":
    sys.exit(main())

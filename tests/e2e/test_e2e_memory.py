"""A worker's RSS under floods of distinct cookies and distinct valid hashes, under gunicorn.

Runs benchmarks/bench_memory.py small: the 2,000-module synthetic project, caches of 16 + 16 MiB,
300 cookies of ~7 KB made-up names, 150 distinct valid hashes. The full figures (default 128 MiB
of caches, 2,000/10,000 cookies, 500/2,000 hashes) are in benchmarks/README.md.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
MARGIN_MIB = 16  # interpreter and allocator overhead beyond what the caches count


def load_bench_memory():  # type: ignore[no-untyped-def]
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location("bench_memory", BENCHMARKS / "bench_memory.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_memory"] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads RSS from /proc")
def test_worker_rss_stays_within_the_cache_budget(tmp_path: Path) -> None:
    bench = load_bench_memory()
    args = bench.parse_args(["--cache-mib", "16", "16", "--cookies", "300", "--hashes", "150",
                             "--work", str(tmp_path)])
    result = bench.measure(args)
    start, budget = result["rss_start_mib"], result["cache_budget_mib"]
    assert budget == 32
    assert result["rss_after_300_cookies_mib"] <= start + 4  # unknown names keep nothing
    assert result["rss_after_150_hashes_mib"] <= start + budget + MARGIN_MIB

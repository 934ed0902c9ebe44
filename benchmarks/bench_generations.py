"""Worker CPU per bundle request when URLs cycle over every retained generation, against gunicorn.

    python benchmarks/bench_generations.py [--generations 12] [--sets 40] [--json]

The 2,000-module synthetic project (a 6 MB manifest) is deployed `--generations` times (each
deploy changes one base module, so every generation has its own `main` manifest); for each, the
bundle URLs of `--sets` variation sets are minted. One gunicorn worker (examples/gunicorn.conf.py,
preload) serves the project; its CPU (utime + stime from /proc) is read before and after each
flood, so the figure is what the worker spent per request, HTTP handling included. Every URL is
requested once per flood (uncached identity bundles: each is a bundle-cache miss):

- current only: URLs of the generation being served (the cost of a normal miss);
- warm: a few of those URLs again, now bundle-cache hits: what sending the ~4.7 MB body costs
  (the part of every figure here that is HTTP and copying, not resolving or packing);
- cycling, first pass: URLs in round-robin over every retained generation, the worker never
  having seen them (it loads each past manifest once, from the compiled-manifest cache);
- cycling, later passes: the same round-robin over every generation with URLs of other variation
  sets (so still uncached), once each past manifest is loaded: the steady cost an anonymous
  client can buy.

Target (issue 18 item 4): at most 3 ms of worker CPU per uncached identity request, in any order.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "tests", "helpers"))

from bench_deploys import mutate  # noqa: E402
from synth import random_variation_sets, write_synthetic_project  # noqa: E402

from e2e_support import http_get, running_gunicorn  # noqa: E402
from mendel_py.config import load_config  # noqa: E402
from mendel_py.core.trees import MendelTrees  # noqa: E402
from mendel_py.deploy.publish import publish_project  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
WARM_URLS = 8  # bundles of ~4.7 MB: 8 fit the default 64 MiB bundle cache


def process_cpu(pid: int) -> float:
    """Seconds of CPU (user + system) the process has used."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def flood(base: str, pid: int, urls: list[str]) -> dict[str, Any]:
    statuses: dict[int, int] = {}
    before = process_cpu(pid)
    started = time.perf_counter()
    for url in urls:
        status = http_get(base + url, {"Accept-Encoding": "identity"}).status
        statuses[status] = statuses.get(status, 0) + 1
    wall = time.perf_counter() - started
    cpu = process_cpu(pid) - before
    return {"requests": len(urls), "cpu_ms_per_request": 1000 * cpu / len(urls),
            "wall_ms_per_request": 1000 * wall / len(urls), "statuses": statuses}


def round_robin(per_generation: list[list[str]]) -> list[str]:
    """One URL of each generation in turn (oldest to newest), until all are used."""
    order = []
    for k in range(max(map(len, per_generation))):
        order += [urls[k] for urls in per_generation if k < len(urls)]
    return order


def run(generations: int, sets_per_pass: int, repeats: int) -> dict[str, Any]:
    sets = [list(s) for s in random_variation_sets(sets_per_pass * (2 + repeats), seed=7)]
    with tempfile.TemporaryDirectory(prefix="mendel-bench-generations-") as tmp:
        project = write_synthetic_project(os.path.join(tmp, "project"))
        chunks = [sets[i * sets_per_pass:(i + 1) * sets_per_pass] for i in range(2 + repeats)]
        minted = _mint_all(project, generations, chunks)
        env = {"MENDEL_WORKERS": "1", "BIG_MENDEL_RELOAD_INTERVAL": "0"}
        with running_gunicorn(Path(project), extra_env=env, app="big_app:create_app()") as server:
            pid = json.loads(http_get(server.url + "/status").body)["pid"]
            http_get(server.url + "/?v=")  # the worker's first request (imports, lazy setup)
            current = flood(server.url, pid, minted[0][-1])  # current generation only
            warm = flood(server.url, pid, minted[0][-1][:WARM_URLS] * 4)  # bundle-cache hits
            first = flood(server.url, pid, round_robin(minted[1]))  # every generation, never seen
            steady = [flood(server.url, pid, round_robin(chunk)) for chunk in minted[2:]]
    return {
        "generations": generations,
        "current_only": current,
        "warm_hits": warm,
        "cycling_first_pass": first,
        "cycling_steady": steady,
        "cycling_steady_median_cpu_ms": statistics.median(r["cpu_ms_per_request"] for r in steady),
    }


def _mint_all(project: str, generations: int, chunks: list[list[list[str]]]) -> list[list[list[str]]]:
    """Per chunk of variation sets: the URLs of every generation (deployed once, minted for all
    chunks after each deploy)."""
    per_chunk: list[list[list[str]]] = [[] for _ in chunks]
    for n in range(generations):
        mutate(project, n)
        publish_project(load_config(project))
        trees = MendelTrees(project)
        for i, chunk in enumerate(chunks):
            hashes = {trees.find_tree_for_variations("main", trees.variations_and_chains(s)[1]).hash for s in chunk}
            per_chunk[i].append(sorted(f"/mendel/{h}/main.js" for h in hashes))
    return per_chunk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generations", type=int, default=12)
    parser.add_argument("--sets", type=int, default=40, help="variation sets per pass (URLs per generation)")
    parser.add_argument("--repeats", type=int, default=3, help="steady passes (each with new URLs)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = run(args.generations, args.sets, args.repeats)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{report['generations']} retained generations, 1 gunicorn worker, identity, every URL uncached")
    for name, row in (("current generation only", report["current_only"]),
                      ("warm (bundle-cache hits)", report["warm_hits"]),
                      ("cycling, first pass", report["cycling_first_pass"])):
        print(f"{name:28} {row['cpu_ms_per_request']:6.2f} ms CPU/request ({row['requests']} requests, "
              f"statuses {row['statuses']})")
    for k, row in enumerate(report["cycling_steady"]):
        print(f"{'cycling, pass ' + str(k + 2):28} {row['cpu_ms_per_request']:6.2f} ms CPU/request "
              f"({row['requests']} requests, statuses {row['statuses']})")
    print(f"cycling, steady (median)     {report['cycling_steady_median_cpu_ms']:6.2f} ms CPU/request")


if __name__ == "__main__":
    main()

"""Cold-path benchmarks over real HTTP to gunicorn (the targets of the cold-path issue).

    .venv/bin/python benchmarks/bench_cold.py                 # the figures of benchmarks/README.md
    .venv/bin/python benchmarks/bench_cold.py --modules 300 --samples 5 --hashes 8 --skip-node

On the synthetic project of benchmarks/synth.py (2,000 modules, 45 variations by default; Mendel
v2 hashes and a ``.js`` route so mendel-middleware answers the very same URLs):

(1) first request for a hash: one gunicorn worker (preloaded, `prepare_for_fork`), sequential
    requests on one keep-alive connection, each URL new to the server, per content coding
    (identity / gzip / br: disjoint sets of hashes, so every request packs); medians of the
    client-side time to the last byte. Beside it, mendel-middleware 4 on Express answering the
    same URLs (it packs on every request and never compresses).
(2) cyclic working set: one worker whose bundle cache budget is 1/1.5 of the gzip bytes of
    `--cyclic-urls` URLs, requested in the same order `--cycles` times with `Accept-Encoding:
    gzip`; the hit rate of cycles 2.. is 1 - packs / requests (every miss packs: only gzip is
    held), with what a plain byte-bounded LRU would have hit on the same sequence beside it.
(3) shared across workers: `--workers` workers, `--hashes` distinct hashes, each requested (gzip)
    until every worker has answered it; bundles packed per hash, with the on-disk store and
    without it. Also RSS and PSS per worker (after the run), for 1 worker and for `--workers`.

Packs are counted by the benchmark's own app (a subclass that logs each `_pack`); the worker
answering is named by an `X-Worker` header that only this benchmark's app adds.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench_serve import (
    WORK,
    ensure_mendel_middleware,
    express_server,
    free_port,
    running,
    write_project,
)

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
ENV_PROJECT = "MENDEL_BENCH_PROJECT"
ENV_STORE = "MENDEL_BENCH_STORE"
ENV_CACHE = "MENDEL_BENCH_CACHE_BYTES"
ENV_PACK_LOG = "MENDEL_BENCH_PACK_LOG"
CODINGS = ("identity", "gzip", "br")
sys.path.insert(0, str(REPO))


# --------------------------------------------------------------------------- the served app

def make_app() -> Any:
    """The gunicorn entry point (preloaded): the middleware, instrumented to count packs."""
    from mendel_py.serving.bundles import BUNDLE_CACHE_BYTES
    from mendel_py.serving.prefork import prepare_for_fork
    from mendel_py.serving.wsgi import MendelMiddleware

    pack_log = os.environ[ENV_PACK_LOG]

    class CountingMiddleware(MendelMiddleware):
        def _pack(self, bundle: str, tree: Any, *more: Any) -> bytes:
            with open(pack_log, "a", encoding="utf-8") as log:
                log.write(f"{os.getpid()} {tree.hash}\n")
            return super()._pack(bundle, tree, *more)

    def not_found(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not a bundle\n"]

    middleware = CountingMiddleware(
        not_found,
        os.environ[ENV_PROJECT],
        cache_bytes=int(os.environ.get(ENV_CACHE) or BUNDLE_CACHE_BYTES),
        store_dir=os.environ.get(ENV_STORE) or None,
    )
    prepare_for_fork(middleware.trees)
    worker = [("X-Worker", "")]

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        def named(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            worker[0] = ("X-Worker", str(os.getpid()))
            return start_response(status, headers + worker, exc_info)

        return middleware(environ, named)

    return app


# --------------------------------------------------------------------------- helpers

def distinct_paths(project: Path, count: int, variations: int, seed: int) -> list[str]:
    """`count` bundle URLs of distinct trees, from distinct variation sets."""
    import synth

    from mendel_py.core.trees import MendelTrees

    trees = MendelTrees(str(project))
    paths: dict[str, str] = {}
    for names in synth.random_variation_sets(count * 30, seed=seed, variations=variations):
        _matching, chains = trees.variations_and_chains(names)
        hash_ = trees.find_tree_for_variations("main", chains).hash
        paths.setdefault(hash_, trees.config.bundle_path("main", hash_))
        if len(paths) == count:
            return list(paths.values())
    raise RuntimeError(f"only {len(paths)} distinct trees in this project")


def timed_get(connection: http.client.HTTPConnection, path: str, coding: str) -> tuple[float, int, dict[str, str]]:
    """(seconds to the last byte, body bytes, headers) of one GET on a keep-alive connection."""
    started = time.perf_counter()
    connection.request("GET", path, headers={"Accept-Encoding": coding})
    response = connection.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - started
    if response.status != 200:
        raise RuntimeError(f"{path}: HTTP {response.status}")
    return elapsed, len(body), {k.lower(): v for k, v in response.getheaders()}


def gunicorn(port: int, workers: int) -> list[str]:
    return [
        sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
        "--worker-class", "sync", "--preload", "--chdir", str(HERE), "--log-level", "warning",
        "bench_cold:make_app()",
    ]


def server_env(
    project: Path, pack_log: Path, store: Path | None = None, cache_bytes: int | None = None
) -> dict[str, str]:
    env = dict(os.environ, **{ENV_PROJECT: str(project), ENV_PACK_LOG: str(pack_log)})
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), str(HERE), env.get("PYTHONPATH")]))
    env[ENV_STORE] = str(store) if store else ""
    env[ENV_CACHE] = str(cache_bytes) if cache_bytes else ""
    return env


def packs(pack_log: Path) -> list[str]:
    return pack_log.read_text(encoding="utf-8").splitlines() if pack_log.exists() else []


def worker_memory(port: int) -> dict[str, float]:
    """Median VmRSS and Pss (MiB) of the gunicorn workers listening on `port` (found by /proc)."""
    rss, pss = [], []
    for pid in worker_pids(port):
        status = Path(f"/proc/{pid}/status").read_text()
        rss.append(int(status.split("VmRSS:")[1].split()[0]) / 1024)
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        pss.append(int(rollup.split("Pss:")[1].split()[0]) / 1024)
    return {"workers": len(rss), "rss_mib": statistics.median(rss), "pss_mib": statistics.median(pss)}


def worker_pids(port: int) -> list[int]:
    pids = set()
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(6):
            for headers in pool.map(lambda _n: one_request(port, "/", {})[1], range(16)):
                pids.add(int(headers.get("x-worker") or 0))
    pids.discard(0)
    return sorted(pids)


def one_request(port: int, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}
    finally:
        connection.close()


# --------------------------------------------------------------------------- (1) first request

def bench_first_request(project: Path, paths: list[str], samples: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as scratch:
        pack_log = Path(scratch) / "packs.log"
        port = free_port()
        with running("bench-cold-first", gunicorn(port, 1), port, server_env(project, pack_log)):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            timed_get(connection, paths[-1], "identity")  # the connection, not a measured hash
            for n, coding in enumerate(CODINGS):
                own = paths[n * samples:(n + 1) * samples]
                runs = [timed_get(connection, path, coding) for path in own]
                results[coding] = {
                    "median_ms": statistics.median(r[0] for r in runs) * 1000,
                    "bytes": statistics.median(r[1] for r in runs),
                    "sent_as": runs[0][2].get("content-encoding", "identity"),
                }
            warm = [timed_get(connection, paths[0], "identity")[0] for _ in range(samples)]
            results["warm_identity_ms"] = statistics.median(warm) * 1000
            connection.close()
        results["packs"] = len(packs(pack_log))
    return results


def bench_mendel_middleware(project: Path, paths: list[str], samples: int) -> dict[str, Any] | None:
    modules = ensure_mendel_middleware(install=True) if shutil.which("node") else None
    if modules is None:
        return None
    with express_server(project, modules, "bench-cold-express") as port:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        timed_get(connection, paths[-1], "gzip")
        runs = [timed_get(connection, path, "gzip") for path in paths[:samples]]
        connection.close()
    return {"median_ms": statistics.median(r[0] for r in runs) * 1000,
            "bytes": statistics.median(r[1] for r in runs),
            "sent_as": runs[0][2].get("content-encoding", "identity")}


# --------------------------------------------------------------------------- compression levels

LEVELS = {"zlib gzip": range(1, 10, 2), "isal gzip": range(0, 4), "brotli": (0, 1, 2, 3, 4, 5, 6, 9)}


def bench_levels(project: Path, path: str, rounds: int = 5) -> list[dict[str, Any]]:
    """Size and time of every coder and level on one packed bundle (in process, medians)."""
    from werkzeug.test import Client

    from mendel_py.packing.compression import brotli_available, brotli_coder, gzip_coder
    from mendel_py.serving.wsgi import MendelMiddleware

    body = Client(MendelMiddleware(lambda e, s: [], str(project))).get(path).data
    coders = [gzip_coder(level, fast=False) for level in LEVELS["zlib gzip"]]
    coders += [gzip_coder(level) for level in LEVELS["isal gzip"] if gzip_coder().etag_suffix.startswith("igz")]
    coders += [brotli_coder(quality) for quality in LEVELS["brotli"] if brotli_available()]
    rows = []
    for coder in coders:
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            size = len(coder.compress(body))
            times.append(time.perf_counter() - started)
        rows.append({"coder": coder.etag_suffix, "ms": statistics.median(times) * 1000, "bytes": size,
                     "ratio": size / len(body), "input_bytes": len(body)})
    return rows


# --------------------------------------------------------------------------- (2) cyclic

def gzip_sizes(project: Path, paths: list[str]) -> list[int]:
    """The gzip representation size of each URL (as the server will hold it)."""
    from werkzeug.test import Client

    from mendel_py.serving.wsgi import MendelMiddleware

    client = Client(MendelMiddleware(lambda e, s: [], str(project)))
    return [len(client.get(path, headers={"Accept-Encoding": "gzip"}).data) for path in paths]


def lru_hits(sizes: list[int], budget: int, cycles: int) -> float:
    """Hit rate of cycles 2.. for a plain byte-bounded LRU on the same cyclic sequence."""
    held: OrderedDict[int, int] = OrderedDict()
    total = hits = asked = 0
    for cycle in range(cycles):
        for key, size in enumerate(sizes):
            if key in held:
                held.move_to_end(key)
                hits += cycle > 0
            else:
                held[key] = size
                total += size
                while total > budget:
                    total -= held.popitem(last=False)[1]
            asked += cycle > 0
    return hits / asked


def bench_cyclic(project: Path, paths: list[str], cycles: int) -> dict[str, Any]:
    sizes = gzip_sizes(project, paths)
    budget = int(sum(sizes) / 1.5)
    with tempfile.TemporaryDirectory() as scratch:
        pack_log = Path(scratch) / "packs.log"
        port = free_port()
        env = server_env(project, pack_log, cache_bytes=budget)
        with running("bench-cold-cyclic", gunicorn(port, 1), port, env):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            times = []
            for _path in paths:  # cycle 1: every URL is new
                timed_get(connection, _path, "gzip")
            first_cycle_packs = len(packs(pack_log))
            for _cycle in range(cycles - 1):
                times += [timed_get(connection, path, "gzip")[0] for path in paths]
            connection.close()
        repeat_packs = len(packs(pack_log)) - first_cycle_packs
    asked = len(paths) * (cycles - 1)
    return {
        "urls": len(paths), "working_set_bytes": sum(sizes), "budget_bytes": budget,
        "hit_rate": 1 - repeat_packs / asked, "lru_hit_rate": lru_hits(sizes, budget, cycles),
        "median_ms": statistics.median(times) * 1000,
    }


# --------------------------------------------------------------------------- (3) workers

def bench_workers(project: Path, paths: list[str], workers: int, store: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch:
        pack_log = Path(scratch) / "packs.log"
        store_dir = Path(scratch) / "store" if store else None
        port = free_port()
        with running("bench-cold-workers", gunicorn(port, workers), port,
                     server_env(project, pack_log, store=store_dir)):
            answered = {path: set() for path in paths}
            with ThreadPoolExecutor(max_workers=workers * 2) as pool:
                for path in paths:
                    for _attempt in range(100):
                        for status, headers in pool.map(
                            lambda _n, path=path: one_request(port, path, {"Accept-Encoding": "gzip"}),
                            range(workers * 2),
                        ):
                            assert status == 200, status
                            answered[path].add(headers["x-worker"])
                        if len(answered[path]) == workers:
                            break
            memory = worker_memory(port)
        per_hash: dict[str, int] = {}
        for line in packs(pack_log):
            per_hash[line.split()[1]] = per_hash.get(line.split()[1], 0) + 1
    return {
        "workers": workers, "store": store, "hashes": len(paths),
        "every_worker_answered": sum(len(seen) == workers for seen in answered.values()),
        "packs": sum(per_hash.values()), "max_packs_per_hash": max(per_hash.values()),
        **memory,
    }


# --------------------------------------------------------------------------- main

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modules", type=int, default=2000)
    parser.add_argument("--variations", type=int, default=45)
    parser.add_argument("--samples", type=int, default=15, help="first requests per coding")
    parser.add_argument("--cyclic-urls", type=int, default=30)
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--hashes", type=int, default=50, help="hashes for the workers run")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--skip-node", action="store_true", help="don't run mendel-middleware")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    project, _requested = write_project(WORK / "project-cold", args.modules, args.variations)
    needed = max(3 * args.samples + 1, args.cyclic_urls, args.hashes)
    paths = distinct_paths(project, needed, args.variations, seed=7)
    report: dict[str, Any] = {"modules": args.modules, "variations": args.variations}
    report["levels"] = bench_levels(project, paths[0])
    report["first_request"] = bench_first_request(project, paths, args.samples)
    if not args.skip_node:
        report["mendel_middleware"] = bench_mendel_middleware(project, paths, args.samples)
    report["cyclic"] = bench_cyclic(project, paths[:args.cyclic_urls], args.cycles)
    report["workers"] = [
        bench_workers(project, paths[:args.hashes], 1, store=True),
        bench_workers(project, paths[:args.hashes], args.workers, store=False),
        bench_workers(project, paths[:args.hashes], args.workers, store=True),
    ]
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 0


def render(report: dict[str, Any]) -> str:
    first = report["first_request"]
    lines = [f"project: {report['modules']} modules, {report['variations']} variations"]
    for row in report["levels"]:
        lines.append(f"    {row['coder']:>5}: {row['ms']:7.1f} ms, {row['bytes'] / 1e6:.3f} MB "
                     f"({row['ratio']:.1%} of {row['input_bytes'] / 1e6:.2f} MB)")
    for coding in CODINGS:
        row = first[coding]
        lines.append(f"(1) first request, Accept-Encoding {coding:8}: median {row['median_ms']:6.1f} ms, "
                     f"{row['bytes'] / 1e6:.2f} MB sent as {row['sent_as']}")
    lines.append(f"    warm request, identity: median {first['warm_identity_ms']:.2f} ms")
    theirs = report.get("mendel_middleware")
    if theirs:
        lines.append(f"    mendel-middleware 4 (Express), same URLs: median {theirs['median_ms']:.1f} ms, "
                     f"{theirs['bytes'] / 1e6:.2f} MB sent as {theirs['sent_as']}")
    cyclic = report["cyclic"]
    lines.append(f"(2) cyclic, {cyclic['urls']} URLs, working set {cyclic['working_set_bytes'] / 1e6:.1f} MB "
                 f"= 1.5x budget: hit rate {cyclic['hit_rate']:.0%} (plain LRU: {cyclic['lru_hit_rate']:.0%}), "
                 f"median {cyclic['median_ms']:.1f} ms")
    for run in report["workers"]:
        lines.append(f"(3) {run['workers']} worker(s), store {'on' if run['store'] else 'off'}: "
                     f"{run['hashes']} hashes ({run['every_worker_answered']} answered by every worker), "
                     f"{run['packs']} packs, at most {run['max_packs_per_hash']} per hash; "
                     f"per worker RSS {run['rss_mib']:.0f} MiB, PSS {run['pss_mib']:.0f} MiB")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

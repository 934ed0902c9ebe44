"""Worker memory under floods of distinct cookies and distinct valid hashes, under gunicorn.

    .venv/bin/python benchmarks/bench_memory.py                 # the figures of the README
    .venv/bin/python benchmarks/bench_memory.py --cookies 500 --hashes 100 --modules 300

One gunicorn worker (gthread, 4 threads) serves the synthetic project of benchmarks/synth.py
(2,000 modules, 45 variations by default) behind a page that embeds `bundle_url("main")`.
The worker's RSS (VmRSS of /proc/<pid>/status) is read:

- after start-up and a warm-up;
- after N page requests, each with a distinct ~7 KB `mendel_variations` cookie of made-up names
  (plus one real variation, so every page also resolves a real tree): at 2,000 and 10,000;
- after N bundle requests, each for a distinct valid hash (trees resolved in this process from
  distinct variation sets): at 500 and 2,000.

The worker's cache budget (walk caches + packed bundles, both defaults) is printed next to the
figures, so "RSS after - RSS at start" can be read against it. `--json` prints one JSON object.
"""
from __future__ import annotations

import argparse
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench_serve import free_port, stop

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / ".work"
PROJECT_ENV = "MENDEL_BENCH_PROJECT"
BUDGET_ENV = "MENDEL_BENCH_CACHE_MIB"  # "walk,bundles" in MiB; default: the library defaults
COOKIE_BYTES = 7000
CLIENT_THREADS = 4


def make_page_app() -> Any:
    """The gunicorn entry point: a page embedding the main bundle's URL, behind the middleware."""
    from mendel_py.serving.wsgi import MendelMiddleware

    walk_bytes, bundle_bytes = cache_sizes(os.environ.get(BUDGET_ENV))

    def page(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        url = environ["mendel"].bundle_url("main")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [url.encode()]

    from mendel_py.core.trees import MendelTrees

    trees = MendelTrees(os.environ[PROJECT_ENV], cache_bytes=walk_bytes)
    return MendelMiddleware(page, trees, cache_bytes=bundle_bytes)


def cache_sizes(mib: str | None) -> tuple[int, int]:
    """(walk cache, bundle cache) bytes from "WALK,BUNDLES" in MiB, else the library defaults."""
    from mendel_py.core.trees import DEFAULT_CACHE_BYTES as WALK_BYTES
    from mendel_py.serving.bundles import BUNDLE_CACHE_BYTES as BUNDLE_BYTES

    if not mib:
        return WALK_BYTES, BUNDLE_BYTES
    walk, bundles = (int(part) * 2**20 for part in mib.split(","))
    return walk, bundles


def write_project(root: Path, modules: int) -> Path:
    import synth

    if not (root / ".mendelrc").exists() or not (root / f"modules-{modules}").exists():
        import shutil

        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        synth.write_synthetic_project(str(root), modules=modules, seed=1)
        (root / f"modules-{modules}").write_text("")
    return root


def distinct_hashes(project: Path, count: int) -> list[str]:
    """`count` distinct valid hashes of the main bundle, from distinct variation sets."""
    import synth

    from mendel_py.core.trees import MendelTrees

    trees = MendelTrees(str(project))
    found: dict[str, None] = {}
    for names in synth.random_variation_sets(count * 20, seed=3):
        _, chains = trees.variations_and_chains(names)
        found.setdefault(trees.find_tree_for_variations("main", chains).hash)
        if len(found) == count:
            return list(found)
    raise RuntimeError(f"only {len(found)} distinct trees reachable; asked for {count}")


def get(port: int, path: str, cookie: str | None = None) -> int:
    """One request on a fresh connection; the status code (the body is read and dropped)."""
    head = f"GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n"
    if cookie is not None:
        head += f"Cookie: {cookie}\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        sock.sendall((head + "\r\n").encode("latin-1"))
        first = sock.recv(65536)
        while sock.recv(1 << 20):
            pass
    return int(first.split(b" ", 2)[1])


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def worker_pid(master: int, deadline_s: float = 30) -> int:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        except OSError:
            children = []
        if children:
            return int(children[0])
        time.sleep(0.05)
    raise RuntimeError("no gunicorn worker appeared")


@contextmanager
def gunicorn(project: Path, port: int, env_extra: dict[str, str]) -> Iterator[int]:
    """One gunicorn worker serving the page app; yields the worker's pid; always stopped."""
    env = {**os.environ, PROJECT_ENV: str(project), "PYTHONPATH": str(REPO), **env_extra}
    command = [
        sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1",
        "--worker-class", "gthread", "--threads", "4", "--chdir", str(HERE),
        "--log-level", "warning", "--timeout", "300", "bench_memory:make_page_app()",
    ]
    with open(project.parent / "memory-gunicorn.log", "wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"gunicorn exited with {process.returncode}")
                try:
                    get(port, "/")
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            yield worker_pid(process.pid)
        finally:
            stop(process)


def flood_cookie(rng: random.Random, real: str) -> str:
    """~7 KB of made-up variation names (and one real one) in the variations cookie."""
    names = [real]
    size = len(real)
    while size < COOKIE_BYTES:
        name = f"x{rng.getrandbits(64):016x}"
        names.append(name)
        size += len(name) + 1
    rng.shuffle(names)
    return "mendel_variations=" + ",".join(names)


def run_requests(port: int, requests: list[tuple[str, str | None]]) -> None:
    with ThreadPoolExecutor(CLIENT_THREADS) as pool:
        statuses = list(pool.map(lambda request: get(port, *request), requests))
    bad = [status for status in statuses if status != 200]
    if bad:
        raise RuntimeError(f"{len(bad)} requests failed, e.g. {bad[0]}")


def measure(args: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(HERE))
    import synth

    from mendel_py.serving.memory import cache_budget

    budget_mib = ",".join(map(str, args.cache_mib)) if args.cache_mib else ""

    project = write_project(Path(args.work) / f"memory-{args.modules}", args.modules)
    hashes = distinct_hashes(project, max(args.hashes))
    real_names = [ids[0] for ids in synth.variation_ids()]
    rng = random.Random(11)
    port = free_port()
    budget_bytes = cache_budget(*cache_sizes(budget_mib))
    result: dict[str, Any] = {"modules": args.modules, "cache_budget_mib": budget_bytes // 2**20}
    with gunicorn(project, port, {BUDGET_ENV: budget_mib}) as pid:
        run_requests(port, [("/", None)] * 20)
        result["rss_start_mib"] = round(rss_kib(pid) / 1024, 1)
        sent = 0
        for target in sorted(args.cookies):
            batch = [("/", flood_cookie(rng, rng.choice(real_names))) for _ in range(target - sent)]
            run_requests(port, batch)
            sent = target
            result[f"rss_after_{target}_cookies_mib"] = round(rss_kib(pid) / 1024, 1)
        sent = 0
        for target in sorted(args.hashes):
            run_requests(port, [(f"/mendel/{h}/main.js", None) for h in hashes[sent:target]])
            sent = target
            result[f"rss_after_{target}_hashes_mib"] = round(rss_kib(pid) / 1024, 1)
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", type=int, default=2000)
    parser.add_argument("--cookies", type=int, nargs="+", default=[2000, 10000])
    parser.add_argument("--hashes", type=int, nargs="+", default=[500, 2000])
    parser.add_argument("--cache-mib", type=int, nargs=2, metavar=("WALK", "BUNDLES"),
                        help="cache budgets in MiB (default: the library defaults)")
    parser.add_argument("--work", default=str(WORK), help="folder for the generated project")
    parser.add_argument("--json", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from bench_manifest import print_result

    print_result(measure(args), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

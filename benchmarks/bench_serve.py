"""Benchmark of the bundle endpoint on warm (cached) bundle requests.

    .venv/bin/python benchmarks/bench_serve.py [--modules 300] [--duration 10]

(a) in-process: median cost of one warm request through werkzeug's test Client (target < 100 µs),
    and of the bare WSGI call;
(b) gunicorn on a free 127.0.0.1 port serving the synthetic project of benchmarks/synth.py,
    loaded with `wrk` (or a small Python load generator when wrk is missing) -> requests/s;
(c) the published mendel-middleware 4.0.0 on Express over the same project, when `node` and `npm`
    are available (installed into benchmarks/.node, which is not committed) -> requests/s, and the
    ratio (b)/(c) (target >= 10x).

Both servers use Mendel v2 hashes (`hash-format: mendel-v2`), so they answer the very same URL;
the script checks that they serve the same variation tree before timing anything. Generated files
live in benchmarks/.work. Every server started is stopped before the script exits.
"""
from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / ".work"
NODE_PREFIX = HERE / ".node"
PROJECT_ENV = "MENDEL_BENCH_PROJECT"
EXPRESS_SERVER = r"""
const express = require('express');
const MendelMiddleware = require('mendel-middleware');
const [projectDir, port] = process.argv.slice(2);
process.chdir(projectDir);
const app = express();
app.use(MendelMiddleware({basedir: projectDir}));
app.get('/url', (req, res) => {
  req.mendel.setVariations(String(req.query.v || '').split(',').filter(Boolean));
  res.type('text/plain').send(req.mendel.getURL('main'));
});
app.listen(Number(port), '127.0.0.1', () => console.log('ready'));
"""


# --------------------------------------------------------------------------- synthetic project

def write_project(root: Path, modules: int, variations: int) -> tuple[Path, list[str]]:
    """The shared synthetic project (benchmarks/synth.py) with Mendel v2 hashes; and the
    variations a warm request asks for."""
    import synth

    if root.exists():
        shutil.rmtree(root)
    synth.write_synthetic_project(str(root), modules=modules, variations=variations, seed=1)
    rc = root / ".mendelrc"
    # A literal ".js" in the route: both servers build and answer /mendel/<hash>/main.js, the one
    # spelling of that URL (mendel_py answers a route's canonical spelling only).
    text = rc.read_text(encoding="utf-8").replace("/mendel/:hash/:bundle", "/mendel/:hash/:bundle.js")
    rc.write_text(text + "hash-format: mendel-v2\n", encoding="utf-8")
    requested = next(synth.random_variation_sets(1, seed=1, variations=variations))
    return root, requested


def make_wsgi_app() -> Any:
    """The gunicorn entry point: the middleware over the project named by MENDEL_BENCH_PROJECT."""
    from mendel_py.serving.wsgi import MendelMiddleware

    def not_found(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not a bundle\n"]

    return MendelMiddleware(not_found, os.environ[PROJECT_ENV])


# --------------------------------------------------------------------------- (a) in process

def bundle_path(project: Path, requested: list[str]) -> str:
    """The warm URL: the bundle for `requested`, as the route builds it (and Mendel 4 does)."""
    from mendel_py.core.trees import MendelTrees

    trees = MendelTrees(str(project))
    _matching, chains = trees.variations_and_chains(requested)
    return trees.config.bundle_path("main", trees.find_tree_for_variations("main", chains).hash)


def median_microseconds(run: Any, rounds: int) -> float:
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1e6


def bench_in_process(project: Path, path: str, rounds: int) -> float:
    from werkzeug.test import Client, EnvironBuilder

    middleware = make_wsgi_app_for(project)
    client = Client(middleware)
    first = client.get(path)
    assert first.status_code == 200, first.status
    print(f"bundle: {len(first.data)} bytes, {path}")
    via_client = median_microseconds(lambda: client.get(path), rounds)
    environ = EnvironBuilder(path).get_environ()

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        return None

    bare = median_microseconds(lambda: middleware(dict(environ), start_response), rounds)
    verdict = "ok" if via_client < 100 else "ABOVE TARGET"
    print(f"(a) in-process warm request via werkzeug Client: median {via_client:.1f} µs "
          f"(target < 100 µs: {verdict}); bare WSGI call: median {bare:.1f} µs")
    return via_client


def make_wsgi_app_for(project: Path) -> Any:
    os.environ[PROJECT_ENV] = str(project)
    return make_wsgi_app()


# --------------------------------------------------------------------------- servers

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(port: int, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def wait_until_serving(process: subprocess.Popen[bytes], port: int, deadline_s: float = 60) -> None:
    """Poll the port until the server answers HTTP (or fail if it exits)."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early with code {process.returncode}")
        try:
            http_get(port, "/", timeout=1)
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start in time")


@contextmanager
def running(name: str, command: list[str], port: int, env: dict[str, str]) -> Iterator[None]:
    """Run a server for the duration of the block (output in .work/<name>.log); always stopped."""
    WORK.mkdir(exist_ok=True)
    with open(WORK / f"{name}.log", "wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until_serving(process, port)
            yield
        finally:
            stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def gunicorn_command(port: int, workers: int, threads: int) -> list[str]:
    return [
        sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers), "--worker-class", "gthread", "--threads", str(threads),
        "--chdir", str(HERE), "--log-level", "warning", "bench_serve:make_wsgi_app()",
    ]


# --------------------------------------------------------------------------- load

def load(port: int, path: str, args: argparse.Namespace) -> float:
    """Requests per second on `path` with keep-alive connections."""
    headers = {"Accept-Encoding": args.accept_encoding} if args.accept_encoding else {}
    if shutil.which("wrk"):
        return load_with_wrk(port, path, args.duration, args.connections, headers)
    return load_with_python(port, path, args.duration, args.connections, headers)


def load_with_wrk(
    port: int, path: str, duration: float, connections: int, headers: dict[str, str]
) -> float:
    threads = max(1, min(2, connections))
    header_args = [arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")]
    done = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s",
         *header_args, f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, check=True,
    )
    if "Non-2xx" in done.stdout:
        raise RuntimeError(f"non-2xx responses under load:\n{done.stdout}")
    match = re.search(r"Requests/sec:\s*([\d.]+)", done.stdout)
    if not match:
        raise RuntimeError(f"unexpected wrk output:\n{done.stdout}")
    return float(match.group(1))


def load_with_python(
    port: int, path: str, duration: float, connections: int, headers: dict[str, str]
) -> float:
    """A plain keep-alive load generator (slower than wrk: numbers are a lower bound)."""
    counts = [0] * connections
    failures: list[str] = []
    stop_at = time.monotonic() + duration

    def worker(slot: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            while time.monotonic() < stop_at:
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    failures.append(str(response.status))
                    return
                counts[slot] += 1
        finally:
            connection.close()

    started = time.monotonic()
    workers = [threading.Thread(target=worker, args=(slot,)) for slot in range(connections)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    if failures:
        raise RuntimeError(f"non-200 responses under load: {failures[:3]}")
    return sum(counts) / (time.monotonic() - started)


# --------------------------------------------------------------------------- (b) and (c)

def load_note(args: argparse.Namespace) -> str:
    tool = "wrk" if shutil.which("wrk") else "python load generator"
    coding = args.accept_encoding or "-"
    return f" [{tool}, {args.connections} connections, Accept-Encoding: {coding}]"


def bench_gunicorn(project: Path, path: str, args: argparse.Namespace) -> float:
    port = free_port()
    env = dict(os.environ, **{PROJECT_ENV: str(project)})
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    with running("gunicorn", gunicorn_command(port, args.workers, args.threads), port, env):
        status, _body = http_get(port, path)
        assert status == 200, status
        rate = load(port, path, args)
    shape = f"{args.workers} worker(s) x {args.threads} threads"
    print(f"(b) gunicorn ({shape}): {rate:,.0f} requests/s{load_note(args)}")
    return rate


def ensure_mendel_middleware(install: bool) -> Path | None:
    """benchmarks/.node with mendel-middleware 4.0.0 and express, installed with npm if asked."""
    modules = NODE_PREFIX / "node_modules"
    if (modules / "mendel-middleware").is_dir() and (modules / "express").is_dir():
        return modules
    if not install or not shutil.which("npm"):
        return None
    NODE_PREFIX.mkdir(exist_ok=True)
    subprocess.run(["npm", "install", "--prefix", str(NODE_PREFIX), "--no-audit", "--no-fund",
                    "mendel-middleware@4.0.0", "express@4"], check=True, capture_output=True)
    return modules


@contextmanager
def express_server(project: Path, modules: Path, name: str = "express") -> Iterator[int]:
    """mendel-middleware 4 on Express serving `project` for the block; yields its port."""
    WORK.mkdir(exist_ok=True)
    script = WORK / "mendel_express.js"
    script.write_text(EXPRESS_SERVER)
    port = free_port()
    env = dict(os.environ, NODE_PATH=str(modules), NODE_ENV="production")
    with running(name, ["node", str(script), str(project), str(port)], port, env):
        yield port


def bench_express(
    project: Path, path: str, requested: list[str], expected_body: bytes, args: argparse.Namespace
) -> float | None:
    if not shutil.which("node"):
        print("(c) skipped: node is not installed")
        return None
    modules = ensure_mendel_middleware(install=not args.no_install)
    if modules is None:
        print("(c) skipped: mendel-middleware is not installed in benchmarks/.node")
        return None
    with express_server(project, modules) as port:
        _status, mendel_url = http_get(port, "/url?v=" + ",".join(requested))
        if mendel_url.decode() != path:
            raise RuntimeError(f"Mendel builds {mendel_url.decode()!r}, mendel_py {path!r}")
        status, body = http_get(port, path)
        assert status == 200, status
        check_same_modules(body, expected_body)
        rate = load(port, path, args)
    print(f"(c) mendel-middleware 4.0.0 on Express (1 process): {rate:,.0f} requests/s"
          f"{load_note(args)}")
    return rate


def check_same_modules(mendel_body: bytes, our_body: bytes) -> None:
    """Both bundles carry the same module sources (the preludes differ)."""
    pattern = re.compile(rb"function\(require,module,exports\)\{\n(.*?)\n\}", re.S)
    theirs, ours = sorted(pattern.findall(mendel_body)), sorted(pattern.findall(our_body))
    if theirs != ours or not ours:
        raise RuntimeError("mendel-middleware and mendel_py serve different modules for one hash")


# --------------------------------------------------------------------------- main

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modules", type=int, default=300, help="modules in the synthetic bundle")
    parser.add_argument("--variations", type=int, default=45, help="variations in the project")
    parser.add_argument("--rounds", type=int, default=5000, help="in-process requests timed")
    parser.add_argument("--duration", type=float, default=10, help="seconds of load per server")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--accept-encoding", default="",
                        help='Accept-Encoding sent under load, e.g. "gzip" as a CDN would '
                             "(mendel-middleware never compresses); default: none")
    parser.add_argument("--skip-servers", action="store_true", help="only run (a)")
    parser.add_argument("--skip-node", action="store_true", help="don't run (c)")
    parser.add_argument("--no-install", action="store_true", help="never run npm install")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(REPO))
    project, requested = write_project(WORK / "project", args.modules, args.variations)
    path = bundle_path(project, requested)
    print(f"project: {args.modules} modules, {args.variations} variations; warm request for "
          f"{','.join(requested)}")
    bench_in_process(project, path, args.rounds)
    if args.skip_servers:
        return 0
    ours = bench_gunicorn(project, path, args)
    if args.skip_node:
        return 0
    expected = make_wsgi_app_for(project)
    from werkzeug.test import Client

    theirs = bench_express(project, path, requested, Client(expected).get(path).data, args)
    if theirs:
        ratio = ours / theirs
        verdict = "ok" if ratio >= 10 else "BELOW TARGET"
        print(f"ratio mendel_py / mendel-middleware: {ratio:.1f}x (target >= 10x: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

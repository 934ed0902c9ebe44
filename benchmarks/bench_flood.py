"""Worker CPU per request under floods, over real HTTP to gunicorn (the cost-bound issue).

    .venv/bin/python benchmarks/bench_flood.py                       # the figures of benchmarks/README.md
    .venv/bin/python benchmarks/bench_flood.py --modules 300 --requests 20 --rounds 3 --skip-node

One gunicorn worker (sync, `--preload`, `prefork.prepare_for_fork` in the master) serves the
2,000-module synthetic project (benchmarks/synth.py); one client sends each flood sequentially on
a keep-alive connection. CPU per request is the worker's utime + stime (from /proc/<pid>/stat,
in clock ticks) over a round of `--requests` requests, divided by them; the median of
`--rounds` rounds is reported, with the client-side median time beside it. Floods:

- cold identity / cold gzip / cold br: every request a hash new to the worker (disjoint sets per
  coding), so each resolves the hash, packs and, for gzip and br, compresses;
- 304: `If-None-Match` with the ETag of a warm bundle;
- 404 garbage: random strings in the hash segment;
- generations: URLs cycling over 6 retained generations (5 deploys after the first; each request a
  new variation set, so each is a cold bundle of a past or current generation) on a project with
  the generation store and v3 hashes (the others use Mendel v2 hashes and a ``.js`` route, so
  mendel-middleware 4 on Express answers the very same URLs: its CPU per request on the cold gzip
  flood, from /proc as well, gives the ratio).

Also measured in process: what recording one metric costs (`metrics.ServingMetrics`).
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import time
import timeit
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

from bench_cold import distinct_paths  # noqa: E402
from bench_serve import WORK, ensure_mendel_middleware, express_server, free_port, running, write_project  # noqa: E402

ENV_PROJECT = "MENDEL_BENCH_PROJECT"
ENV_STORE = "MENDEL_BENCH_STORE"
TICKS = os.sysconf("SC_CLK_TCK")
CODINGS = ("identity", "gzip", "br")
GENERATIONS = 6


def make_app() -> Any:
    """The gunicorn entry point (preloaded): the middleware over MENDEL_BENCH_PROJECT."""
    from mendel_py.serving.prefork import prepare_for_fork
    from mendel_py.serving.wsgi import MendelMiddleware

    def not_found(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not a bundle\n"]

    middleware = MendelMiddleware(not_found, os.environ[ENV_PROJECT], store_dir=os.environ.get(ENV_STORE) or None)
    prepare_for_fork(middleware.trees)
    return middleware


def gunicorn(port: int, preload: bool = True) -> list[str]:
    return [
        sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1",
        "--worker-class", "sync", *(["--preload"] if preload else []), "--chdir", str(HERE),
        "--log-level", "warning", "--timeout", "120", "bench_flood:make_app()",
    ]


def server_env(project: Path, store: str | None = None) -> dict[str, str]:
    env = dict(os.environ, **{ENV_PROJECT: str(project), ENV_STORE: store or ""})
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), str(HERE), env.get("PYTHONPATH")]))
    return env


def listening_pid(port: int) -> int:
    """The pid of the process that has the socket listening on 127.0.0.1:`port` open and serves
    it: gunicorn's worker (the master holds the socket too, so: the youngest holder)."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(f":{port:04X}") and fields[3] == "0A":
            inode = fields[9]
    if inode is None:
        raise RuntimeError(f"nothing listens on {port}")
    holders = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                    holders.append(int(pid))
                    break
        except OSError:
            continue
    return max(holders, key=lambda pid: int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]))


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def flood(port: int, pid: int, rounds: list[list[tuple[str, dict[str, str]]]], timeout: float = 60) -> dict[str, Any]:
    """Each round's requests on one keep-alive connection: median CPU ms and client ms per request.
    A request that gets no answer within `timeout` ends the flood (reported as "hung")."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    cpu, client, statuses = [], [], {}
    for requests in rounds:
        before = cpu_seconds(pid)
        for path, headers in requests:
            started = time.perf_counter()
            try:
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                response.read()
            except TimeoutError:
                connection.close()
                statuses["hung"] = statuses.get("hung", 0) + 1
                return {"cpu_ms": float("nan"), "cpu_ms_rounds": [round(c * 1000, 2) for c in cpu],
                        "client_ms": float("nan"), "statuses": statuses, "hung_after_s": timeout}
            client.append(time.perf_counter() - started)
            statuses[response.status] = statuses.get(response.status, 0) + 1
        cpu.append((cpu_seconds(pid) - before) / len(requests))
    connection.close()
    return {
        "cpu_ms": statistics.median(cpu) * 1000, "cpu_ms_rounds": [round(c * 1000, 2) for c in cpu],
        "client_ms": statistics.median(client) * 1000, "statuses": statuses,
    }



def split(items: list[Any], rounds: int, per_round: int) -> list[list[Any]]:
    return [items[n * per_round:(n + 1) * per_round] for n in range(rounds)]


def bench_floods(project: Path, args: argparse.Namespace) -> dict[str, Any]:
    per = args.requests * args.rounds
    paths = distinct_paths(project, per * len(CODINGS) + 1, seed=11, variations=args.variations)
    warm = paths[-1]
    rng = random.Random(5)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    garbage = ["/mendel/" + "".join(rng.choice(alphabet) for _ in range(rng.randint(8, 60))) + "/main.js"
               for _ in range(per)]
    report: dict[str, Any] = {}
    port = free_port()
    store = tempfile.mkdtemp(prefix="mendel-bench-store-") if args.store else None
    with running("bench-flood", gunicorn(port), port, server_env(project, store)):
        pid = listening_pid(port)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.request("GET", warm)
        response = connection.getresponse()
        response.read()
        etag = response.getheader("ETag")
        connection.close()
        for n, coding in enumerate(CODINGS):
            own = [(path, {"Accept-Encoding": coding}) for path in paths[n * per:(n + 1) * per]]
            report[f"cold {coding}"] = flood(port, pid, split(own, args.rounds, args.requests))
        report["304"] = flood(port, pid, split([(warm, {"If-None-Match": etag})] * per, args.rounds, args.requests))
        report["404 garbage"] = flood(port, pid, split([(g, {}) for g in garbage], args.rounds, args.requests))
        report["warm identity"] = flood(port, pid, split([(warm, {})] * per, args.rounds, args.requests))
    return report


def bench_generations(args: argparse.Namespace, preload: bool = True) -> dict[str, Any]:
    """URLs cycling over every retained generation (v3 hashes name their generation); without
    `preload` the worker loads the app itself instead of the master (nothing forked mid-way)."""
    import synth
    from bench_deploys import mutate

    from mendel_py.config import load_config
    from mendel_py.core.trees import MendelTrees
    from mendel_py.deploy.publish import publish_project

    with tempfile.TemporaryDirectory(prefix="mendel-bench-flood-") as tmp:
        project = Path(synth.write_synthetic_project(os.path.join(tmp, "project"), modules=args.modules,
                                                     variations=args.variations))
        per = args.requests * args.rounds
        sets = list(synth.random_variation_sets(per * 3, seed=3, variations=args.variations))
        by_generation: list[list[str]] = []
        for n in range(GENERATIONS):
            if n:
                mutate(str(project), n)
            publish_project(load_config(str(project)))
            trees = MendelTrees(str(project))
            urls: dict[str, str] = {}
            for names in sets:
                tree = trees.find_tree_for_variations("main", trees.variations_and_chains(names)[1])
                urls.setdefault(tree.hash, trees.config.bundle_path("main", tree.hash))
            by_generation.append(list(urls.values()))
        count = min(len(urls) for urls in by_generation)
        cycle = [(by_generation[g][i], {}) for i in range(count) for g in range(GENERATIONS)][:per]
        port = free_port()
        with running("bench-flood-generations", gunicorn(port, preload), port, server_env(project)):
            pid = listening_pid(port)
            result = flood(port, pid, split(cycle, args.rounds, len(cycle) // args.rounds), timeout=20)
            if result["statuses"].get("hung"):  # a hung worker ignores its master's TERM: stop it here
                os.kill(pid, signal.SIGKILL)
        result["generations"] = GENERATIONS
        result["requests"] = len(cycle)
        result["preload"] = preload
        return result


def bench_mendel_middleware(project: Path, args: argparse.Namespace) -> dict[str, Any] | None:
    modules = ensure_mendel_middleware(install=True)
    if modules is None:
        return None
    per = args.requests * args.rounds
    paths = distinct_paths(project, per, seed=11, variations=args.variations)
    with express_server(project, modules, "bench-flood-express") as port:
        pid = listening_pid(port)
        return flood(port, pid, split([(p, {"Accept-Encoding": "gzip"}) for p in paths], args.rounds, args.requests))


def metric_cost_ns() -> float:
    """One request's metric record on the hot path, as `MendelMiddleware.serve_bundle` does it
    (`metrics.counts[HIT] += 1`), less the cost of the empty call that timeit makes."""
    from mendel_py.serving.metrics import HIT, ServingMetrics

    metrics = ServingMetrics(("gzip",))

    def record() -> None:
        metrics.counts[HIT] += 1

    runs = timeit.repeat(record, number=200_000, repeat=7)
    baseline = timeit.repeat(lambda: None, number=200_000, repeat=7)
    return (statistics.median(runs) - statistics.median(baseline)) / 200_000 * 1e9


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modules", type=int, default=2000)
    parser.add_argument("--variations", type=int, default=45)
    parser.add_argument("--requests", type=int, default=40, help="requests per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--skip-node", action="store_true")
    parser.add_argument("--skip-generations", action="store_true")
    parser.add_argument("--store", action="store_true", help="serve with the on-disk bundle store (sendfile)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    project, _requested = write_project(WORK / "project-flood", args.modules, args.variations)
    report: dict[str, Any] = {"modules": args.modules, "floods": bench_floods(project, args)}
    if not args.skip_generations:
        report["floods"]["generations"] = bench_generations(args)
        if report["floods"]["generations"]["statuses"].get("hung"):  # and so measured without fork
            report["floods"]["generations, no preload"] = bench_generations(args, preload=False)
    if not args.skip_node:
        report["mendel_middleware"] = bench_mendel_middleware(project, args)
    report["metric_record_ns"] = metric_cost_ns()
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(render(report))
    return 0


def render(report: dict[str, Any]) -> str:
    lines = [f"{report['modules']} modules; worker CPU per request, median of rounds (client time)"]
    theirs = report.get("mendel_middleware")
    for name, row in report["floods"].items():
        ratio = f", {row['cpu_ms'] / theirs['cpu_ms']:.2f}x mendel-middleware" if theirs and theirs["cpu_ms"] else ""
        lines.append(f"  {name:15} {row['cpu_ms']:7.2f} ms CPU ({row['client_ms']:.2f} ms client) "
                     f"statuses {row['statuses']} rounds {row['cpu_ms_rounds']}{ratio}")
    if theirs:
        lines.append(f"  mendel-middleware 4, cold gzip: {theirs['cpu_ms']:.2f} ms CPU "
                     f"({theirs['client_ms']:.2f} ms client) rounds {theirs['cpu_ms_rounds']}")
    lines.append(f"  recording one metric: {report['metric_record_ns']:.0f} ns")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

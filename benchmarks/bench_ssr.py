"""Benchmark server-side rendering: node vs the sandbox's QuickJS and V8, Preact and React.

    .venv/bin/python benchmarks/bench_ssr.py [--runs 50] [--rounds 3] [--items 1000] [--http-seconds 4] [--json]

For each library (the React 19 and Preact 10 test projects of `tests/helpers/ssr_project.py`,
npm packages installed into `benchmarks/.node`), on the base tree, a page of `--items` items:

- node: the packer's bundle of the tree evaluated once in a bare `vm` context (the web globals a
  renderer needs, nothing of node's), warmed by 50 renders, then `--runs` renders, each with new
  props passed as JSON and parsed in the render;
- quickjs, v8: `Renderer.render_tree` with new props every render, fresh state included (a fresh
  module registry, the globals restored), warmed by 50 renders, then `--runs` renders.

The runs are split into `--rounds` rounds, each a node process (warmed again) then each engine
(after `REWARM` untimed renders), the same props in the same order, so the machine's drift during
a run reaches all three alike. Medians in milliseconds over all
rounds, each engine's ratio to node in the same run (targets: quickjs at most
25x, v8 at most 2x); the heap of one cached tree context as its engine counts it; and, unless
`--http-seconds 0`, requests per second to a server-rendered page (the same props) from gunicorn
(sync workers, 2, preloaded) with 4 client threads, per engine. Then, unless `--dev-edits 0`,
the development loop on the example shop: from saving an edit of its server-rendered offer box to
a page whose server HTML shows it (median of `--dev-edits`; target 300 ms).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests" / "helpers"))

TARGETS = {"quickjs": 25.0, "v8": 2.0}
ENGINES = tuple(TARGETS)
WARM = 50
REWARM = 10
"""Untimed renders of each engine at the start of every round (the other engine ran in between, as
node's process of the round is warmed again)."""

NODE_HARNESS = r"""
const vm = require('vm'), fs = require('fs');
const [bundleFile, id, propsFile, warm, runs, offset] = process.argv.slice(2);
const sandbox = {TextEncoder, TextDecoder, queueMicrotask, MessageChannel, setTimeout, clearTimeout,
  console: {log() {}, warn() {}, error() {}}};
vm.createContext(sandbox);
vm.runInContext(fs.readFileSync(bundleFile, 'utf8'), sandbox);
const render = vm.runInContext('require(' + JSON.stringify(JSON.parse(id)) + ').render', sandbox);
const props = JSON.parse(fs.readFileSync(propsFile, 'utf8'));  // one JSON text per render
const times = [];
let length = 0;
for (let i = 0; i < Number(warm) + Number(runs); i++) {
  const started = process.hrtime.bigint();
  const html = render(JSON.parse(props[(Number(offset) + i) % props.length]));
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  length = html.length;
  if (i >= Number(warm)) times.push(ms);
}
process.stdout.write(JSON.stringify({times, length}), () => process.exit(0));  // React keeps a port open
"""


def median(values: list[float]) -> float:
    return statistics.median(values)


def props_texts(items: int, count: int) -> list[str]:
    from ssr_project import many_items_props

    return [json.dumps(many_items_props(items, seed)) for seed in range(count)]


class NodeBench:
    """node's harness on the packer's bundle of the base tree (written once into `work`), one
    process per round."""

    def __init__(self, root: Path, work: Path, props: list[str]):
        from mendel_py.core.trees import MendelTrees
        from mendel_py.packing.packer import pack_js, packer_for

        trees = MendelTrees(str(root))
        tree = trees.find_tree_for_variations("main", trees.variations_and_chains([])[1])
        self.bundle = work / "bundle.js"
        self.bundle.write_bytes(pack_js(tree))
        ids = [module.id for module in tree.manifest.modules]
        self.public = packer_for(tree.manifest).public_ids[ids.index("render.js")]
        self.props = work / "props.json"
        self.props.write_text(json.dumps(props), encoding="utf-8")
        self.harness = work / "harness.cjs"
        self.harness.write_text(NODE_HARNESS)
        self.length = 0

    def time(self, count: int, offset: int) -> list[float]:
        """The times (ms) of `count` renders after WARM, with the props from index `offset` on."""
        done = subprocess.run(
            ["node", str(self.harness), str(self.bundle), json.dumps(self.public), str(self.props), str(WARM),
             str(count), str(offset)],
            capture_output=True, text=True, timeout=300, check=True,
        )
        report = json.loads(done.stdout)
        self.length = report["length"]
        times: list[float] = report["times"]
        return times


class EngineBench:
    """`Renderer.render_tree` of the base tree in one engine, warmed once, timed in rounds."""

    def __init__(self, root: Path, engine: str, props: list[str]):
        from mendel_py.core.trees import MendelTrees
        from mendel_py.ssr import Renderer

        trees = MendelTrees(str(root))
        self.tree = trees.find_tree_for_variations("main", trees.variations_and_chains([])[1])
        self.renderer = Renderer(trees, engine=engine)
        self.props = [json.loads(text) for text in props]
        self.length = 0
        self.time(WARM, 0)

    def time(self, count: int, offset: int) -> list[float]:
        """The times (ms) of `count` renders, with the props from index `offset` on."""
        times = []
        for index in range(offset, offset + count):
            props = self.props[index % len(self.props)]
            started = time.perf_counter()
            html = self.renderer.render_tree("main", self.tree, props)
            times.append((time.perf_counter() - started) * 1000)
            self.length = len(html)
        return times

    def context_bytes(self) -> int:
        slot = next(iter(self.renderer.contexts._slots().values()))
        return slot.engine.memory_bytes()

    def close(self) -> None:
        self.renderer.contexts.clear()


GUNICORN_CONF = """
import os
wsgi_app = "ssr_app:create_app()"
pythonpath = {helpers!r}
bind = [os.environ["SSR_BIND"]]
workers = 2
worker_class = "sync"
preload_app = True
"""


def bench_http(root: Path, work: Path, engine: str, props: list[str], seconds: float) -> float:
    """Requests per second to the server-rendered page under gunicorn."""
    from e2e_support import free_port, stop_process, wait_for_port

    port = free_port()
    conf = work / f"gunicorn-{engine}.conf.py"
    conf.write_text(GUNICORN_CONF.format(helpers=str(REPO / "tests" / "helpers")))
    (work / "page-props.json").write_text(props[0], encoding="utf-8")
    env = {**os.environ, "SSR_BIND": f"127.0.0.1:{port}", "SSR_BASEDIR": str(root),
           "SSR_PROPS_FILE": str(work / "page-props.json"), "MENDEL_SSR_ENGINE": engine}
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(conf)], cwd=REPO, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, process)
        url = f"http://127.0.0.1:{port}/"
        for _ in range(20):  # every worker makes its context before the clock starts
            urllib.request.urlopen(url, timeout=30).read()
        count = [0]
        stop = time.monotonic() + seconds

        def client() -> None:
            while time.monotonic() < stop:
                with urllib.request.urlopen(url, timeout=30) as response:
                    assert b"data-mendel-ssr" in response.read()
                count[0] += 1

        started = time.monotonic()
        threads = [threading.Thread(target=client) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return count[0] / (time.monotonic() - started)
    finally:
        stop_process(process)


DEV_TARGET_MS = 300.0


def bench_dev_edit(edits: int) -> list[float]:
    """Milliseconds from saving an edit of the shop's server-rendered offer box to a page whose
    server HTML shows it, under the development loop: `DevLoop.apply` (the watcher's call; its
    own wait for the file system to settle is not counted) plus the next page request, which
    makes the new tree's context and renders."""
    from werkzeug.test import Client
    from werkzeug.wrappers import Response

    from e2e_support import build_example_project
    from mendel_py.dev.loop import DevLoop, DevMiddleware
    from mendel_py.serving.wsgi import MendelMiddleware

    def page(environ: dict[str, Any], start_response: Any) -> Any:
        html = environ["mendel"].render("main", {"products": [{"name": "Beans", "price": "$1"}]})
        return Response(f"<html><body>{html}</body></html>", mimetype="text/html")(environ, start_response)

    with tempfile.TemporaryDirectory(prefix="mendel-bench-ssr-dev-") as temp:
        project = build_example_project(Path(temp))
        middleware = MendelMiddleware(page, str(project), development=True)
        loop = DevLoop(middleware, on_status=lambda status: None)
        client = Client(DevMiddleware(middleware, loop, "/_mendel/dev/events"))
        client.set_cookie("mendel_variations", "bucket_D")
        offer = project / "examples/shop/src/variations/bucket_D/components/offer.js"
        text = offer.read_text()
        client.get("/")
        times = []
        for edit in range(edits + 1):  # the first edit warms up and is dropped
            headline = f"Promo week {edit}"
            started = time.perf_counter()
            offer.write_text(text.replace("Promo week", headline))
            loop.apply([str(offer)])
            html = client.get("/").get_data(as_text=True)
            elapsed = (time.perf_counter() - started) * 1000
            assert headline + ":" in html, html[:400]
            if edit:
                times.append(elapsed)
        loop.stop()
        return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50, help="timed renders of each (node, quickjs, v8)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds the runs are split into, interleaved")
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--http-seconds", type=float, default=4.0)
    parser.add_argument("--libraries", default="preact,react")
    parser.add_argument("--dev-edits", type=int, default=9, help="edits timed under the dev loop (0: none)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from ssr_project import make_ssr_project

    results: dict[str, Any] = {"items": args.items, "runs": args.runs, "warm": WARM, "libraries": {}}
    with tempfile.TemporaryDirectory(prefix="mendel-bench-ssr-") as temp:
        for library in args.libraries.split(","):
            work = Path(temp) / library
            work.mkdir()
            root = make_ssr_project(work / "project", library)
            props = props_texts(args.items, WARM + args.runs)
            # rounds interleave node and the engines, so a drift of the machine's speed during the
            # run reaches the peer and the sandbox alike
            per_round = -(-args.runs // args.rounds)
            node = NodeBench(root, work, props)
            engines = {engine: EngineBench(root, engine, props) for engine in ENGINES}
            node_times: list[float] = []
            times: dict[str, list[float]] = {engine: [] for engine in ENGINES}
            for round_ in range(args.rounds):
                offset = round_ * per_round  # (each round's timed renders take the props node's did)
                node_times += node.time(per_round, offset)
                for engine, bench in engines.items():
                    bench.time(REWARM, offset + WARM - REWARM)  # (as node's process is warmed again)
                    times[engine] += bench.time(per_round, offset + WARM)
            node_ms = median(node_times)
            node_length = node.length
            row: dict[str, Any] = {"node_ms": node_ms, "html_bytes": node_length, "engines": {}}
            for engine, bench in engines.items():
                ms, length, size = median(times[engine]), bench.length, bench.context_bytes()
                bench.close()
                # node's harness keeps module state (the app's render counter grows); the sandbox's
                # reads 1 every time: the HTML may differ by those digits, no more
                assert abs(length - node_length) <= 3, (library, engine, length, node_length)
                row["engines"][engine] = {
                    "ms": ms, "ratio": ms / node_ms, "target": TARGETS[engine], "context_bytes": size,
                }
                if args.http_seconds > 0:
                    row["engines"][engine]["gunicorn_rps"] = bench_http(root, work, engine, props, args.http_seconds)
            results["libraries"][library] = row
    if args.dev_edits:
        dev = bench_dev_edit(args.dev_edits)
        results["dev_edit_ms"] = {"median": median(dev), "max": max(dev), "target": DEV_TARGET_MS}
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{args.items}-item page, base tree, medians of {args.runs} renders after {WARM} warm ones in"
          f" {args.rounds} interleaved rounds, new props each")
    print(f"{'library':8} {'engine':8} {'ms':>8} {'x node':>8} {'target':>7} {'context':>10} {'gunicorn':>10}")
    for library, row in results["libraries"].items():
        print(f"{library:8} {'node':8} {row['node_ms']:8.2f} {1.0:8.1f} {'':>7} {'':>10} {'':>10}")
        for engine, cell in row["engines"].items():
            rps = f"{cell['gunicorn_rps']:.0f} req/s" if "gunicorn_rps" in cell else ""
            print(f"{'':8} {engine:8} {cell['ms']:8.2f} {cell['ratio']:8.1f} {cell['target']:6.0f}x "
                  f"{cell['context_bytes'] / 2**20:7.1f} MiB {rps:>10}")
    if "dev_edit_ms" in results:
        dev = results["dev_edit_ms"]
        print(f"mendel dev: saved edit -> server HTML: median {dev['median']:.0f} ms, max {dev['max']:.0f} ms"
              f" (target {dev['target']:.0f} ms)")


if __name__ == "__main__":
    main()

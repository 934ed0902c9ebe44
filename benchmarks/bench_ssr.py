"""Benchmark server-side rendering: node vs the sandbox's QuickJS and V8, Preact and React.

    .venv/bin/python benchmarks/bench_ssr.py [--runs 50] [--items 1000] [--http-seconds 4] [--json]

For each library (the React 19 and Preact 10 test projects of `tests/helpers/ssr_project.py`,
npm packages installed into `benchmarks/.node`), on the base tree, a page of `--items` items:

- node: the packer's bundle of the tree evaluated once in a bare `vm` context (the web globals a
  renderer needs, nothing of node's), warmed by 50 renders, then `--runs` renders, each with new
  props passed as JSON and parsed in the render;
- quickjs, v8: `Renderer.render_tree` with new props every render, fresh state included (a fresh
  module registry, the globals restored), warmed by 50 renders, then `--runs` renders.

Medians in milliseconds, each engine's ratio to node in the same run (targets: quickjs at most
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
WARM = 50

NODE_HARNESS = r"""
const vm = require('vm'), fs = require('fs');
const [bundleFile, id, propsFile, warm, runs] = process.argv.slice(2);
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
  const html = render(JSON.parse(props[i % props.length]));
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


def bench_node(root: Path, work: Path, props: list[str], runs: int) -> tuple[float, int]:
    from mendel_py.core.trees import MendelTrees
    from mendel_py.packing.packer import pack_js, packer_for

    trees = MendelTrees(str(root))
    tree = trees.find_tree_for_variations("main", trees.variations_and_chains([])[1])
    bundle = work / "bundle.js"
    bundle.write_bytes(pack_js(tree))
    ids = [module.id for module in tree.manifest.modules]
    public = packer_for(tree.manifest).public_ids[ids.index("render.js")]
    (work / "props.json").write_text(json.dumps(props), encoding="utf-8")
    (work / "harness.cjs").write_text(NODE_HARNESS)
    done = subprocess.run(
        ["node", str(work / "harness.cjs"), str(bundle), json.dumps(public), str(work / "props.json"), str(WARM),
         str(runs)],
        capture_output=True, text=True, timeout=300, check=True,
    )
    report = json.loads(done.stdout)
    return median(report["times"]), report["length"]


def bench_engine(root: Path, engine: str, props: list[str], runs: int) -> tuple[float, int, int]:
    """(median ms, HTML length, bytes of the tree's context)."""
    from mendel_py.core.trees import MendelTrees
    from mendel_py.ssr import Renderer

    trees = MendelTrees(str(root))
    tree = trees.find_tree_for_variations("main", trees.variations_and_chains([])[1])
    renderer = Renderer(trees, engine=engine)
    parsed = [json.loads(text) for text in props]
    times, length = [], 0
    for i in range(WARM + runs):
        started = time.perf_counter()
        html = renderer.render_tree("main", tree, parsed[i % len(parsed)])
        elapsed = (time.perf_counter() - started) * 1000
        length = len(html)
        if i >= WARM:
            times.append(elapsed)
    slot = next(iter(renderer.contexts._slots().values()))
    size = slot.engine.memory_bytes()
    renderer.contexts.clear()
    return median(times), length, size


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
    parser.add_argument("--runs", type=int, default=50)
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
            node_ms, node_length = bench_node(root, work, props, args.runs)
            row: dict[str, Any] = {"node_ms": node_ms, "html_bytes": node_length, "engines": {}}
            for engine in ("quickjs", "v8"):
                ms, length, size = bench_engine(root, engine, props, args.runs)
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
    print(f"{args.items}-item page, base tree, medians of {args.runs} renders after {WARM} warm ones, new props each")
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

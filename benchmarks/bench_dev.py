"""Benchmark the development loop (`mendel dev`): how long from saving a file to seeing it.

    .venv/bin/python benchmarks/bench_dev.py [--runs 15] [--files 2000] [--no-browser]

Two measurements, each the median of `--runs` edits:

- rebuild + swap on the benchmark project of `bench_build.py` (~2,000 source files, 10
  variations): a `DevLoop` over a `MendelMiddleware`, one base file's body edited per run, timed
  around `DevLoop.apply` (incremental rebuild, manifest written, `MendelTrees.reload()`). The
  peer, timed in the same run on the same edits: what the loop replaces, `mendel build` (warm parse
  cache) plus loading a new `MendelTrees`.
- save to reloaded page on the example shop: `flask --app examples/shop/app.py mendel dev`
  serving a copy of the example, headless Chromium showing the shop with bucket_A; each run
  rewrites bucket_A's button label on disk and waits for the page to have reloaded by itself. The
  time is the new page's `loadEventEnd` (epoch, from the browser's clock) minus the moment just
  before the file was written (the same machine clock).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "tests" / "helpers"))

BUTTON = "examples/shop/src/variations/bucket_A/components/button.js"
TARGETS_MS = {"rebuild + swap": 150.0, "save to reloaded page": 300.0}


def bench_rebuild(files: int, runs: int) -> dict[str, list[float]]:
    """Milliseconds of DevLoop.apply and of a full build + load, per one-file edit."""
    from bench_build import generate_project

    from mendel_py.compiler import build_manifests
    from mendel_py.config import load_config
    from mendel_py.core.trees import MendelTrees
    from mendel_py.dev.loop import DevLoop
    from mendel_py.serving.wsgi import MendelMiddleware

    root = tempfile.mkdtemp(prefix="mendel-bench-dev-")
    try:
        project = generate_project(root, files=files)
        build_manifests(load_config(root))
        print(f"project: {project.file_count} files, {len(project.variations)} variations")
        loop = DevLoop(MendelMiddleware(lambda e, s: [], root), on_status=lambda status: None)
        loop_ms, peer_ms = [], []
        for run in range(runs + 1):  # the first run warms up and is dropped
            path = os.path.join(root, "src/base", project.base_modules[10 + run])
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(f"\n// edit {run}\n")
            started = time.perf_counter()
            status = loop.apply([path])
            elapsed = (time.perf_counter() - started) * 1000
            assert status.error is None, status.error
            started = time.perf_counter()
            build_manifests(load_config(root))
            MendelTrees(root)
            peer = (time.perf_counter() - started) * 1000
            if run:
                loop_ms.append(elapsed)
                peer_ms.append(peer)
        loop.stop()
        return {"rebuild + swap": loop_ms, "full build + load (peer)": peer_ms}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def bench_browser(runs: int) -> dict[str, list[float]]:
    """Milliseconds from writing a variation file to the reloaded page's load event."""
    from e2e_support import OutputWatcher, build_example_project, chromium, free_port, stop_process

    root = Path(tempfile.mkdtemp(prefix="mendel-bench-dev-shop-"))
    port = free_port()
    env = {**os.environ, "SHOP_MENDEL_BASEDIR": str(root), "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "flask", "--app", "examples/shop/app.py", "mendel", "dev", "--port", str(port)]
    process = None
    try:
        build_example_project(root)
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        OutputWatcher(process.stdout).wait_for("mendel dev: serving")
        url = f"http://127.0.0.1:{port}/"
        button = root / BUTTON
        original = button.read_text()
        timings = []
        with chromium() as browser:
            browser.get(url)
            browser.add_cookie({"name": "mendel_variations", "value": "bucket_A", "path": "/"})
            browser.get(url)
            _wait_for_label(browser, "Buy now")
            for run in range(runs + 1):
                label = f"Buy now #{run}"
                time.sleep(0.3)  # let the page's event stream connect
                saved = time.time() * 1000
                button.write_text(original.replace("Buy now", label))
                _wait_for_label(browser, label)
                loaded = browser.execute_script(
                    "var nav = performance.getEntriesByType('navigation')[0];"
                    "return performance.timeOrigin + nav.loadEventEnd;"
                )
                if run:
                    timings.append(loaded - saved)
        return {"save to reloaded page": timings}
    finally:
        if process is not None:
            stop_process(process)
        shutil.rmtree(root, ignore_errors=True)


def _wait_for_label(browser, label: str, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    script = (
        "var b = document.querySelector('.add-to-cart');"
        "var nav = performance.getEntriesByType('navigation')[0];"
        "return b && nav && nav.loadEventEnd > 0 ? b.textContent.trim() : null;"
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if browser.execute_script(script) == label:
            return
        time.sleep(0.01)
    raise TimeoutError(f"the page never showed {label!r}")


def report(results: dict[str, list[float]]) -> bool:
    """Print medians (and the spread); True when every row with a target meets it."""
    ok = True
    print(f"{'what':<28} {'median':>10} {'min':>9} {'max':>9} {'target':>9}")
    for name, values in results.items():
        median = statistics.median(values)
        target = TARGETS_MS.get(name)
        ok = ok and (target is None or median <= target)
        shown = f"<= {target:.0f}" if target else "-"
        print(f"{name:<28} {median:>8.1f}ms {min(values):>7.1f}ms {max(values):>7.1f}ms {shown:>9}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--no-browser", action="store_true", help="skip the Chromium measurement")
    options = parser.parse_args(argv)
    results = bench_rebuild(options.files, options.runs)
    if not options.no_browser:
        results.update(bench_browser(options.runs))
    return 0 if report(results) else 1


if __name__ == "__main__":
    sys.exit(main())

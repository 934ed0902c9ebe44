"""Deploy benchmark: what a generation switch costs requests, decoding past generations' URLs,
and the memory a retained generation takes, on the 2,000-module synthetic project.

    python benchmarks/bench_deploys.py [--requests 3000] [--json]

Rows (medians unless said otherwise):
- page request, steady / while switching: one WSGI call of a page that embeds the bundle URL for
  one of 200 variation sets, in process (no HTTP), first with no deploy going on, then while a
  background thread publishes and swaps in a new generation back to back. The difference is the
  cost a switch adds to a request (target: <= 1 ms at the median).
- decode, current / previous generation: `find_tree_for_hash` with the walk caches cleared, for
  hashes minted by the generation being served and by the one before it (kept loaded). Target:
  previous within 2x of current.
- RSS per retained generation: resident memory added by each past generation loaded (in a child
  process, so allocator state of the timing runs doesn't blur it).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

import blake3

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

from bench_core import gc_paused  # noqa: E402
from synth import MANIFEST_PATH, random_variation_sets, write_synthetic_project  # noqa: E402

from mendel_py.config import load_config  # noqa: E402
from mendel_py.core.trees import MendelTrees  # noqa: E402
from mendel_py.deploy.publish import publish_project  # noqa: E402
from mendel_py.serving.wsgi import MendelMiddleware  # noqa: E402

SETS = [list(names) for names in random_variation_sets(200)]
SWITCHES = 20


def mutate(project: str, n: int) -> None:
    """A new release: one base module's source changes (digests updated), as a build would."""
    path = os.path.join(project, MANIFEST_PATH)
    with open(path, encoding="utf-8") as f:
        manifest = json.load(f)
    entry = manifest["bundles"][0]["data"][0]
    entry["source"] = entry["source"].split("\n// release")[0] + f"\n// release {n}\n"
    entry["sha"] = hashlib.sha1(entry["source"].encode()).hexdigest()
    if "blake3" in entry:
        entry["blake3"] = blake3.blake3(entry["source"].encode()).hexdigest()
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(manifest, f)
    os.replace(path + ".tmp", path)


def deploy(project: str, n: int) -> None:
    mutate(project, n)
    publish_project(load_config(project))


def page(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    resolver = environ["mendel"]
    resolver.set_variations(environ["bench.variations"])
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [resolver.bundle_url("main").encode()]


def request_times(middleware: MendelMiddleware, count: int) -> list[int]:
    samples = []
    start_response = lambda *args: None  # noqa: E731
    for i in range(count):
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "bench.variations": SETS[i % len(SETS)]}
        start = time.perf_counter_ns()
        middleware(environ, start_response)
        samples.append(time.perf_counter_ns() - start)
    return samples


def switching_times(project: str, middleware: MendelMiddleware, count: int) -> tuple[list[int], int]:
    """Request times while another thread deploys and reloads back to back; and the switches."""
    stop = threading.Event()
    switches = 0

    def deployer() -> None:
        nonlocal switches
        n = 1000
        while not stop.is_set():
            n += 1
            deploy(project, n)
            middleware.trees.reload()
            switches += 1

    thread = threading.Thread(target=deployer, daemon=True)
    thread.start()
    samples: list[int] = []
    deadline = time.monotonic() + 120
    try:  # at least `count` requests, spread over at least SWITCHES switches
        while (len(samples) < count or switches < SWITCHES) and time.monotonic() < deadline:
            samples += request_times(middleware, len(SETS))
            time.sleep(0.001)
    finally:
        stop.set()
        thread.join()
    return samples, switches


def decode_times(project: str, rounds: int) -> dict[str, float]:
    """Cold decodes of current and previous generation hashes (previous kept loaded)."""
    trees = MendelTrees(project)
    previous = [trees.find_tree_for_variations("main", trees.variations_and_chains(s)[1]).hash for s in SETS[:50]]
    deploy(project, 1)
    trees.reload()
    current = [trees.find_tree_for_variations("main", trees.variations_and_chains(s)[1]).hash for s in SETS[:50]]
    result: dict[str, list[int]] = {"current": [], "previous": []}
    for _ in range(rounds):
        for name, hashes in (("current", current), ("previous", previous)):
            for text in hashes:
                trees.clear_caches()
                with gc_paused():
                    start = time.perf_counter_ns()
                    trees.find_tree_for_hash("main", text)
                    result[name].append(time.perf_counter_ns() - start)
    return {name: statistics.median(samples) / 1e3 for name, samples in result.items()}


def retained_rss(project: str, generations: int) -> list[int]:
    """In a child process: RSS after loading the current and then each past generation."""
    code = f"""
import json, sys
sys.path.insert(0, {os.path.dirname(HERE)!r}); sys.path.insert(0, {HERE!r})
from bench_core import current_rss
from mendel_py.core.trees import MendelTrees
trees = MendelTrees({project!r})
sizes = [current_rss()]
past = [m for m in trees.store.manifests() if m.bundle == "main" and m.generation != trees.generation]
for stored in past[:{generations}]:
    trees._stored_walker(stored)  # what a URL of that generation loads: its bundle's manifest
    sizes.append(current_rss())
print(json.dumps(sizes))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mendel-bench-deploys-") as tmp:
        project = write_synthetic_project(os.path.join(tmp, "project"))
        publish_project(load_config(project))
        middleware = MendelMiddleware(page, MendelTrees(project), reload_interval=None)
        request_times(middleware, len(SETS))  # warm every variation set once
        steady = request_times(middleware, args.requests)
        switching, switches = switching_times(project, middleware, args.requests)
        decodes = decode_times(project, 3)
        for n in range(4):
            deploy(project, 2000 + n)
        rss = retained_rss(project, 4)
    per_generation = [b - a for a, b in zip(rss, rss[1:])]
    report = {
        "page_request_steady_us": statistics.median(steady) / 1e3,
        "page_request_switching_us": statistics.median(switching) / 1e3,
        "page_request_switching_p99_us": sorted(switching)[int(len(switching) * 0.99)] / 1e3,
        "switches_during_run": switches,
        "decode_current_us": decodes["current"],
        "decode_previous_us": decodes["previous"],
        "rss_current_mb": rss[0] / 2**20,
        "rss_per_retained_generation_mb": [round(d / 2**20, 1) for d in per_generation],
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"page request, steady            {report['page_request_steady_us']:9.1f} us (median)")
    print(f"page request, while switching   {report['page_request_switching_us']:9.1f} us (median; "
          f"p99 {report['page_request_switching_p99_us']:.0f} us; {switches} switches during the run)")
    print(f"decode, current generation      {report['decode_current_us']:9.1f} us (median, cold)")
    print(f"decode, previous generation     {report['decode_previous_us']:9.1f} us (median, cold; "
          f"{report['decode_previous_us'] / report['decode_current_us']:.2f}x)")
    print(f"RSS with the current generation {report['rss_current_mb']:9.1f} MB")
    print(f"RSS per retained generation     {report['rss_per_retained_generation_mb']} MB")


if __name__ == "__main__":
    main()

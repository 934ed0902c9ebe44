"""Experiment assignment benchmark: what 10 experiments in 5 layers add to a warm page request.

    python benchmarks/bench_assign.py [--requests 20000] [--json]

On the 2,000-module, 45-variation synthetic project, in process (one WSGI call of a page that
embeds the bundle URL; no HTTP). Rows, medians:
- page, variations from the cookie: the warm page request without experiments (the existing
  warm-resolve path), for comparison;
- page, experiments, returning unit: the unit cookie of a visitor seen before (its assignments
  are memoized);
- page, experiments, assignment not memoized: the same units with the per-unit memo emptied
  before every request, so each computes its assignment (5 layer hashes, 10 experiment hashes)
  as a first visit does; the trees stay warm, so the difference to the cookie row is the cost of
  assigning (a first visit whose variation set is new also walks its tree once: that is the
  cold-resolve figure of bench_core);
- page, experiments, returning unit with its sticky cookie: the same with the default sticky
  cookie sent back signed (verified once per distinct value, then memoized);
- page, experiments, exposure judged every request: the returning units with the exposure
  window off (`exposure_window=0`), so every page asks whether each arm shows in its tree (the
  answer memoized per variation set and arm after the first time, which compares trees) and
  calls the (no-op) exposure callback for every one; with the default window a returning unit
  pays a dict lookup per experiment instead;
- assign() alone, new unit: `Experiments.assign` without the page around it.
Target: assignment adds <= 20 us to a warm page request.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from typing import Any

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

from synth import random_variation_sets, variation_ids, write_synthetic_project  # noqa: E402

from mendel_py.core.trees import MendelTrees  # noqa: E402
from mendel_py.experiments import experiment_set  # noqa: E402
from mendel_py.serving.wsgi import MendelMiddleware  # noqa: E402


def add_experiments(project: str) -> None:
    """10 experiments in 5 layers, two per layer, each over two of the layer's variations."""
    path = os.path.join(project, ".mendelrc")
    with open(path, encoding="utf-8") as f:
        config = yaml.safe_load(f)
    experiments = {}
    for layer, ids in enumerate(variation_ids()):
        for half in range(2):
            experiments[f"exp-{layer}-{half}"] = {
                "layer": f"layer-{layer}",
                "range": [half / 2, (half + 1) / 2],
                "variations": ["control", ids[2 * half], ids[2 * half + 1]],
            }
    config["experiments"] = experiments
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(config, f)


def page(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [environ["mendel"].bundle_url("main").encode()]


def page_times(middleware: MendelMiddleware, cookies: list[str], count: int, forget: Any = None) -> list[int]:
    samples = []
    start_response = lambda *args: None  # noqa: E731
    for i in range(count):
        if forget is not None:
            forget()
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "HTTP_COOKIE": cookies[i % len(cookies)]}
        start = time.perf_counter_ns()
        middleware(environ, start_response)
        samples.append(time.perf_counter_ns() - start)
    return samples


def median_us(samples: list[int]) -> float:
    return statistics.median(samples) / 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ["MENDEL_GENERATIONS"] = "off"
    with tempfile.TemporaryDirectory(prefix="mendel-bench-assign-") as tmp:
        plain_project = write_synthetic_project(os.path.join(tmp, "plain"))
        exp_project = write_synthetic_project(os.path.join(tmp, "experiments"))
        add_experiments(exp_project)
        plain = MendelMiddleware(page, MendelTrees(plain_project), reload_interval=None, sticky_cookie=None)
        exp_trees = MendelTrees(exp_project)
        with_experiments = MendelMiddleware(page, exp_trees, reload_interval=None, sticky_cookie=None,
                                            secret_key="bench", on_exposure=lambda exposure: None)
        every_request = MendelMiddleware(page, exp_trees, reload_interval=None, sticky_cookie=None,
                                         secret_key="bench", on_exposure=lambda exposure: None, exposure_window=0)
        experiments = experiment_set(with_experiments.trees.config)

        sets = ["mendel_variations=" + ",".join(names) for names in random_variation_sets(200)]
        returning = [f"mendel_uid=returning-visitor-{i:05d}" for i in range(200)]
        page_times(plain, sets, len(sets))  # warm every set
        page_times(with_experiments, returning, len(returning) * 2)  # warm units and their trees
        cookie_page = page_times(plain, sets, args.requests)
        returning_page = page_times(with_experiments, returning, args.requests)
        new_unit_page = page_times(with_experiments, returning, args.requests, experiments._memo.cache_clear)
        sticky = MendelMiddleware(page, exp_trees, reload_interval=None, secret_key="bench",
                                  on_exposure=lambda exposure: None)
        from mendel_py.serving.request import sign_sticky

        with_sticky = []
        for cookie in returning:
            unit = cookie.split("=", 1)[1]
            records = experiments.sticky_records(experiments.assign(unit))
            with_sticky.append(f"{cookie}; mendel_sticky={sign_sticky('bench', unit, records)}")
        page_times(sticky, with_sticky, len(with_sticky))
        sticky_page = page_times(sticky, with_sticky, args.requests)
        page_times(every_request, returning, len(returning))
        judged_page = page_times(every_request, returning, args.requests)
        alone = []
        for i in range(args.requests):
            unit = f"alone-{i:07d}"
            start = time.perf_counter_ns()
            experiments.assign(unit)
            alone.append(time.perf_counter_ns() - start)
    report = {
        "experiments": len(experiments.experiments),
        "layers": len(experiments.layers),
        "page_cookie_us": median_us(cookie_page),
        "page_experiments_returning_unit_us": median_us(returning_page),
        "page_experiments_unmemoized_us": median_us(new_unit_page),
        "page_experiments_returning_unit_sticky_us": median_us(sticky_page),
        "page_experiments_exposure_judged_us": median_us(judged_page),
        "assign_new_unit_us": median_us(alone),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    base = report["page_cookie_us"]
    print(f"{report['experiments']} experiments in {report['layers']} layers, medians of {args.requests:,}")
    print(f"page, variations from the cookie       {base:8.1f} us")
    for label, key in (("page, experiments, returning unit", "page_experiments_returning_unit_us"),
                       ("page, experiments, not memoized", "page_experiments_unmemoized_us"),
                       ("page, returning unit, sticky cookie", "page_experiments_returning_unit_sticky_us"),
                       ("page, exposure judged every request", "page_experiments_exposure_judged_us")):
        print(f"{label:38s} {report[key]:8.1f} us ({report[key] - base:+.1f} us)")
    print(f"assign() alone, new unit               {report['assign_new_unit_us']:8.1f} us")


if __name__ == "__main__":
    main()

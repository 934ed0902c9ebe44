"""A warm bundle from gunicorn, from nginx's proxy cache and from nginx reading the store's disk.

    .venv/bin/python benchmarks/bench_nginx.py [--seconds 10] [--runs 3] [--connections 32]

The example shop (built into a temporary folder) under gunicorn with examples/gunicorn.conf.py
(2 sync workers, preload), the on-disk bundle store and its public tree on; nginx with
examples/nginx.conf (`worker_processes` 1, so both sides have about one core each). The shop's
main.js (a few KB) is requested once (cold), then `wrk` hammers the same URL for `--seconds`:

- gunicorn direct: the app answers from its cache (sendfile of the stored file);
- nginx, proxy cache: the example's @mendel_origin location, with the public tree turned off for
  the run, so nginx answers from its proxy cache;
- nginx, from disk: the example as shipped: `try_files` finds the public file.

Medians of `--runs` runs of requests per second (and wrk's mean latency) go in benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "helpers"))

from e2e_support import (  # noqa: E402
    NGINX,
    build_example_project,
    free_port,
    render_shipped_nginx_conf,
    running_gunicorn,
    stop_process,
    wait_for_port,
)


def wrk(url: str, seconds: int, connections: int) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        capture_output=True, text=True, check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = re.search(r"Latency\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[latency.group(2)]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = int(non_2xx.group(1)) if non_2xx else 0
    return {"rps": rate, "latency_ms": float(latency.group(1)) * scale, "errors": errors}


def runs(url: str, args: argparse.Namespace) -> dict[str, Any]:
    results = [wrk(url, args.seconds, args.connections) for _ in range(args.runs)]
    return {
        "rps": statistics.median(r["rps"] for r in results),
        "rps_runs": [round(r["rps"]) for r in results],
        "latency_ms": statistics.median(r["latency_ms"] for r in results),
        "errors": sum(r["errors"] for r in results),
    }


def bundle_url(base: str) -> str:
    with urllib.request.urlopen(base + "/", timeout=30) as response:
        page = response.read().decode()
    return re.search(r'<script src="(/mendel/[^"]+)"', page).group(1)


def fetch(url: str) -> tuple[bytes, dict[str, str]]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read(), {k.lower(): v for k, v in response.headers.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args(argv)
    if not (os.path.exists(NGINX) and shutil.which("wrk")):
        print("needs nginx and wrk")
        return 1
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="mendel-bench-nginx-") as scratch:
        tmp = Path(scratch)
        (tmp / "shop").mkdir()
        project = build_example_project(tmp / "shop")
        store = tmp / "store"
        env = {"SHOP_MENDEL_STORE_DIR": str(store), "SHOP_MENDEL_STORE_PUBLIC": "true"}
        with running_gunicorn(project, extra_env=env) as origin:
            path = bundle_url(origin.url)
            body, _headers = fetch(origin.url + path)
            report["bundle_bytes"] = len(body)
            report["gunicorn direct"] = runs(origin.url + path, args)
            for mode, public in (("nginx, proxy cache", tmp / "no-public"), ("nginx, from disk", store / "public")):
                folder = tmp / mode.replace(", ", "-").replace(" ", "-")
                folder.mkdir()
                port = free_port()
                conf = render_shipped_nginx_conf(folder, port, origin.port, public)
                command = [NGINX, "-p", str(folder), "-c", str(conf), "-e", str(folder / "error.log")]
                nginx = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                try:
                    wait_for_port(port, nginx)
                    url = f"http://127.0.0.1:{port}{path}"
                    fetch(url)  # fills the proxy cache
                    again, headers = fetch(url)
                    assert again == body, "nginx serves the very bytes gunicorn does"
                    report[mode] = {**runs(url, args), "served_from": headers.get("x-mendel-from")}
                finally:
                    stop_process(nginx)
    print(f"warm {report['bundle_bytes']:,}-byte bundle, wrk -t2 -c{args.connections} -d{args.seconds}s, "
          f"median of {args.runs}:")
    for mode in ("gunicorn direct", "nginx, proxy cache", "nginx, from disk"):
        row = report[mode]
        print(f"  {mode:20} {row['rps']:9,.0f} req/s  (runs {row['rps_runs']}), mean latency "
              f"{row['latency_ms']:.2f} ms, non-2xx {row['errors']}"
              + (f", X-Mendel-From {row['served_from']}" if "served_from" in row else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

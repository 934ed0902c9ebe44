"""Instructions per page request on each stack, counted by valgrind's callgrind: a figure that
does not move with the machine's load (timings on a shared machine swing 2x).

    .venv/bin/python benchmarks/page_instructions.py                 # every stack and variant
    .venv/bin/python benchmarks/page_instructions.py starlette:mendel flask:plain

Each (stack, variant) of `bench_pages.py` (plain / calls / Mendel; "wrapped" = the plain page
behind Mendel's adapter, its resolver unused) runs in its own process under callgrind with
instrumentation off during start-up: after a warm-up, the process switches it on
(`callgrind_control -i on`) and makes N requests. The figure is the difference between a run of
`--many` and one of `--few` requests, per request (what start-up, the warm-up and the switch cost
cancels out), with a fixed PYTHONHASHSEED. Needs valgrind; takes a few minutes.
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
VARIANTS = ("plain", "calls", "mendel", "wrapped")
STACKS = ("flask", "django", "starlette")


def _drive(stack: str, variant: str, count: int) -> None:
    """In the process callgrind runs: make the app, warm it up, count `count` requests."""
    sys.path.insert(0, str(HERE))
    import bench_pages as bench

    index = {"plain": 0, "calls": 1, "mendel": 2, "wrapped": 0}[variant]

    def counting_on() -> None:
        gc.collect()
        subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())], stdout=subprocess.DEVNULL, check=False)

    if stack == "starlette":
        app = bench.starlette_apps()[index]
        if variant == "wrapped":
            from mendel_py.asgi import MendelASGIMiddleware

            app = MendelASGIMiddleware(app, str(bench.PROJECT), secret_key=bench.SECRET, **bench.SETTINGS)
            app.load()
        loop = asyncio.new_event_loop()
        loop.run_until_complete(bench._many(app, "/", 20))
        requests = bench._many(app, "/", count)
        counting_on()
        loop.run_until_complete(requests)
        return
    if stack == "flask":
        apps = bench.flask_apps()
        app = apps[index]
        if variant == "wrapped":
            from mendel_py.serving.wsgi import MendelMiddleware

            app.wsgi_app = MendelMiddleware(app.wsgi_app, str(bench.PROJECT), secret_key=bench.SECRET,
                                            **bench.SETTINGS)
    else:
        handlers = bench.django_handlers()
        app = handlers[index]
        if variant == "wrapped":
            raise SystemExit("django: no wrapped variant (the Mendel handler serves the tagged page)")
    call = bench.wsgi_call(app, "/calls" if (stack, variant) == ("django", "calls") else "/")
    for _ in range(20):
        call()
    counting_on()
    for _ in range(count):
        call()


def _count(stack: str, variant: str, count: int) -> int:
    result = subprocess.run(
        ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--callgrind-out-file=/dev/null",
         sys.executable, __file__, "--drive", stack, variant, str(count)],
        env={**os.environ, "PYTHONHASHSEED": "0", "MENDEL_EXPOSURE_LOG": "off"},
        capture_output=True, text=True, check=True,
    )
    found = re.search(r"Collected : (\d+)", result.stderr)
    if found is None:
        raise SystemExit(f"no callgrind total for {stack}:{variant}:\n{result.stderr[-2000:]}")
    return int(found.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("cases", nargs="*", help="stack:variant (default: all)")
    parser.add_argument("--few", type=int, default=200)
    parser.add_argument("--many", type=int, default=1000)
    parser.add_argument("--drive", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.drive:
        _drive(args.drive[0], args.drive[1], int(args.drive[2]))
        return 0
    cases = [tuple(case.split(":", 1)) for case in args.cases] or [
        (stack, variant) for stack in STACKS for variant in VARIANTS if (stack, variant) != ("django", "wrapped")
    ]
    for stack, variant in cases:
        few, many = _count(stack, variant, args.few), _count(stack, variant, args.many)
        print(f"{stack:10s} {variant:8s} {(many - few) / (args.many - args.few):10,.0f} instructions per request",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

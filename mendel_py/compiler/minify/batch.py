"""Minify many modules: in this process for a few, else here and in worker processes, one per
idle core.

Each item is a `_scan_js` result (the cached form of a scanned file), its file text and, when
this process has them, the file's tree and the minifier's query captures over it (`js.QUERY`,
run by the dependency scan); the result is the same list with the minified source and
the composed edits. Workers are forked (cheap, and the caller's script is not run again as
`spawn` would), so only from a process with a single thread (forking one with threads may
deadlock); they inherit the items, trees included, and get only index ranges of them, while this
process minifies its own share. Below `POOL_THRESHOLD` items, with fewer than two idle cores, in a
threaded process, or when the pool fails, the items are minified here alone.
"""
from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from tree_sitter import Tree

from ...core.original import decode, encode_compact
from ..edits import compose
from .js import Captures, minify_js, minify_js_original

POOL_THRESHOLD = 400
_CHUNK = 64

Item = tuple[list[Any], str, "Tree | None", "Captures | None"]


def minify_all(items: list[Item]) -> list[list[Any]]:
    workers = _idle_cores()
    if len(items) < POOL_THRESHOLD or workers < 2 or threading.active_count() > 1 or not hasattr(os, "fork"):
        return [minified(*item) for item in items]
    global _forked_items
    # the workers are forked after this, so they inherit the items (trees included, which don't
    # pickle): only index ranges go to them, and their minified results come back
    _forked_items = items
    spans = [range(start, min(start + _CHUNK, len(items))) for start in range(0, len(items), _CHUNK)]
    # this process minifies its share too, while `workers - 1` children do theirs
    mine, theirs = spans[::workers], [span for index, span in enumerate(spans) if index % workers]
    try:
        with ProcessPoolExecutor(max_workers=workers - 1, mp_context=multiprocessing.get_context("fork")) as pool:
            futures = [pool.submit(_span, span) for span in theirs]
            done = {span.start: _span(span) for span in mine}
            done.update((span.start, future.result()) for span, future in zip(theirs, futures))
        return [result for span in spans for result in done[span.start]]
    except (OSError, BrokenProcessPool):
        return [minified(*item) for item in items]
    finally:
        _forked_items = []


_forked_items: list[Item] = []


def _idle_cores() -> int:
    """How many cores are free for workers (at most 8): the CPUs this process may use less what
    else is running now, since on a busy machine workers only add their start-up and copying.
    Linux's count of runnable threads (`/proc/loadavg`) is taken at this instant and counts this
    process too; elsewhere the one-minute load average stands in for it."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    busy = _running_elsewhere()
    return max(1, min(8, int(cpus - busy + 0.5)))


def _running_elsewhere() -> float:
    try:
        with open("/proc/loadavg") as handle:
            running = int(handle.read().split()[3].split("/")[0])
        return max(0, running - 1)  # (this thread is one of them)
    except (OSError, IndexError, ValueError):
        pass
    try:
        return os.getloadavg()[0]
    except OSError:
        return 0.0


def _span(span: range) -> list[list[Any]]:
    return [minified(*_forked_items[index]) for index in span]


def minified(cached: list[Any], text: str, tree: Tree | None, captures: Captures | None = None) -> list[Any]:
    """A `_scan_js` result with its source minified (`minify/js.py`) and the edits composed;
    `tree` and `captures` are the file's (given only when the source is the file)."""
    deps, lazy, compiled, original = cached
    if compiled is None or not original:  # (the source is the file: its edits are the minifier's)
        output, encoded = minify_js_original(text if compiled is None else compiled, tree, captures)
        return [deps, lazy, output, encoded]
    output, edits = minify_js(compiled, tree)
    edits = compose(output, edits, compiled, decode(original))
    return [deps, lazy, output, encode_compact(edits) if edits else ""]

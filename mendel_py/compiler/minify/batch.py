"""Minify many modules: in this process for a few, else in worker processes, one per core.

Each item is a `_scan_js` result (the cached form of a scanned file), its file text and, when
this process has it, the file's tree; the result is the same list with the minified source and
the composed edits. Workers are forked (cheap, and the caller's script is not run again as
`spawn` would), so only from a process with a single thread (forking one with threads may
deadlock); they get the items in chunks and parse again, which costs less than sending trees.
Below `POOL_THRESHOLD` items, with fewer than two idle cores, in a threaded process, or when the
pool fails, the items are minified here.
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
from .js import minify_js, minify_js_original

POOL_THRESHOLD = 400
_CHUNK = 64

Item = tuple[list[Any], str, "Tree | None"]


def minify_all(items: list[Item]) -> list[list[Any]]:
    workers = _idle_cores()
    if len(items) < POOL_THRESHOLD or workers < 2 or threading.active_count() > 1 or not hasattr(os, "fork"):
        return [_one(cached, text, tree) for cached, text, tree in items]
    chunks = [
        [(cached, text) for cached, text, _tree in items[start:start + _CHUNK]]
        for start in range(0, len(items), _CHUNK)
    ]
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
            return [result for chunk in pool.map(_chunk, chunks) for result in chunk]
    except (OSError, BrokenProcessPool):
        return [_one(cached, text, tree) for cached, text, tree in items]


def _idle_cores() -> int:
    """How many cores are free for workers (at most 8): the CPUs this process may use less the
    load average, since on a busy machine workers only add their start-up and copying."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = 0.0
    return max(1, min(8, int(cpus - load + 0.5)))


def _chunk(chunk: list[tuple[list[Any], str]]) -> list[list[Any]]:
    return [_one(cached, text, None) for cached, text in chunk]


def _one(cached: list[Any], text: str, tree: Tree | None) -> list[Any]:
    return minified(cached, text, tree)


def minified(cached: list[Any], text: str, tree: Tree | None) -> list[Any]:
    """A `_scan_js` result with its source minified (`minify/js.py`) and the edits composed."""
    deps, lazy, compiled, original = cached
    if compiled is None or not original:  # (the source is the file: its edits are the minifier's)
        output, encoded = minify_js_original(text if compiled is None else compiled, tree)
        return [deps, lazy, output, encoded]
    output, edits = minify_js(compiled, tree)
    edits = compose(output, edits, compiled, decode(original))
    return [deps, lazy, output, encode_compact(edits) if edits else ""]

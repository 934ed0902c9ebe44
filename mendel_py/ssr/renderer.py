"""`Renderer`: a visitor's tree of a bundle, rendered to HTML by the bundle's server module in a
sandboxed engine; `RenderError` when it can't be.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Hashable, Iterable
from typing import Any

from ..core.trees import MendelTrees, Tree
from ..errors import MendelError
from ..packing.sourcemap import source_map
from .contexts import TOTALS, ContextCache, Slot
from .engines import EngineFault, engine_from_environment, make_engine
from .script import server_script
from .stack import DecodedMap, Position, map_stack

log = logging.getLogger("mendel_py.ssr")

REASONS = ("timeout", "memory", "error")
LOAD_TIMEOUT_FACTOR = 5
LOAD_TIMEOUT_MIN = 5.0
"""Making a tree's context (parsing its script, evaluating its packages) may take this many
render deadlines, and at least this many seconds: a large bundle's first parse on a busy
worker is no runaway render."""


class RenderError(MendelError):
    """A render that gave no HTML. `reason`: "timeout" (past the deadline), "memory" (past the
    context's cap) or "error" (the JS threw, or the render gave no string); `stack` the JS error
    with every script position mapped to the original `file:line:column`; `file` and `line` where
    it was thrown, when known; `bundle` and `hash` the tree's."""

    fields = ("reason", "bundle", "hash", "file", "line")

    def __init__(
        self, reason: str, message: str, *, stack: str = "", bundle: str | None = None, hash: str | None = None,
        position: Position | None = None,
    ):
        self.reason = reason
        self.stack = stack or message
        self.bundle = bundle
        self.hash = hash
        self.file = position[0] if position else None
        self.line = position[1] if position else None
        where = f" at {position[0]}:{position[1]}" if position else ""
        self.message = f"{message}{where}"
        super().__init__(f"{reason}: {self.message}")


class SsrNotConfigured(MendelError, LookupError):
    """The bundle has no `ssr` module in `.mendelrc`, or its tree doesn't hold that module."""


class Renderer:
    """Renders trees of `trees` (a `MendelTrees`) with their bundles' server modules.

    `engine`: "quickjs" or "v8" (None: `MENDEL_SSR_ENGINE`, else `.mendelrc` `ssr.engine`, else
    quickjs); `memory_limit`: bytes per engine context (default `ssr.memory-limit-mb`, 64 MiB);
    `timeout`: seconds per render, wall clock (default `ssr.timeout`, 1 s); `cache_bytes`: the
    process's budget of cached contexts (default `ssr.cache-mb`, 256 MiB). Making a Renderer
    makes no engine: each thread makes its contexts on its first render, so a Renderer made in a
    pre-forking master is safe to fork.
    """

    def __init__(
        self,
        trees: MendelTrees,
        engine: str | None = None,
        memory_limit: int | None = None,
        timeout: float | None = None,
        cache_bytes: int | None = None,
    ):
        settings = trees.config.ssr
        self.trees = trees
        self.engine = engine_from_environment(settings.engine, engine)
        self.memory_limit = memory_limit or settings.memory_limit_mb << 20
        self.timeout = timeout or settings.timeout
        self.contexts = ContextCache(cache_bytes or settings.cache_mb << 20)
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._logged: set[tuple[str, str, str]] = set()

    def prepare(self) -> None:
        """Nothing, now: neither engine needs work done before the first render (V8 is
        initialised on the process's own V8 thread with its first context). Kept for hosts
        that called it."""

    # --- rendering ---------------------------------------------------------------------------

    def render(self, bundle: str, variations: Iterable[str], props: Any) -> str:
        """The HTML of `bundle`'s tree for the variations named `variations` (as a cookie gives
        them: unknown names are ignored; none is the base tree), rendered with `props` (anything
        JSON can carry). Raises RenderError."""
        _matching, chains = self.trees.variations_and_chains(list(variations))
        return self.render_tree(bundle, self.trees.find_tree_for_variations(bundle, chains), props)

    def render_tree(self, bundle: str, tree: Tree, props: Any, props_text: str | None = None) -> str:
        """The HTML of `tree` (a tree of `bundle`) with `props` (or their JSON, `props_text`, made
        by `props_json` already). Raises RenderError."""
        props_json = props_to_json(props) if props_text is None else props_text
        key = self._key(bundle, tree)
        for _attempt in range(2):
            slot: Slot | None = None
            try:
                slot = self.contexts.get(key, lambda: self._make(bundle, tree))
                # the deadline is the render's: making a context (once per tree) has its own
                answer = slot.engine.render(props_json, time.monotonic() + self.timeout)
            except EngineFault as fault:
                self._count(f"fault_{fault.reason}")
                self.contexts.drop(key)  # a context that faulted is never reused
                raise self._error(fault, bundle, tree, slot) from None
            if answer[0] == "2":  # the last render left what can't be undone: a new context
                self._count("dirty_contexts")
                self.contexts.drop(key)
                continue
            break
        else:
            raise RenderError(
                "error", "the render leaves the sandbox's globals changed for good", bundle=bundle, hash=tree.hash
            )
        self._count("renders")
        self.contexts.rendered(slot)
        if answer[0] == "1":
            logs, html = answer[1:].split("\n", 1)
            self._console(logs, bundle, tree)
            return html
        return answer[1:]

    def warm(self, bundle: str, tree: Tree) -> None:
        """Make this thread's context for `tree` now (its script evaluated), e.g. in each worker
        after fork. Raises RenderError if the script fails to load."""
        key = self._key(bundle, tree)
        try:
            self.contexts.get(key, lambda: self._make(bundle, tree))
        except EngineFault as fault:
            raise self._error(fault, bundle, tree, None) from None

    def _key(self, bundle: str, tree: Tree) -> Hashable:
        return (bundle, tree.hash, id(tree.manifest))

    def _make(self, bundle: str, tree: Tree) -> Slot:
        module, export = self.server_module(bundle, tree)
        script, module_lines = server_script(tree.manifest, tree.selection, module, export)
        engine = make_engine(self.engine, self.memory_limit)
        try:
            engine.load(script, time.monotonic() + max(LOAD_TIMEOUT_FACTOR * self.timeout, LOAD_TIMEOUT_MIN))
        except BaseException:
            engine.discard()
            raise
        return Slot(engine=engine, owner=tree, module_lines=module_lines)

    def server_module(self, bundle: str, tree: Tree) -> tuple[int, str]:
        """(manifest index of the server module, its export) for a tree of `bundle`."""
        config = self.trees.config.bundles.get(bundle)
        if config is None:
            self.trees.manifest(bundle)  # BundleNotFound
            raise SsrNotConfigured(f"bundle {bundle!r} is not configured")
        if config.ssr is None:
            raise SsrNotConfigured(f"bundle {bundle!r} has no ssr module in .mendelrc (bundles.{bundle}.ssr.module)")
        for m, _j in tree.selection:
            if tree.manifest.modules[m].id == config.ssr.module:
                return m, config.ssr.export
        raise SsrNotConfigured(
            f"the ssr module {config.ssr.module!r} of bundle {bundle!r} is not in its tree"
            " (list it in the bundle's entries)"
        )

    # --- errors, logs, counts ---------------------------------------------------------------

    def _error(self, fault: EngineFault, bundle: str, tree: Tree, slot: Slot | None) -> RenderError:
        stack, position = fault.stack, None
        if fault.stack:
            try:
                decoded = _decoded_map(tree)
                module_lines = slot.module_lines if slot is not None else decoded.last_line
                stack, position = map_stack(fault.stack, decoded, module_lines)
            except Exception:  # noqa: BLE001 - an unmappable stack is still the error's
                log.debug("could not map a render error's stack", exc_info=True)
        message = stack.strip().split("\n", 1)[0] if stack.strip() else fault.reason
        if fault.reason == "timeout":
            message = f"the render took longer than its deadline ({self.timeout:g} s)"
        elif fault.reason == "memory":
            message = f"the render passed its memory cap ({self.memory_limit >> 20} MiB)"
        return RenderError(fault.reason, message, stack=stack, bundle=bundle, hash=tree.hash, position=position)

    def _console(self, logs: str, bundle: str, tree: Tree) -> None:
        for level, text in json.loads(logs):
            level_number = logging.WARNING if level in ("warn", "error") else logging.DEBUG
            log.log(level_number, "%s %s: %s", bundle, tree.hash, text)

    def _count(self, name: str, by: int = 1) -> None:
        with self._lock:
            self._counts[name] += by

    def log_fault_once(self, error: RenderError) -> None:
        """Log a page's fallback for this (tree, reason) once per process; count it always."""
        self._count("fallbacks")
        key = (error.bundle or "", error.hash or "", error.reason)
        with self._lock:
            if key in self._logged:
                return
            if len(self._logged) > 10_000:  # a flood of distinct trees can't grow it unbounded
                self._logged.clear()
            self._logged.add(key)
        log.warning(
            "server render of %s %s failed (%s); the page falls back to client rendering\n%s",
            error.bundle, error.hash, error.reason, error.stack,
        )

    def status(self) -> dict[str, Any]:
        """Counts of this process: renders, faults by reason, fallbacks, and the cached contexts."""
        with self._lock:
            counts = dict(self._counts)
        return {
            "engine": self.engine,
            "renders": counts.get("renders", 0),
            "faults": {reason: counts.get(f"fault_{reason}", 0) for reason in REASONS},
            "fallbacks": counts.get("fallbacks", 0),
            "dirty_contexts": counts.get("dirty_contexts", 0),
            "contexts": TOTALS.count,
            "context_bytes": TOTALS.bytes,
            "contexts_made": TOTALS.made,
            "contexts_evicted": TOTALS.evicted,
            "budget_bytes": self.contexts.budget_bytes,
        }


def props_to_json(props: Any) -> str:
    """Props as compact JSON, as `JSON.stringify` writes them (NaN and infinities become null,
    mapping keys become strings). orjson when it is installed (the `ssr` extras bring it): for a
    1,000-item page it takes a tenth of `json.dumps`'s ~1.7 ms, which was most of a V8 render."""
    if _orjson is not None:
        text: str = _orjson.dumps(props, option=_orjson.OPT_NON_STR_KEYS).decode("utf-8")
        return text
    return json.dumps(_nan_to_null(props), ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _nan_to_null(value: Any) -> Any:
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, dict):
        return {key: _nan_to_null(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_nan_to_null(item) for item in value]
    return value


_orjson: Any
try:
    import orjson as _orjson
except ImportError:  # the core install: the standard library's encoder
    _orjson = None


_maps: dict[tuple[int, str], tuple[Tree, DecodedMap]] = {}
_maps_lock = threading.Lock()


def _decoded_map(tree: Tree) -> DecodedMap:
    """The tree's whole source map, decoded (once per tree; a few kept)."""
    key = (id(tree.manifest), tree.hash)
    found = _maps.get(key)
    if found is None or found[0].manifest is not tree.manifest:
        decoded = DecodedMap(source_map(tree, "server.js", whole=True))
        with _maps_lock:
            if len(_maps) > 64:
                _maps.clear()
            _maps[key] = (tree, decoded)
        return decoded
    return found[1]


_renderers: dict[int, tuple[MendelTrees, Renderer]] = {}
_renderers_lock = threading.Lock()


def renderer_for(trees: MendelTrees, **options: Any) -> Renderer:
    """The one Renderer of `trees` (made on first use, with `options`), shared by the page API."""
    found = _renderers.get(id(trees))
    if found is None or found[0] is not trees:
        with _renderers_lock:
            found = _renderers.get(id(trees))
            if found is None or found[0] is not trees:
                found = _renderers[id(trees)] = (trees, Renderer(trees, **options))
    return found[1]


def existing_renderer(trees: MendelTrees) -> Renderer | None:
    """The Renderer of `trees` if the page API made one (for status and metrics)."""
    found = _renderers.get(id(trees))
    return found[1] if found is not None and found[0] is trees else None


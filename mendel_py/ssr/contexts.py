"""Engine contexts kept per thread, least recently used first out, within a per-process budget.

A context holds one tree's server script, evaluated once (`script.server_script`); a render then
pays only for its fresh state and the render itself. Contexts are never shared between threads
(neither engine allows it), so each thread keeps its own; their sizes (the engine's own count of
its heap, measured after the script loaded and again every `REMEASURE_EVERY` renders) add up in
one process-wide total. When the total passes the budget, the thread that adds or grows a
context evicts its own least recently used ones (a thread can only free its own); a thread keeps
at least the context it is using. So a worker holds at most the budget, or one context per
thread when each thread's one context is bigger than its share: `threads x memory cap` at worst.

A context made in another process (this one forked after rendering) is never used nor freed here:
a V8 isolate from before a fork hangs when touched, so inherited contexts are set aside untouched.
"""
from __future__ import annotations

import atexit
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from .._runtime.process import current_pid
from .engines import Engine

REMEASURE_EVERY = 16
"""Renders between two measurements of a context's size."""


@dataclass
class Slot:
    """One cached context: its engine, what it belongs to, its last measured size."""

    engine: Engine
    owner: Any  # what the key's identity needs kept alive (the tree, so its manifest stays)
    module_lines: int
    bytes: int = 0
    renders: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class _Totals:
    """The process-wide sum of cached contexts' sizes, renewed in a forked child."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.bytes = 0
        self.count = 0
        self.made = 0
        self.evicted = 0
        self.pid = current_pid()

    def add(self, delta_bytes: int, delta_count: int = 0) -> int:
        with self.lock:
            if self.pid != current_pid():
                self.__init__()  # type: ignore[misc]  # a forked child starts with none of its own
            self.bytes += delta_bytes
            self.count += delta_count
            return self.bytes


TOTALS = _Totals()
_inherited: list[Any] = []  # contexts of a parent process: kept, never touched
_live: dict[int, list[Engine]] = {}  # per pid: every live context, closed at exit (V8 hangs otherwise)
_live_lock = threading.Lock()


def _close_all() -> None:
    for engine in _live.get(current_pid(), ()):
        try:
            engine.discard()
        except Exception:  # noqa: BLE001 - at exit, nothing more to do
            pass


atexit.register(_close_all)


class ContextCache:
    """The per-thread caches of one renderer, under one budget (`budget_bytes`)."""

    def __init__(self, budget_bytes: int):
        self.budget_bytes = budget_bytes
        self._local = threading.local()

    def _slots(self) -> OrderedDict[Hashable, Slot]:
        local = self._local
        slots: OrderedDict[Hashable, Slot] | None = getattr(local, "slots", None)
        if slots is None or local.pid != current_pid():
            if slots:
                _inherited.append(slots)
            slots = local.slots = OrderedDict()
            local.pid = current_pid()
        return slots

    def get(self, key: Hashable, make: Callable[[], Slot]) -> Slot:
        """The thread's context for `key`, made (and the budget kept) if it has none."""
        slots = self._slots()
        slot = slots.get(key)
        if slot is not None:
            slots.move_to_end(key)
            return slot
        slot = make()
        with _live_lock:
            _live.setdefault(current_pid(), []).append(slot.engine)
        slot.bytes = _measure(slot.engine)
        slots[key] = slot
        with TOTALS.lock:
            TOTALS.made += 1
        self._keep_budget(TOTALS.add(slot.bytes, 1), slots)
        return slot

    def rendered(self, slot: Slot) -> None:
        """Count a render; remeasure now and then, and keep the budget."""
        slot.renders += 1
        if slot.renders % REMEASURE_EVERY == 0:
            size = _measure(slot.engine)
            total = TOTALS.add(size - slot.bytes)
            slot.bytes = size
            self._keep_budget(total, self._slots())

    def drop(self, key: Hashable) -> None:
        """Discard the thread's context for `key` (after a fault)."""
        slot = self._slots().pop(key, None)
        if slot is not None:
            self._free(slot)

    def clear(self) -> None:
        """Discard this thread's contexts."""
        slots = self._slots()
        while slots:
            self._free(slots.popitem(last=False)[1])

    def thread_slots(self) -> int:
        return len(self._slots())

    def _keep_budget(self, total: int, slots: OrderedDict[Hashable, Slot]) -> None:
        while total > self.budget_bytes and len(slots) > 1:
            _key, oldest = slots.popitem(last=False)
            self._free(oldest)
            with TOTALS.lock:
                TOTALS.evicted += 1
            total = TOTALS.bytes

    def _free(self, slot: Slot) -> None:
        TOTALS.add(-slot.bytes, -1)
        with _live_lock:
            engines = _live.get(current_pid(), [])
            if slot.engine in engines:
                engines.remove(slot.engine)
        slot.engine.discard()


def _measure(engine: Engine) -> int:
    try:
        return engine.memory_bytes()
    except Exception:  # noqa: BLE001 - a context that can't say stays counted at its last size
        return 0


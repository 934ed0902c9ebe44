"""Exposure events: a unit saw a page that really used the arm an experiment gave it.

When one is recorded (`RequestResolver` decides; see `docs/architecture.md`):

- only for an assignment made by the experiments (bucketed by hash or kept by a sticky record),
  never for a QA link, the `?mendel=` override, the visitor-choice cookie, a bot, or the winner
  of a stopped experiment;
- only when the page embeds a bundle in which the arm shows: for a variation arm, the bundle's tree
  differs from the tree the unit would get without that variation (an arm another variation
  overrides, or one that changes nothing in this bundle, is not an exposure); for the control arm,
  some other arm of the experiment would change that bundle's tree;
- once per unit, experiment and arm within `window_seconds` (default 30 minutes) per worker
  process (`ExposureDedup`: a bounded in-memory table; several workers may each record one, and a
  restart starts afresh: analyses count distinct units, not events).

Where it goes: the app's callback, ``on_exposure(exposure: Exposure) -> None``
(`MendelMiddleware(on_exposure=...)`, Flask `Mendel(on_exposure=...)` or `@ext.on_exposure`),
called on the request's thread (an exception is logged, never breaks the page); without one, the
default sink writes one JSON line per exposure to stderr, or to the file named by
`exposure_log=` / `MENDEL_EXPOSURE_LOG` (appended; "off" drops them), and start-up warns once that
nobody registered a callback. When `opentelemetry-api` is installed (the `[otel]` extra), each
exposure is also a `feature_flag.evaluation` event on the current span, with the semantic
conventions' `feature_flag.key`, `feature_flag.result.variant` and `feature_flag.provider.name`.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import ConfigError

log = logging.getLogger("mendel_py.exposures")

PROVIDER_NAME = "mendel_py"
OTEL_EVENT = "feature_flag.evaluation"
DEFAULT_WINDOW_SECONDS = 30 * 60.0
"""How long an exposure of one unit, experiment and arm stands for the next page views."""
DEDUP_MAX_ENTRIES = 200_000
"""Bound of the per-worker dedup table (about 100 bytes an entry: ~20 MB at most)."""
OFF = "off"


@dataclass(frozen=True)
class Exposure:
    experiment: str
    layer: str
    variation_index: int
    variation: str | None
    """The variation id (None for the control); it stays on the server."""
    unit: str
    bundle: str
    """The bundle whose tree showed the arm (the first one of the page that did)."""
    reason: str = "hash"
    """How the unit got the arm: "hash" (bucketed now) or "sticky" (kept from before)."""
    timestamp: float = field(default_factory=time.time)
    """When it was recorded (Unix time, seconds)."""


ExposureHandler = Callable[[Exposure], Any]


def exposure_json(exposure: Exposure) -> str:
    """One exposure as a JSON object on one line (what the default sink writes)."""
    return json.dumps({"event": "exposure", **asdict(exposure)}, sort_keys=True, separators=(",", ":"))


def log_exposure(exposure: Exposure) -> None:
    """A handler that logs the JSON line on the `mendel_py.exposures` logger at INFO (for an app
    that routes its logs itself: `on_exposure=log_exposure`)."""
    if log.isEnabledFor(logging.INFO):
        log.info(exposure_json(exposure))


class JsonLinesSink:
    """The default handler: one JSON line per exposure, to stderr or appended to a file.

    A line goes out in one `write` (O_APPEND), so the workers of a host can share the file; the
    file is opened in each process on first use, so nothing opened before a fork is shared.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None):
        self.path = os.fspath(path) if path is not None else None
        self._fd: int | None = None
        self._pid = -1
        self._lock = threading.Lock()
        self._failing: int | None = None  # the errno last reported

    @property
    def target(self) -> str:
        return self.path or "stderr"

    def __call__(self, exposure: Exposure) -> None:
        line = (exposure_json(exposure) + "\n").encode()
        if self.path is None:
            stream = sys.stderr
            stream.write(line.decode())
            stream.flush()
            return
        with self._lock:
            try:
                if self._fd is None or self._pid != os.getpid():
                    self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
                    self._pid = os.getpid()
                os.write(self._fd, line)
            except OSError as error:  # a full disk: said once until a line gets through again
                if error.errno != self._failing:
                    log.error("mendel: exposures can't be written to %s: %s", self.path, error.strerror)
                self._failing = error.errno
                return
            self._failing = None


def default_sink(setting: str | os.PathLike[str] | None) -> ExposureHandler | None:
    """The sink for `exposure_log=` / MENDEL_EXPOSURE_LOG: None or "-" stderr, "off" none, else
    that file."""
    if setting is None or os.fspath(setting) in ("", "-"):
        return JsonLinesSink()
    if os.fspath(setting) == OFF:
        return None
    try:  # a path nobody can write to is a start-up error, not a log line per exposure
        os.close(os.open(os.fspath(setting), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640))
    except OSError as error:
        raise ConfigError(
            f"can't append exposures to {os.fspath(setting)!r}: {error.strerror}", key="MENDEL_EXPOSURE_LOG"
        ) from None
    return JsonLinesSink(setting)


class ExposureDedup:
    """Which (unit, experiment, arm) were exposed within the window, in this process.

    Bounded: past `max_entries` the oldest go (such a unit may be recorded again, which an
    analysis of distinct units absorbs). Per worker by design: no I/O, no shared state.
    """

    def __init__(
        self, window_seconds: float | None = DEFAULT_WINDOW_SECONDS, max_entries: int = DEDUP_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.window = window_seconds or 0.0
        self.max_entries = max_entries
        self.clock = clock
        self._seen: OrderedDict[Hashable, float] = OrderedDict()
        self._lock = threading.Lock()
        _LIVE_DEDUPS.add(self)

    def _after_fork(self) -> None:
        self._lock = threading.Lock()  # one held by another thread of the parent at fork

    def __len__(self) -> int:
        return len(self._seen)

    def recent(self, key: Hashable, now: float | None = None) -> bool:
        """Whether `key` was marked within the window (a lock-free read: a hint only); `now`
        saves a clock call when a page asks for several keys."""
        when = self._seen.get(key)
        if when is None:
            return False
        return (self.clock() if now is None else now) - when < self.window

    def mark(self, key: Hashable) -> bool:
        """Mark `key` now; True when it was not marked within the window (record it)."""
        if self.window <= 0:
            return True
        now = self.clock()
        with self._lock:
            when = self._seen.get(key)
            if when is not None and now - when < self.window:
                return False
            self._seen[key] = now
            self._seen.move_to_end(key)
            while len(self._seen) > self.max_entries:
                self._seen.popitem(last=False)
        return True


_LIVE_DEDUPS: weakref.WeakSet[ExposureDedup] = weakref.WeakSet()


def _reset_after_fork() -> None:
    for dedup in list(_LIVE_DEDUPS):
        dedup._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def _current_span() -> Callable[[], Any] | None:
    """OpenTelemetry's `trace.get_current_span` when opentelemetry-api is installed, else None."""
    try:
        from opentelemetry import trace
    except ImportError:
        return None
    return trace.get_current_span


_CURRENT_SPAN = _current_span()


def _recording_span() -> Any:
    """The current span when it records (an exposure becomes its event), else None."""
    if _CURRENT_SPAN is None:
        return None
    span = _CURRENT_SPAN()
    return span if span.is_recording() else None


def listening(handler: ExposureHandler | None) -> bool:
    """Whether an exposure would go anywhere (so a page with nobody listening makes none)."""
    return handler is not None or log.isEnabledFor(logging.INFO) or _recording_span() is not None


def record(exposure: Exposure, handler: ExposureHandler | None) -> None:
    """Send one exposure to `handler` (None: the INFO log) and to OpenTelemetry if present."""
    try:
        (handler or log_exposure)(exposure)
    except Exception:  # an analytics hook must never break a page
        log.exception("exposure handler failed")
    span = _recording_span()
    if span is not None:
        span.add_event(OTEL_EVENT, {
            "feature_flag.key": exposure.experiment,
            "feature_flag.result.variant": exposure.variation or "control",
            "feature_flag.provider.name": PROVIDER_NAME,
            "feature_flag.context.id": exposure.unit,
        })

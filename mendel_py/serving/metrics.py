"""Counters and histograms of bundle serving, for a team to scrape.

What is counted (per process: each worker counts its own requests):

- ``mendel_bundle_requests_total{outcome, reason}``: every request under the bundle route, by
  outcome -- ``hit`` (served from the cache), ``miss`` (packed and/or compressed for it),
  ``not_modified`` (304), ``not_found`` (404, with the short ``reason`` code the response names:
  NOROUTE, NOBUNDLE, BADHASH, ...), ``busy`` (503: too many cold packs at once), ``method`` (405)
  and ``error`` (500);
- ``mendel_pack_seconds`` and ``mendel_compress_seconds{coding}``: histograms of the work misses do;
- ``mendel_bundle_cache_bytes``, ``mendel_bundle_store_bytes``: what the memory cache and (as this
  process last counted) the on-disk store hold;
- ``mendel_store_bad_files_total``: stored files that failed their check (`store.BundleStore`);
- ``mendel_generation_served{generation}``: 1 for the generation this worker serves;
- ``mendel_reload_failures_total``: reloads this worker tried and refused (a generation that
  failed its checks, a store that could not be read): `MendelTrees.reload_failures`.

Recording costs one increment of a slot made at start-up (a dict item or an attribute, ~50 ns):
no labels are built, no lock taken on a request. Under threads a rare increment may be lost (two
threads adding at once); the figures are for dashboards, not billing. Histograms are observed
only on misses, which cost milliseconds anyway.

Two ways out, both off the request path:

- Prometheus text: `prometheus_app(middleware, authorize)` is a WSGI app a project mounts where
  it wants, or `MendelMiddleware(metrics_route=..., metrics_access=...)` serves it at a path. It
  is off by default and answers only requests `authorize(environ)` admits (the app's auth); the
  others get a 404 (the route) or go to the app.
- OpenTelemetry: when ``opentelemetry-api`` is importable, `instrument_opentelemetry` (called by
  the middleware) registers observable instruments that read these counters when the SDK
  collects, and histograms recorded on misses. Without a configured SDK they are no-ops.
"""
from __future__ import annotations

import bisect
import logging
import os
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .store import BundleStore

log = logging.getLogger(__name__)

__all__ = ["NOT_FOUND_REASONS", "Histogram", "ServingMetrics", "instrument_opentelemetry", "prometheus_app"]

NOT_FOUND_REASONS = (
    "NOROUTE", "NOBUNDLE", "NOTCANONICAL", "BADHASH", "TRVRSL", "HASHMISS", "WALKERR", "EMPTYBUNDLE",
    "NOCHUNK", "NOMAP", "STOREBAD", "OTHER",
)
OUTCOMES = ("hit", "miss", "not_modified", "busy", "method", "error")
SLOTS: tuple[tuple[str, str], ...] = (
    *((outcome, "") for outcome in OUTCOMES), *(("not_found", reason) for reason in NOT_FOUND_REASONS),
)
"""(outcome, reason) of each request counter, in the order of `ServingMetrics.counts`."""
_SLOT = {key: index for index, key in enumerate(SLOTS)}
# The slots a request adds to: module constants, so recording is `counts[HIT] += 1`.
HIT, MISS, NOT_MODIFIED, BUSY, METHOD, ERROR = (_SLOT[(outcome, "")] for outcome in OUTCOMES)
_NOT_FOUND = {reason: _SLOT[("not_found", reason)] for reason in NOT_FOUND_REASONS}
_NOT_FOUND_OTHER = _NOT_FOUND["OTHER"]
# Seconds: a pack of a small bundle is well under a millisecond, brotli of a large one tens of ms.
TIME_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)

StartResponse = Callable[..., Any]
Authorize = Callable[[dict[str, Any]], bool]


class Histogram:
    """Fixed buckets (upper bounds, seconds), counted cumulatively only when exposed."""

    __slots__ = ("bounds", "counts", "sum", "_listeners")

    def __init__(self, bounds: Sequence[float] = TIME_BUCKETS):
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)  # the last one: above every bound
        self.sum = 0.0
        self._listeners: list[Callable[[float], None]] = []

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value
        for listener in self._listeners:
            listener(value)

    @property
    def count(self) -> int:
        return sum(self.counts)

    def listen(self, listener: Callable[[float], None]) -> None:
        """Also hand every observation to `listener` (an OpenTelemetry histogram)."""
        self._listeners.append(listener)


class ServingMetrics:
    """One process's counters of one middleware: `counts[slot]` per (outcome, reason) of `SLOTS`
    (a list indexed by module constants: the cheapest increment Python has, ~30-60 ns here)."""

    def __init__(self, codings: Iterable[str] = ()):
        self.counts = [0] * len(SLOTS)
        self.pack_seconds = Histogram()
        self.compress_seconds: dict[str, Histogram] = {coding: Histogram() for coding in codings}
        self.store_bad_files = 0
        self.started = time.time()

    @property
    def requests(self) -> dict[tuple[str, str], int]:
        """{(outcome, reason): count}, reason "" except for ``not_found``."""
        return dict(zip(SLOTS, self.counts))

    def not_found(self, reason: str) -> None:
        self.counts[_NOT_FOUND.get(reason, _NOT_FOUND_OTHER)] += 1

    def compressed(self, coding: str, seconds: float) -> None:
        histogram = self.compress_seconds.get(coding)
        if histogram is None:
            histogram = self.compress_seconds[coding] = Histogram()
        histogram.observe(seconds)

    def bad_store_file(self, _name: str, _reason: str) -> None:
        self.store_bad_files += 1



# --- Prometheus text exposition ------------------------------------------------------------------


class _CacheView(Protocol):
    """What the metrics read of the bundle cache (`bundles.BundleCache`)."""

    @property
    def total_bytes(self) -> int: ...

    @property
    def store(self) -> BundleStore | None: ...

    def __len__(self) -> int: ...


class MetricsSource(Protocol):
    """What the metrics read of a middleware (`MendelMiddleware`): its counters, bundle cache and trees."""

    @property
    def metrics(self) -> ServingMetrics: ...

    @property
    def cache(self) -> _CacheView: ...

    @property
    def trees(self) -> Any: ...


def reload_failures(middleware: MetricsSource) -> int:
    """The reloads the middleware's trees refused (0 for trees that never reload, as a test's)."""
    return int(getattr(middleware.trees, "reload_failures", 0))


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _histogram_lines(name: str, histogram: Histogram, labels: str) -> list[str]:
    lines = []
    cumulative = 0
    for bound, count in zip((*histogram.bounds, float("inf")), histogram.counts):
        cumulative += count
        le = "+Inf" if bound == float("inf") else repr(bound)
        lines.append(f'{name}_bucket{{{labels}le="{le}"}} {cumulative}')
    lines.append(f"{name}_sum{{{labels.rstrip(',')}}} {histogram.sum!r}")
    lines.append(f"{name}_count{{{labels.rstrip(',')}}} {cumulative}")
    return lines


def prometheus_text(middleware: MetricsSource) -> str:
    """This worker's metrics in the Prometheus text format (0.0.4), each sample labelled with
    the worker's pid: sum over `pid` for a host, and expect a series to restart with its worker."""
    metrics = middleware.metrics
    pid = f'pid="{os.getpid()}",'
    out = [
        "# HELP mendel_bundle_requests_total Requests under the bundle route, by outcome.",
        "# TYPE mendel_bundle_requests_total counter",
    ]
    for (outcome, reason), count in metrics.requests.items():
        reason_label = f',reason="{reason}"' if reason else ""
        out.append(f'mendel_bundle_requests_total{{{pid}outcome="{outcome}"{reason_label}}} {count}')
    out += ["# HELP mendel_pack_seconds Time to pack a bundle on a miss.", "# TYPE mendel_pack_seconds histogram"]
    out += _histogram_lines("mendel_pack_seconds", metrics.pack_seconds, pid)
    out += ["# HELP mendel_compress_seconds Time to compress a bundle on a miss.",
            "# TYPE mendel_compress_seconds histogram"]
    for coding, histogram in sorted(metrics.compress_seconds.items()):
        out += _histogram_lines("mendel_compress_seconds", histogram, f'{pid}coding="{_label(coding)}",')
    store = middleware.cache.store
    out += [
        "# HELP mendel_bundle_cache_bytes Bytes the bundle cache holds in memory.",
        "# TYPE mendel_bundle_cache_bytes gauge",
        f"mendel_bundle_cache_bytes{{{pid.rstrip(',')}}} {middleware.cache.total_bytes}",
        "# HELP mendel_bundle_cache_entries Representations the bundle cache holds.",
        "# TYPE mendel_bundle_cache_entries gauge",
        f"mendel_bundle_cache_entries{{{pid.rstrip(',')}}} {len(middleware.cache)}",
    ]
    if store is not None:
        out += [
            "# HELP mendel_bundle_store_bytes Bytes in the on-disk bundle store, as this worker counted.",
            "# TYPE mendel_bundle_store_bytes gauge",
            f"mendel_bundle_store_bytes{{{pid.rstrip(',')}}} {store.total_bytes}",
        ]
    out += [
        "# HELP mendel_store_bad_files_total Stored bundle files that failed their check.",
        "# TYPE mendel_store_bad_files_total counter",
        f"mendel_store_bad_files_total{{{pid.rstrip(',')}}} {metrics.store_bad_files}",
        "# HELP mendel_generation_served The generation this worker serves (1).",
        "# TYPE mendel_generation_served gauge",
        f'mendel_generation_served{{{pid}generation="{_label(str(middleware.trees.generation))}"}} 1',
        "# HELP mendel_reload_failures_total Reloads this worker tried and refused.",
        "# TYPE mendel_reload_failures_total counter",
        f"mendel_reload_failures_total{{{pid.rstrip(',')}}} {reload_failures(middleware)}",
    ]
    out += _ssr_lines(middleware, pid)
    return "\n".join(out) + "\n"


def _ssr_lines(middleware: MetricsSource, pid: str) -> list[str]:
    """Server rendering's counters, once the pages rendered (`mendel_py.ssr`)."""
    from ..ssr import existing_renderer

    renderer = existing_renderer(middleware.trees)
    if renderer is None:
        return []
    status = renderer.status()
    only_pid = pid.rstrip(",")
    out = [
        "# HELP mendel_ssr_renders_total Server renders that gave HTML.",
        "# TYPE mendel_ssr_renders_total counter",
        f'mendel_ssr_renders_total{{{pid}engine="{status["engine"]}"}} {status["renders"]}',
        "# HELP mendel_ssr_faults_total Server renders ended by the sandbox, by reason.",
        "# TYPE mendel_ssr_faults_total counter",
    ]
    out += [f'mendel_ssr_faults_total{{{pid}reason="{reason}"}} {count}' for reason, count in status["faults"].items()]
    out += [
        "# HELP mendel_ssr_fallbacks_total Pages that fell back to client rendering.",
        "# TYPE mendel_ssr_fallbacks_total counter",
        f"mendel_ssr_fallbacks_total{{{only_pid}}} {status['fallbacks']}",
        "# HELP mendel_ssr_context_bytes Bytes the cached engine contexts of this worker hold.",
        "# TYPE mendel_ssr_context_bytes gauge",
        f"mendel_ssr_context_bytes{{{only_pid}}} {status['context_bytes']}",
        "# HELP mendel_ssr_contexts Engine contexts this worker holds.",
        "# TYPE mendel_ssr_contexts gauge",
        f"mendel_ssr_contexts{{{only_pid}}} {status['contexts']}",
    ]
    return out


def prometheus_app(middleware: MetricsSource, authorize: Authorize) -> Callable[..., Iterable[bytes]]:
    """A WSGI app answering GET with `prometheus_text(middleware)` to requests `authorize(environ)`
    admits, and 404 (no-store) to any other: mount it behind the app's own auth."""
    if not callable(authorize):
        raise TypeError("prometheus_app needs authorize(environ) -> bool: metrics are never public")

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if not authorize(environ):
            start_response("404 Not Found", [("Content-Type", "text/plain"), ("Cache-Control", "no-store")])
            return [b"404 Not Found\n"]
        body = prometheus_text(middleware).encode()
        start_response("200 OK", [
            ("Content-Type", "text/plain; version=0.0.4; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
        ])
        return [body] if environ.get("REQUEST_METHOD", "GET") != "HEAD" else []

    return app


# --- OpenTelemetry -------------------------------------------------------------------------------


def instrument_opentelemetry(middleware: MetricsSource, meter_provider: Any = None) -> bool:
    """Register the middleware's metrics with OpenTelemetry (the global meter provider unless
    one is given); False when ``opentelemetry-api`` is not installed. Counters and gauges are
    observable (read at collection, nothing on a request); histograms are recorded on misses."""
    try:
        from opentelemetry import metrics as otel
    except ImportError:
        return False
    try:
        _register(otel, middleware, meter_provider)
    except Exception:  # a broken or foreign metrics setup must not stop the app from serving
        log.exception("mendel: registering OpenTelemetry metrics failed; serving without them")
        return False
    return True


def _register(otel: Any, middleware: MetricsSource, meter_provider: Any) -> None:
    meter = (meter_provider or otel.get_meter_provider()).get_meter("mendel_py")
    metrics = middleware.metrics

    def requests(_options: Any) -> Iterable[Any]:
        for (outcome, reason), count in list(metrics.requests.items()):
            attributes = {"outcome": outcome, **({"reason": reason} if reason else {})}
            yield otel.Observation(count, attributes)

    def gauge(read: Callable[[], float], attributes: dict[str, str] | None = None) -> Callable[[Any], Iterable[Any]]:
        return lambda _options: [otel.Observation(read(), attributes or {})]

    meter.create_observable_counter("mendel.bundle.requests", [requests], unit="{request}",
                                    description="Requests under the bundle route, by outcome")
    meter.create_observable_gauge("mendel.bundle.cache.bytes", [gauge(lambda: middleware.cache.total_bytes)],
                                  unit="By", description="Bytes the bundle cache holds in memory")
    if middleware.cache.store is not None:
        store = middleware.cache.store
        meter.create_observable_gauge("mendel.bundle.store.bytes", [gauge(lambda: store.total_bytes)],
                                      unit="By", description="Bytes in the on-disk bundle store")
    meter.create_observable_counter("mendel.store.bad_files", [gauge(lambda: metrics.store_bad_files)],
                                    description="Stored bundle files that failed their check")
    meter.create_observable_counter("mendel.reload.failures", [gauge(lambda: reload_failures(middleware))],
                                    description="Reloads this worker tried and refused")
    meter.create_observable_gauge(
        "mendel.generation.served",
        [lambda _options: [otel.Observation(1, {"generation": str(middleware.trees.generation)})]],
        description="The generation this worker serves",
    )
    pack = meter.create_histogram("mendel.pack.duration", unit="s", description="Packing a bundle on a miss")
    metrics.pack_seconds.listen(pack.record)
    compress = meter.create_histogram("mendel.compress.duration", unit="s",
                                      description="Compressing a bundle on a miss")

    def record_compress(coding: str) -> Callable[[float], None]:
        attributes = {"coding": coding}
        return lambda seconds: compress.record(seconds, attributes)

    for coding, histogram in metrics.compress_seconds.items():
        histogram.listen(record_compress(coding))

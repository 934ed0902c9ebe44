"""Exposure events: a unit saw a page built for the variation an experiment gave it.

An exposure is recorded when a page actually embeds a bundle (its URL is built), not when the
unit is assigned, and once per request per experiment; QA overrides and the winners of stopped
experiments are never exposures. Where it goes:

- the app's callback (`MendelMiddleware(on_exposure=...)`, Flask `Mendel(on_exposure=...)`),
  else one structured log line (JSON) on the `mendel_py.exposures` logger at INFO;
- and, when `opentelemetry-api` is installed (the `[otel]` extra), an OpenTelemetry
  `feature_flag.evaluation` event on the current span, with the semantic conventions'
  `feature_flag.key`, `feature_flag.result.variant` and `feature_flag.provider.name`.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

log = logging.getLogger("mendel_py.exposures")

PROVIDER_NAME = "mendel_py"
OTEL_EVENT = "feature_flag.evaluation"


@dataclass(frozen=True)
class Exposure:
    experiment: str
    layer: str
    variation_index: int
    variation: str | None
    """The variation id (None for the control); it stays on the server."""
    unit: str
    bundle: str


ExposureHandler = Callable[[Exposure], Any]


def log_exposure(exposure: Exposure) -> None:
    """The default handler: one JSON line a log pipeline can pick up (made only when the
    `mendel_py.exposures` logger is on at INFO)."""
    if log.isEnabledFor(logging.INFO):
        log.info(json.dumps({"event": "exposure", **asdict(exposure)}, sort_keys=True))


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
    """Send one exposure to the app's handler (or the log) and to OpenTelemetry if present."""
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

"""The public path of `mendel_py.experiments.exposures` (its names, re-exported; see that module)."""
from __future__ import annotations

from .experiments.exposures import (
    DEDUP_MAX_ENTRIES,
    DEFAULT_WINDOW_SECONDS,
    OFF,
    OTEL_EVENT,
    PROVIDER_NAME,
    Exposure,
    ExposureDedup,
    ExposureHandler,
    JsonLinesSink,
    default_sink,
    exposure_json,
    listening,
    log_exposure,
    record,
)

__all__ = [
    "DEDUP_MAX_ENTRIES",
    "DEFAULT_WINDOW_SECONDS",
    "Exposure",
    "ExposureDedup",
    "ExposureHandler",
    "JsonLinesSink",
    "OFF",
    "OTEL_EVENT",
    "PROVIDER_NAME",
    "default_sink",
    "exposure_json",
    "listening",
    "log_exposure",
    "record",
]

"""The development loop of `mendel dev`: watcher -> incremental rebuild -> reload -> server-sent
events to open pages (`loop`).
"""

from __future__ import annotations

from .loop import (
    CLIENT_SCRIPT,
    EVENTS_SUBPATH,
    HEARTBEAT_SECONDS,
    WATCH_DEBOUNCE_MS,
    WATCH_STEP_MS,
    Broadcaster,
    DevLoop,
    DevMiddleware,
    OnStatus,
    Status,
    client_snippet,
    inject,
)

__all__ = [
    "Broadcaster",
    "CLIENT_SCRIPT",
    "DevLoop",
    "DevMiddleware",
    "EVENTS_SUBPATH",
    "HEARTBEAT_SECONDS",
    "OnStatus",
    "Status",
    "WATCH_DEBOUNCE_MS",
    "WATCH_STEP_MS",
    "client_snippet",
    "inject",
]

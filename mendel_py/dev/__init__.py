"""The development loop of `mendel dev`: watcher -> incremental rebuild -> reload -> server-sent
events to open pages (`loop`).
"""

from __future__ import annotations

from .loop import (
    Broadcaster,
    CLIENT_SCRIPT,
    DevLoop,
    DevMiddleware,
    EVENTS_SUBPATH,
    HEARTBEAT_SECONDS,
    OnStatus,
    Status,
    WATCH_DEBOUNCE_MS,
    WATCH_STEP_MS,
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

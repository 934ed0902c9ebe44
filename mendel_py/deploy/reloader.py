"""Hot reload: a daemon thread per process that swaps in a new generation when its files change.

It polls a few `stat` calls a second (`MendelTrees.reload_if_changed`: the `.mendelrc`, the
manifests and the generation store's `CURRENT`) rather than using inotify: the store is often a
network or object-store mount where change events don't arrive, a stat costs microseconds, and a
poll needs no extra dependency. The thread is started lazily by the first request each process
serves, because threads do not survive `fork`: under gunicorn with `preload_app = True` the
master loads the manifests once and every worker starts its own watcher. Loading and validating
happen in that thread, never on a request.
"""
from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from .._runtime.process import current_pid

if TYPE_CHECKING:
    from ..core.trees import MendelTrees

log = logging.getLogger(__name__)

DEFAULT_RELOAD_INTERVAL = 1.0
"""Seconds between two looks at a project's files (MENDEL_RELOAD_INTERVAL; 0 turns it off)."""


class Reloader:
    """Watches one MendelTrees from a daemon thread of the current process."""

    def __init__(self, trees: MendelTrees, interval: float = DEFAULT_RELOAD_INTERVAL):
        self.trees = trees
        self.interval = interval
        self._pid: int | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def ensure_running(self) -> None:
        """Start the watcher in this process unless it runs already (cheap: one comparison, no
        system call)."""
        if self._pid == current_pid():
            return
        with self._lock:
            if self._pid == current_pid():
                return
            self._stop = threading.Event()
            thread = threading.Thread(target=self._run, args=(self._stop,), name="mendel-reloader", daemon=True)
            thread.start()
            self._pid = current_pid()

    def stop(self) -> None:
        self._stop.set()
        self._pid = None

    def _run(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval):
            try:
                self.trees.reload_if_changed()
            except Exception:  # the watcher must outlive any surprise; the old generation serves
                log.exception("mendel: reload check failed")

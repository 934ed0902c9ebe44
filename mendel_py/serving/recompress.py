"""Better compression for bundles that are asked for again, made off the request path.

A first request is compressed at levels chosen for speed (`compression.request_path_coders`);
gzip 9 and brotli 9 make the same bundle ~29 % smaller for ~70 ms of CPU each
(benchmarks/README.md, "compression levels"), which pays for a bundle served more than once:
direct traffic, CDN edges filling one by one, revalidations. So the second request for a
representation hands it to a `Recompressor`, a background thread of the process that re-encodes
it and swaps the better one in (`bundles.BundleCache`); no request waits for it.
"""
from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Hashable

from .._runtime.process import current_pid

log = logging.getLogger(__name__)

DEFAULT_MAX_PENDING = 16
"""Jobs waiting at most; more are dropped (they come again with the next request)."""

Job = Callable[[], None]


class Recompressor:
    """Runs jobs on one daemon thread per process, each key at most once at a time.

    The thread starts with the first job (a thread doesn't survive a fork, so a pre-forked worker
    starts its own), and a process that forked with jobs queued starts afresh.
    """

    def __init__(self, max_pending: int = DEFAULT_MAX_PENDING):
        self.max_pending = max_pending
        self._reset()

    def _reset(self) -> None:
        self._pid = current_pid()
        self._changed = threading.Condition()
        self._queue: deque[tuple[Hashable, Job]] = deque()
        self._pending: set[Hashable] = set()  # queued or running
        self._thread: threading.Thread | None = None

    def submit(self, key: Hashable, job: Job) -> bool:
        """Queue `job` unless one for `key` is pending or the queue is full; True if queued."""
        if self._pid != current_pid():
            self._reset()
        with self._changed:
            if key in self._pending or len(self._queue) >= self.max_pending:
                return False
            self._pending.add(key)
            self._queue.append((key, job))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="mendel-recompress", daemon=True)
                self._thread.start()
            self._changed.notify_all()
        return True

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no job is queued or running; False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._pending, timeout)

    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: bool(self._queue))
                key, job = self._queue.popleft()
            try:
                job()
            except Exception:  # a failed job only leaves the faster representation in place
                log.exception("mendel: recompressing %r failed", key)
            finally:
                with self._changed:
                    self._pending.discard(key)
                    self._changed.notify_all()

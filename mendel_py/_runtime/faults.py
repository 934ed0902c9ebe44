"""Fault points of the deploy step, for tests that kill it at each of its writes.

`fault_point(name)` does nothing unless the MENDEL_FAULT_POINT environment variable names exactly
that point; then the process kills itself with SIGKILL, as a
`kill -9` or a power cut at that instant would. Only the deploy commands (`mendel build`,
`mendel reload`, `mendel generations activate`) call it, never a server, so it costs a request
nothing. Points are named `<step>:<what>`, e.g. `manifest-renamed:main` or `store-staged`.
"""
from __future__ import annotations

import os
import signal

FAULT_VARIABLE = "MENDEL_FAULT_POINT"


def fault_point(name: str) -> None:
    """Die here, at once and uncleanly, if MENDEL_FAULT_POINT names this point."""
    if os.environ.get(FAULT_VARIABLE) == name:
        os.kill(os.getpid(), signal.SIGKILL)

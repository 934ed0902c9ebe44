"""Which process this is, known without a system call per look.

A thread does not survive `fork`, so the reloader and the recompressor start theirs lazily in each
process and must notice a fork; `os.getpid()` is a system call (glibc caches no pid), and the
reloader's check runs on every request. The pid is kept here and renewed in a forked child.
"""
from __future__ import annotations

import os

_pid = os.getpid()


def _forked() -> None:
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_forked)


def current_pid() -> int:
    """`os.getpid()`, read from memory."""
    return _pid

"""The `mendel` command (a click group, also mounted as `flask mendel`): `main` holds the group and
the inspection commands, the other modules one command family each; `support` is what they share.

The top layer: may import anything; nothing else in mendel_py imports it (but `flask mendel`).
"""

from __future__ import annotations

from .main import cli, main

__all__ = ["cli", "main"]

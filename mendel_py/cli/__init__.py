"""The `mendel` command (a click group, also mounted as `flask mendel`): `main` holds the group,
the other modules one command family each (`inspect`, `validate`, `resolve` with decode and
diff, `build`, `dev`, `generations`, `experiments`, `sourcemap`, `store`); `support` is what they
share, `analysis` the questions they ask.

The top layer: may import anything; nothing else in mendel_py imports it (but `flask mendel`).
"""

from __future__ import annotations

from .main import cli, main

__all__ = ["cli", "main"]

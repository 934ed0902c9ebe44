"""The public path of `mendel_py.serving.prefork` (its names, re-exported; see that module)."""
from __future__ import annotations

from .serving.prefork import (
    prepare_for_fork,
)

__all__ = [
    "prepare_for_fork",
]

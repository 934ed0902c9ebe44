"""The public path of `mendel_py.serving.wsgi` (its names, re-exported; see that module)."""
from __future__ import annotations

from .serving.wsgi import (
    DEFAULT_ROUTE,
    BundleRoute,
    BundleUnavailable,
    MendelMiddleware,
)

__all__ = [
    "DEFAULT_ROUTE",
    "BundleRoute",
    "BundleUnavailable",
    "MendelMiddleware",
]

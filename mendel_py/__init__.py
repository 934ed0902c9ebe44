"""mendel_py: Mendel-style front-end variations for Flask and WSGI apps."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    BundleNotFound,
    ConfigError,
    HashError,
    HashLimitError,
    ManifestError,
    MendelError,
    StartupError,
    WalkError,
)

if TYPE_CHECKING:
    from .trees import MendelTrees, Tree
    from .wsgi import MendelMiddleware

__all__ = [
    "BundleNotFound",
    "ConfigError",
    "HashError",
    "HashLimitError",
    "ManifestError",
    "MendelError",
    "MendelMiddleware",
    "MendelTrees",
    "StartupError",
    "Tree",
    "WalkError",
]

_LAZY = {"MendelTrees": "trees", "Tree": "trees", "MendelMiddleware": "wsgi"}


def __getattr__(name: str) -> Any:
    """Import the heavier parts on first use, so `mendel --help` and the codecs stay light."""
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

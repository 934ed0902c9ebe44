"""mendel_py: Mendel-style front-end variations for Flask and WSGI apps."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import _moved
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

_moved.install()  # the module paths of 0.1 that moved keep importing, with a DeprecationWarning

if TYPE_CHECKING:
    from .core.trees import MendelTrees, Tree
    from .serving.wsgi import MendelMiddleware

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

_LAZY = {"MendelTrees": "core.trees", "Tree": "core.trees", "MendelMiddleware": "serving.wsgi"}


def __getattr__(name: str) -> Any:
    """Import the heavier parts on first use, so `mendel --help` and the codecs stay light."""
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

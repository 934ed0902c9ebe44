"""The public path of `mendel_py.integrations.flask` (its names, re-exported; see that module)."""
from __future__ import annotations

from .integrations.flask import (
    FlaskRequestResolver,
    Mendel,
    MendelState,
    get_resolver,
    mendel,
)

__all__ = [
    "FlaskRequestResolver",
    "Mendel",
    "MendelState",
    "get_resolver",
    "mendel",
]

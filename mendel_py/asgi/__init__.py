"""Mendel for ASGI apps (Starlette, FastAPI, any ASGI app): `MendelASGIMiddleware` and the
Starlette/FastAPI helpers (`mendel_templates`, the `MendelResolver` dependency). Install with the
``[asgi]`` extra.

Layer 5 (an adapter, like `integrations`): it imports `serving` and below, never `cli`. A real
package (not a facade over `integrations`) so that ``mendel_py.asgi`` is the import path users
write and its parts stay one module per job.
"""
from __future__ import annotations

from .middleware import MendelASGIMiddleware, environ_from_scope
from .starlette import MendelResolver, get_mendel, mendel_templates, resolver_of

__all__ = ["MendelASGIMiddleware", "MendelResolver", "environ_from_scope", "get_mendel", "mendel_templates",
           "resolver_of"]

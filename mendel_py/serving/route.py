"""The bundle URL route, as the middleware uses it. The route is part of the configuration (its
pattern is checked when `.mendelrc` loads, and the CLI builds the same URLs), so it lives in
`mendel_py.config.route`; these are its names."""

from __future__ import annotations

from ..config.route import CHUNK_MARK, DEFAULT_ROUTE, PARAMETERS, BundleRoute

__all__ = ["BundleRoute", "CHUNK_MARK", "DEFAULT_ROUTE", "PARAMETERS"]

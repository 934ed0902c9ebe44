"""The four werkzeug header parsers mendel_py uses, across werkzeug versions.

werkzeug's main branch deprecates `parse_accept_header`, `parse_etags`, `parse_set_header` and
`parse_cache_control_header(cls=)` for removal, in favour of ``X.from_header(value)`` classmethods
on the data structures. Each function here calls the classmethod when the installed werkzeug has
it (no deprecation warning) and today's function otherwise; the choice is made per call, so a
test can take either away. Every call site in mendel_py goes through here.
"""
from __future__ import annotations

from typing import Any

from werkzeug import http
from werkzeug.datastructures import Accept, ETags, HeaderSet, ResponseCacheControl

__all__ = ["parse_accept", "parse_etags", "parse_response_cache_control", "parse_set"]


def _from_header(cls: type[Any]) -> Any:
    """`cls.from_header` when this werkzeug has it, else None."""
    return getattr(cls, "from_header", None)


def parse_accept(value: str | None) -> Accept:
    """An ``Accept*`` header value (``Accept-Encoding`` here) as an `Accept`."""
    from_header = _from_header(Accept)
    if from_header is not None:
        return from_header(value)
    return http.parse_accept_header(value)


def parse_etags(value: str | None) -> ETags:
    """An ``If-None-Match`` (or ``If-Match``) header value as `ETags`."""
    from_header = _from_header(ETags)
    if from_header is not None:
        return from_header(value)
    return http.parse_etags(value)


def parse_set(value: str | None) -> HeaderSet:
    """A comma-separated set header (``Vary``) as a `HeaderSet`."""
    from_header = _from_header(HeaderSet)
    if from_header is not None:
        return from_header(value)
    return http.parse_set_header(value)


def parse_response_cache_control(value: str | None) -> ResponseCacheControl:
    """A response's ``Cache-Control`` header value as a `ResponseCacheControl`."""
    from_header = _from_header(ResponseCacheControl)
    if from_header is not None:
        return from_header(value)
    return http.parse_cache_control_header(value, cls=ResponseCacheControl)

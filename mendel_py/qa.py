"""Signed, expiring QA overrides: a link that puts one browser in chosen variations.

Letting a visitor pick variations is off by default; QA staff get a link instead. The token is
signed with itsdangerous (keyed by the app's secret, so nobody can mint or alter one) and carries
its own expiry. `mendel qa-link --variations a,b --ttl 1h` prints such a link; the resolver stores
the token in a cookie (`QA_COOKIE_NAME`) for that browser and checks it on every request. A
tampered, expired or malformed token is ignored (logged), never an error page.

    token = sign_qa_token(app.secret_key, ["bucket_A"], ttl_seconds=3600)
    read_qa_token(app.secret_key, token)        # ("bucket_A",) until it expires, then None
"""
from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable, Sequence

from itsdangerous import BadData, URLSafeSerializer

log = logging.getLogger(__name__)

QA_COOKIE_NAME = "mendel_qa"
QA_QUERY_PARAM = "mendel_qa"
DEFAULT_TTL_SECONDS = 3600
MAX_TTL_SECONDS = 30 * 24 * 3600

_SALT = "mendel_py qa override"
_TTL_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_TTL_RE = re.compile(r"(\d+)\s*([smhdw]?)")

Secret = str | bytes | Sequence[str | bytes]


def sign_qa_token(
    secret: Secret, variations: Iterable[str], ttl_seconds: int = DEFAULT_TTL_SECONDS, *, now: float | None = None
) -> str:
    """A URL-safe token naming `variations`, valid for `ttl_seconds` from `now`."""
    if not 0 < ttl_seconds <= MAX_TTL_SECONDS:
        raise ValueError(f"QA token lifetime must be 1 s .. {MAX_TTL_SECONDS // 86400} days")
    expires = int((time.time() if now is None else now) + ttl_seconds)
    return _serializer(secret).dumps({"v": list(variations), "exp": expires})


def read_qa_token(secret: Secret, token: str | None, *, now: float | None = None) -> tuple[str, ...] | None:
    """The variations a valid token names; None (logged) when it is tampered, malformed or expired."""
    if not token:
        return None
    try:
        payload = _serializer(secret).loads(token)
    except BadData:
        log.warning("mendel: ignoring a QA token with a bad signature")
        return None
    if not _well_formed(payload):
        log.warning("mendel: ignoring a malformed QA token")
        return None
    if payload["exp"] <= (time.time() if now is None else now):
        log.info("mendel: ignoring an expired QA token")
        return None
    return tuple(payload["v"])


def parse_ttl(text: str) -> int:
    """`"90"`, `"90s"`, `"15m"`, `"1h"`, `"7d"`, `"1h30m"` -> seconds; ValueError otherwise."""
    compact = text.strip().lower()
    parts = _TTL_RE.findall(compact)
    if not parts or "".join(n + unit for n, unit in parts) != compact.replace(" ", ""):
        raise ValueError(f"not a duration: {text!r} (try 90s, 15m, 1h, 7d)")
    return sum(int(n) * _TTL_UNITS[unit or "s"] for n, unit in parts)


def _serializer(secret: Secret) -> URLSafeSerializer:
    if not secret:
        raise ValueError("QA tokens need a secret key (the app's SECRET_KEY)")
    keys = list(secret) if isinstance(secret, (list, tuple)) else [secret]
    # itsdangerous signs with the last key and accepts any: append a new key to rotate.
    return URLSafeSerializer(keys, salt=_SALT)


def _well_formed(payload: object) -> bool:
    return (
        isinstance(payload, dict)
        and isinstance(payload.get("exp"), int)
        and isinstance(payload.get("v"), list)
        and all(isinstance(name, str) for name in payload["v"])
    )

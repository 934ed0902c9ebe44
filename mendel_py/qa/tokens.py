"""Signed, expiring QA overrides: a link that puts one browser in chosen variations.

Letting a visitor pick variations is off by default; QA staff get a link instead. The token is
signed with itsdangerous (keyed by the app's secret, so nobody can mint or alter one) and carries
its variations, its own expiry and, when given, the project's config id (`MendelConfig.config_id`):
a token made for one project is refused by another, even one that shares the secret.
`mendel qa-link --variations a,b --ttl 1h` prints such a link; the resolver stores the token in a
cookie (`QA_COOKIE_NAME`) for that browser and checks it on every request. A tampered, expired,
malformed or foreign token is ignored (logged), never an error page.

A token made from another (the QA page re-signs the browser's choice) gets `not_after=` the
parent's expiry, so it never outlives the link it came from: a leaked link can't renew itself.

    token = sign_qa_token(app.secret_key, ["bucket_A"], ttl_seconds=3600, project=config.config_id)
    read_qa_token(app.secret_key, token, project=config.config_id)   # ("bucket_A",), then None
"""
from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

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


class QAToken(NamedTuple):
    """What a valid token grants: its variations until `expires` (a Unix time)."""

    variations: tuple[str, ...]
    expires: int


def sign_qa_token(
    secret: Secret, variations: Iterable[str], ttl_seconds: int = DEFAULT_TTL_SECONDS, *,
    now: float | None = None, project: str | None = None, not_after: float | None = None,
) -> str:
    """A URL-safe token naming `variations`, valid for `ttl_seconds` from `now` but never past
    `not_after` (the expiry of the token it is derived from); bound to `project` when given."""
    if not 0 < ttl_seconds <= MAX_TTL_SECONDS:
        raise ValueError(f"QA token lifetime must be 1 s .. {MAX_TTL_SECONDS // 86400} days")
    expires = int((time.time() if now is None else now) + ttl_seconds)
    if not_after is not None:
        expires = min(expires, int(not_after))
    payload: dict[str, object] = {"v": list(variations), "exp": expires}
    if project is not None:
        payload["p"] = project
    return _serializer(secret).dumps(payload)


def read_qa_token(
    secret: Secret, token: str | None, *, now: float | None = None, project: str | None = None
) -> tuple[str, ...] | None:
    """The variations a valid token names; None (logged) when it is tampered, malformed,
    expired, or (with `project`) made for another project."""
    found = read_qa_grant(secret, token, now=now, project=project)
    return found.variations if found is not None else None


def read_qa_grant(
    secret: Secret, token: str | None, *, now: float | None = None, project: str | None = None
) -> QAToken | None:
    """`read_qa_token` with the token's expiry (what the QA page shows, and caps re-signing at)."""
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
    if project is not None and payload.get("p") != project:
        log.warning("mendel: ignoring a QA token made for another project")
        return None
    if payload["exp"] <= (time.time() if now is None else now):
        log.info("mendel: ignoring an expired QA token")
        return None
    return QAToken(tuple(payload["v"]), payload["exp"])


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
    keys: list[Any] = list(secret) if isinstance(secret, (list, tuple)) else [secret]
    # itsdangerous signs with the last key and accepts any: append a new key to rotate.
    return URLSafeSerializer(keys, salt=_SALT)


def _well_formed(payload: object) -> bool:
    return (
        isinstance(payload, dict)
        and isinstance(payload.get("exp"), int)
        and isinstance(payload.get("v"), list)
        and all(isinstance(name, str) for name in payload["v"])
    )

"""QA access: signed, expiring, project-bound override tokens (`tokens`), the variation matrix
(`matrix`), the QA page the middleware serves (`page`: the WSGI part and its access gate), what it
shows (`report`) and its HTML (`render`).
"""

from __future__ import annotations

from .tokens import (
    DEFAULT_TTL_SECONDS,
    MAX_TTL_SECONDS,
    QA_COOKIE_NAME,
    QA_QUERY_PARAM,
    QAToken,
    Secret,
    parse_ttl,
    read_qa_grant,
    read_qa_token,
    sign_qa_token,
)

__all__ = [
    "DEFAULT_TTL_SECONDS",
    "MAX_TTL_SECONDS",
    "QAToken",
    "QA_COOKIE_NAME",
    "QA_QUERY_PARAM",
    "Secret",
    "parse_ttl",
    "read_qa_grant",
    "read_qa_token",
    "sign_qa_token",
]

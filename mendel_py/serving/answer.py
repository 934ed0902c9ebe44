"""`BundleAnswer`: what a bundle URL is answered with, decided once for every server adapter.

`MendelMiddleware.answer_bundle` makes one from a request's few CGI keys; the WSGI middleware,
the ASGI middleware (`mendel_py.asgi`) and the Django middleware (`mendel_py.django`) only send
it: the status, the header list as given, and the body from `content` (the packer's pieces in
memory) or `file` (a verified stored file, open). Nothing here knows a framework.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import IO

from ..packing.body import Body

__all__ = ["BundleAnswer", "error_answer"]

_EMPTY = Body.wrap(b"")


@dataclass(frozen=True)
class BundleAnswer:
    """A bundle response: `status`, `headers` (Content-Length included whenever there is a body,
    or would be one: HEAD) and the body from `content` or, when set, `file`."""

    status: int
    headers: Sequence[tuple[str, str]]
    content: Body = _EMPTY
    file: IO[bytes] | None = None
    """A verified stored representation, open at its start; the adapter sends and closes it."""

    @property
    def status_line(self) -> str:
        """``"200 OK"``: the status as WSGI's start_response wants it."""
        return f"{self.status} {HTTPStatus(self.status).phrase}"

    def without_body(self) -> BundleAnswer:
        """The answer to HEAD: the same status and headers (Content-Length too), no body."""
        if self.file is not None:
            self.file.close()
        return BundleAnswer(self.status, self.headers) if self.content or self.file else self

    @property
    def chunks(self) -> Iterator[bytes]:
        """The in-memory body in pieces of about `packing.body.CHUNK_BYTES` (none for a file)."""
        return self.content.chunks()


def error_answer(status: int, code: str, reason: str, **headers: str) -> BundleAnswer:
    """A one-line plain-text error that no cache keeps (and no browser reads as a script)."""
    body = f"{status} {code}: {reason}\n".encode()
    fields = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
        ("X-Content-Type-Options", "nosniff"),
        *headers.items(),
    ]
    return BundleAnswer(status, fields, Body.wrap(body))

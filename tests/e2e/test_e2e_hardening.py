"""Hostile input against the example shop under gunicorn, over raw sockets (bytes as sent).

Bounded fuzzers: random bytes in cookies never fail a page; every path under the bundle prefix is
a 200 in its canonical spelling only and a `no-store` 404 otherwise; nothing answers 5xx.
"""
from __future__ import annotations

import random
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from e2e_support import Server, build_example_project, running_gunicorn

SEED = 7
COOKIE_CASES = 300
PATH_CASES = 400


@dataclass
class Raw:
    status: int
    headers: dict[str, str]
    body: bytes


def raw_request(server: Server, path: bytes, headers: bytes = b"", method: bytes = b"GET") -> Raw:
    """One HTTP/1.1 request written byte for byte; the response read until the server closes."""
    request = method + b" " + path + b" HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n" + headers + b"\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers_read = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers_read[name.strip().lower()] = value.strip()
    return Raw(int(status_line.split()[1]), headers_read, body)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    project = build_example_project(tmp_path_factory.mktemp("shop"))
    with running_gunicorn(project) as running:
        yield running


def page_bundle_path(server: Server, cookie: bytes = b"mendel_variations=bucket_A") -> str:
    page = raw_request(server, b"/", b"Cookie: " + cookie + b"\r\n")
    assert page.status == 200
    return re.search(r'<script src="(/mendel/[^"]+)"', page.body.decode()).group(1)


# Bytes gunicorn lets through in a header value (it answers 400 to control characters itself).
HEADER_BYTES = bytes([9, *range(0x20, 0x7F), *range(0x80, 0x100)])


def random_cookie(rng: random.Random) -> bytes:
    value = bytes(rng.choice(HEADER_BYTES) for _ in range(rng.randrange(1, 60))).strip()
    shapes = [
        b"mendel_variations=" + value,
        b"unrelated=" + value + b"; mendel_variations=bucket_A",
        value + b"=" + value,
        b"mendel_variations=bucket_A," + value,
        value,
    ]
    return rng.choice(shapes)


def test_random_cookie_bytes_never_fail_a_page(server: Server) -> None:
    rng = random.Random(SEED)
    statuses = [
        raw_request(server, b"/", b"Cookie: " + random_cookie(rng) + b"\r\n").status
        for _ in range(COOKIE_CASES)
    ]
    assert statuses == [200] * COOKIE_CASES


def test_a_bad_byte_in_another_cookie_keeps_the_variations(server: Server) -> None:
    plain = page_bundle_path(server, b"mendel_variations=bucket_A")
    assert page_bundle_path(server, b"unrelated=\xe9; mendel_variations=bucket_A") == plain
    unit = b"; mendel_uid=steady-unit-0001"  # without a variations cookie the experiments decide
    assert page_bundle_path(server, b"mendel_variations=\xe9" + unit) == page_bundle_path(server, b"x=1" + unit)


def spellings(path: str) -> list[bytes]:
    """Other spellings of one bundle URL; only the first (canonical) one may answer 200."""
    _, prefix, hash_, segment = path.split("/")
    bundle = segment.rsplit(".", 1)[0]
    encoded_hash = "".join(f"%{ord(c):02X}" for c in hash_[:3]) + hash_[3:]
    others = [
        f"/{prefix}/{hash_}/{bundle}",
        f"/{prefix}/{hash_}/{bundle}.css",
        f"/{prefix}/{encoded_hash}/{segment}",
        f"/{prefix}/{hash_}/{segment}%2F",
        f"/{prefix}/{hash_}/{segment}/",
        f"/{prefix}/{hash_}/{bundle}%2Ejs",
        f"/{prefix}//{hash_}/{segment}",
        f"/{prefix}/{hash_}//{segment}",
        f"/{prefix.upper()}/{hash_}/{segment}",
        f"/{prefix}/{hash_}/{segment}?v=2",
        f"/{prefix}/{hash_}/{segment}?",
    ]
    return [path.encode()] + [other.encode() for other in others]


def test_only_the_canonical_spelling_answers_200(server: Server) -> None:
    canonical, *others = spellings(page_bundle_path(server))
    first = raw_request(server, canonical)
    assert first.status == 200 and "immutable" in first.headers["cache-control"]
    for other in others:
        response = raw_request(server, other)
        if other.startswith(b"/MENDEL/"):  # outside the prefix: the app's own 404
            assert response.status == 404
            continue
        assert response.status == 404, other
        assert response.headers["cache-control"] == "no-store", other
        assert response.body.count(b"\n") == 1, other


def random_path(rng: random.Random, hash_: str) -> bytes:
    # printable characters and %-escapes of any byte: what reaches the app (gunicorn answers 400
    # to raw control or non-ASCII bytes in a request line itself)
    alphabet = [bytes([c]) for c in b"abcAZ019-_.%/~:;,+=*!@"] + [b"%%%02X" % b for b in range(256)]
    noise = b"".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 30)))
    pieces = [
        b"/mendel/" + noise,
        b"/mendel/" + hash_.encode() + b"/" + noise,
        b"/mendel/" + noise + b"/main.js",
        b"/mendel/" + hash_.encode()[: rng.randrange(len(hash_))] + noise + b"/main.js",
        b"/mendel/" + hash_.encode() + b"/main.js/" + noise,
        b"/mendel" + noise,
    ]
    return rng.choice(pieces)


def test_every_path_under_the_prefix_is_200_or_a_no_store_404(server: Server) -> None:
    hash_ = page_bundle_path(server).split("/")[2]
    rng = random.Random(SEED)
    seen = {}
    for _ in range(PATH_CASES):
        path = random_path(rng, hash_)
        response = raw_request(server, path, method=rng.choice([b"GET", b"HEAD"]))
        seen[path] = response.status
        assert response.status < 500, path
        if response.status == 404 and (path.startswith(b"/mendel/") or path == b"/mendel"):
            assert response.headers.get("cache-control") == "no-store", path
        if response.status == 200:
            assert path == f"/mendel/{hash_}/main.js".encode()
    assert list(seen.values()).count(404) >= PATH_CASES * 0.8

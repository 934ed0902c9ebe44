"""Bundles asked for again are re-encoded at the best levels off the request path (recompress.py)."""
from __future__ import annotations

import gzip
import os
import threading
from pathlib import Path

import pytest

from mendel_py._runtime.process import current_pid
from mendel_py.packing.compression import Coder, best_coders, brotli_available
from mendel_py.serving.bundles import JS_CONTENT_TYPE, BundleCache
from mendel_py.serving.recompress import Recompressor
from mendel_py.serving.store import BundleStore

# compressible like a bundle, with enough variety that level 9 beats a fast level
BODY = b"".join(b"function m%d(require,module,exports){exports.v=%d*%d}\n" % (i, i, i % 97) for i in range(4000))


def counting_pack(count: list[int]):
    def pack() -> bytes:
        count.append(1)
        return BODY
    return pack


def upgraded(cache: BundleCache, encoding: str = "gzip", key: str = "1"):
    """Ask twice, let the background job finish, ask again: (first answer, last answer)."""
    packs: list[int] = []
    first = cache.representation("main", key, encoding, JS_CONTENT_TYPE, counting_pack(packs))
    again = cache.representation("main", key, encoding, JS_CONTENT_TYPE, counting_pack(packs))
    assert again is first  # the request that hands it over is served the fast one at once
    assert cache.recompressor is not None and cache.recompressor.wait_idle(timeout=30)
    last = cache.representation("main", key, encoding, JS_CONTENT_TYPE, counting_pack(packs))
    return first, last


def test_a_bundle_asked_for_again_is_swapped_for_a_smaller_one_with_its_own_etag() -> None:
    cache = BundleCache(recompress=True, use_brotli=False)
    first, last = upgraded(cache)
    assert first.etag == cache.etag("1", "gzip") and not first.final
    assert last.etag == f"1.{cache.pack_format}.gz9" and last.final
    assert len(last.body) < len(first.body)
    assert gzip.decompress(last.body) == gzip.decompress(first.body) == BODY
    assert ("Content-Length", str(len(last.body))) in last.headers
    assert cache.etag_matches(f'"{first.etag}"', "1") and cache.etag_matches(f'"{last.etag}"', "1")
    again = cache.representation("main", "1", "gzip", JS_CONTENT_TYPE, lambda: pytest.fail("packed"))
    assert again is last and cache.recompressor.wait_idle(timeout=1)


@pytest.mark.skipif(not brotli_available(), reason="brotli not installed")
def test_brotli_is_upgraded_too() -> None:
    import brotli

    cache = BundleCache(recompress=True)
    first, last = upgraded(cache, "br")
    assert last.etag.endswith(".br9") and len(last.body) < len(first.body)
    assert brotli.decompress(last.body) == BODY


def test_off_by_default_and_identity_is_never_recompressed() -> None:
    plain = BundleCache()
    assert plain.recompressor is None
    first = plain.representation("main", "1", "gzip", JS_CONTENT_TYPE, lambda: BODY)
    assert plain.representation("main", "1", "gzip", JS_CONTENT_TYPE, lambda: BODY) is first
    cache = BundleCache(recompress=True, use_brotli=False)
    identity = cache.representation("main", "1", "identity", JS_CONTENT_TYPE, lambda: BODY)
    assert identity.final
    cache.representation("main", "1", "identity", JS_CONTENT_TYPE, lambda: BODY)
    assert cache.recompressor is not None and not cache.recompressor._pending


def test_nothing_is_swapped_in_when_the_best_coder_is_not_smaller() -> None:
    bigger = Coder("gzip", "gz-big", lambda body: gzip.compress(body, compresslevel=0))
    cache = BundleCache(recompress=True, use_brotli=False, best={"gzip": bigger})
    first, last = upgraded(cache)
    assert last.etag == first.etag and last.body == first.body and last.final


def test_a_host_store_keeps_the_better_file_for_every_worker(tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    one = BundleCache(recompress=True, use_brotli=False, store=BundleStore(store_dir))
    first, last = upgraded(one)
    assert last.path is not None and last.path != first.path and last.etag.endswith(".gz9")
    other = BundleCache(recompress=True, use_brotli=False, store=BundleStore(store_dir))
    found = other.representation("main", "1", "gzip", JS_CONTENT_TYPE, lambda: pytest.fail("packed"))
    assert found.path == last.path and found.etag == last.etag and found.final
    assert gzip.decompress(Path(found.path).read_bytes()) == BODY


def test_the_middleware_answers_304_to_either_etag(tmp_path: Path) -> None:
    from werkzeug.test import Client

    from fakes import FakeTrees, downstream_app, main_tree
    from mendel_py.packing.packer import pack_js
    from mendel_py.serving.wsgi import MendelMiddleware

    middleware = MendelMiddleware(downstream_app, FakeTrees(), recompress=True)
    client = Client(middleware)
    url, zipped = "/mendel/hbase/main.js", {"Accept-Encoding": "gzip"}
    fast = client.get(url, headers=zipped)
    assert client.get(url, headers=zipped).headers["ETag"] == fast.headers["ETag"]
    assert middleware.cache.recompressor.wait_idle(timeout=30)
    best = client.get(url, headers=zipped)
    assert best.headers["ETag"] != fast.headers["ETag"] and best.headers["ETag"].endswith('.gz9"')
    assert gzip.decompress(best.data) == pack_js(main_tree())
    for etag in (fast.headers["ETag"], best.headers["ETag"]):
        assert client.get(url, headers={**zipped, "If-None-Match": etag}).status_code == 304


def test_the_recompressor_runs_each_key_once_at_a_time_and_drops_what_overflows() -> None:
    recompressor = Recompressor(max_pending=2)
    gate, ran = threading.Event(), []

    def job(name: str):
        def run() -> None:
            gate.wait(10)
            ran.append(name)
        return run

    assert recompressor.submit("a", job("a"))
    assert not recompressor.submit("a", job("a again"))  # pending: once at a time
    assert recompressor.submit("b", job("b"))
    queued = recompressor.submit("c", job("c"))  # "a" may still be queued: then the queue is full
    gate.set()
    assert recompressor.wait_idle(timeout=10)
    assert ran[:2] == ["a", "b"] and ran[2:] == (["c"] if queued else [])
    assert recompressor.submit("a", job("a later")) and recompressor.wait_idle(timeout=10)
    assert ran[-1] == "a later"


def test_a_failing_job_is_logged_and_forgotten(caplog) -> None:
    recompressor = Recompressor()

    def broken() -> None:
        raise OSError("disk full")

    assert recompressor.submit("k", broken) and recompressor.wait_idle(timeout=10)
    assert "recompressing 'k' failed" in caplog.text
    assert recompressor.submit("k", lambda: None) and recompressor.wait_idle(timeout=10)


def test_best_coders_are_the_documented_levels() -> None:
    coders = best_coders(use_brotli=brotli_available())
    assert coders["gzip"].etag_suffix == "gz9"
    if brotli_available():
        assert coders["br"].etag_suffix == "br9"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_a_forked_child_knows_its_own_pid_and_starts_its_own_thread() -> None:
    recompressor = Recompressor()
    recompressor.submit("parent", lambda: None)
    assert recompressor.wait_idle(5)
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child: a new pid, and a job still runs (on a thread of its own)
        done = threading.Event()
        ok = current_pid() == os.getpid() and recompressor.submit("child", done.set) and done.wait(5)
        os.write(write, b"1" if ok else b"0")
        os._exit(0)
    os.close(write)
    try:
        assert os.read(read, 1) == b"1"
    finally:
        os.close(read)
        os.waitpid(child, 0)
    assert current_pid() == os.getpid()

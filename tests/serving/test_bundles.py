"""Packed-bundle representations in memory and in the on-disk store (bundles.py, store.py)."""
from __future__ import annotations

import gzip
import multiprocessing
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mendel_py.packing.compression import gzip_coder
from mendel_py.serving.bundles import JS_CONTENT_TYPE, BundleCache
from mendel_py.serving.store import BundleStore

# --- in memory ----------------------------------------------------------------------------------

def test_cache_is_bounded_in_bytes_and_holds_only_codings_asked_for() -> None:
    cache = BundleCache(max_bytes=250)
    for name in ("a", "b"):
        cache.representation(name, "1", "identity", JS_CONTENT_TYPE, lambda: b"x" * 100)
    assert len(cache) == 2 and cache.total_bytes == 200
    cache.representation("c", "1", "identity", JS_CONTENT_TYPE, lambda: b"x" * 100)
    assert cache.total_bytes <= 250


def test_cache_weighs_compressed_variants_and_reuses_the_identity_body() -> None:
    body = b"function(){return 1}\n" * 200
    cache = BundleCache(max_bytes=10_000_000)
    packs: list[int] = []

    def pack() -> bytes:
        packs.append(1)
        return body

    plain = cache.representation("a", "1", "identity", JS_CONTENT_TYPE, pack)
    gz = cache.representation("a", "1", "gzip", JS_CONTENT_TYPE, pack)
    assert gzip.decompress(gz.body) == body and len(packs) == 1
    assert cache.total_bytes == len(body) + len(gz.body)
    assert cache.representation("a", "1", "gzip", JS_CONTENT_TYPE, pack) is gz
    assert plain.etag != gz.etag


def test_gzip_alone_does_not_hold_the_identity_body() -> None:
    cache = BundleCache()
    gz = cache.representation("a", "1", "gzip", JS_CONTENT_TYPE, lambda: b"abc" * 1000)
    assert len(cache) == 1 and cache.total_bytes == len(gz.body)


def test_cache_keeps_identity_when_compression_does_not_help() -> None:
    cache = BundleCache()
    got = cache.representation("a", "1", "gzip", JS_CONTENT_TYPE, lambda: b"x")
    assert got.encoding == "identity" and ("Content-Encoding", "gzip") not in got.headers
    assert got.etag == cache.etag("1", "identity")


def test_cache_without_brotli_serves_gzip_or_identity() -> None:
    cache = BundleCache(use_brotli=False)
    assert cache.encodings == ("gzip",)
    assert cache.representation("a", "1", "br", JS_CONTENT_TYPE, lambda: b"a" * 1000).encoding == "identity"


def test_gzip_without_isal_uses_zlib_and_says_so_in_the_etag() -> None:
    body = b"abc" * 1000
    fast = BundleCache(coders={"gzip": gzip_coder()}).representation("a", "1", "gzip", JS_CONTENT_TYPE, lambda: body)
    zlib = BundleCache(coders={"gzip": gzip_coder(fast=False)}).representation(
        "a", "1", "gzip", JS_CONTENT_TYPE, lambda: body)
    assert gzip.decompress(fast.body) == gzip.decompress(zlib.body) == body
    assert zlib.etag == "1.p1.gz1"
    assert (fast.etag == zlib.etag) == (fast.body == zlib.body)


def test_cache_gzip_is_deterministic() -> None:
    body = b"abc" * 1000
    one = BundleCache().representation("a", "1", "gzip", JS_CONTENT_TYPE, lambda: body)
    two = BundleCache().representation("a", "1", "gzip", JS_CONTENT_TYPE, lambda: body)
    assert one.body == two.body and one.etag == two.etag


def test_cache_is_thread_safe() -> None:
    cache = BundleCache(max_bytes=5_000)

    def worker(n: int) -> None:
        for i in range(300):
            hash = str(i % 17)
            for coding in ("identity", "gzip"):
                got = cache.representation(str(n), hash, coding, JS_CONTENT_TYPE,
                                           lambda hash=hash: b"y" * 500 + hash.encode() * 400)
                assert got.etag.startswith(hash + ".")

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(worker, range(6)))  # re-raises any worker's exception
    assert 0 < cache.total_bytes <= 5_000



# --- on disk -------------------------------------------------------------------------------------

BODY = b"function(){return 'stored'}\n" * 300


def test_store_makes_each_representation_once_and_serves_it_from_a_file(tmp_path: Path) -> None:
    packs: list[int] = []

    def pack() -> bytes:
        packs.append(1)
        return BODY

    workers = [BundleCache(store=BundleStore(tmp_path)) for _ in range(3)]  # three processes' caches
    for cache in workers:
        for coding in ("identity", "gzip"):
            got = cache.representation("main", "h1", coding, JS_CONTENT_TYPE, pack)
            assert got.path is not None and got.body == b""
            data = Path(got.path).read_bytes()
            assert (gzip.decompress(data) if coding == "gzip" else data) == BODY
            assert got.size == len(data) and ("Content-Length", str(len(data))) in got.headers
    assert len(packs) == 1  # packed once, gzipped from the stored identity file
    assert workers[0].total_bytes < len(BODY)  # memory holds small records, not bodies


def test_store_names_files_by_etag_and_never_shows_variation_names(tmp_path: Path) -> None:
    cache = BundleCache(store=BundleStore(tmp_path))
    got = cache.representation("main", "h1", "identity", JS_CONTENT_TYPE, lambda: BODY)
    assert os.path.basename(got.path) == "main." + got.etag
    odd = BundleStore.file_name("../x y", "h1")
    assert "/" not in odd and not odd.startswith(".")


def test_store_is_bounded_in_bytes_and_evicts_least_recently_used(tmp_path: Path) -> None:
    store = BundleStore(tmp_path, max_bytes=3500)
    for n in range(3):
        store.write(f"f{n}", b"x" * 1000)
        os.utime(store.path(f"f{n}"), (n, n))  # f0 oldest, f2 newest
    assert store.size("f0") == 1000  # f0 used again now: the newest
    store.write("f3", b"y" * 1000)
    assert store.size("f1") is None  # the least recently used went
    assert [store.size(f"f{n}") for n in (0, 2, 3)] == [1000, 1000, 1000]
    assert store.total_bytes <= 3500
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".tmp-")]


def test_a_file_evicted_between_lookup_and_serving_is_made_again(tmp_path: Path) -> None:
    cache = BundleCache(store=BundleStore(tmp_path))
    first = cache.representation("main", "h1", "identity", JS_CONTENT_TYPE, lambda: BODY)
    os.unlink(first.path)
    cache.forget("main", "h1", "identity")
    again = cache.representation("main", "h1", "identity", JS_CONTENT_TYPE, lambda: BODY)
    assert Path(again.path).read_bytes() == BODY


def _make_in_process(directory: str, counter: str) -> None:
    def pack() -> bytes:
        with open(counter, "a") as handle:
            handle.write("packed\n")
        return BODY

    cache = BundleCache(store=BundleStore(directory))
    for hash in ("a", "b", "c", "d"):
        for coding in ("identity", "gzip"):
            cache.representation("main", hash, coding, JS_CONTENT_TYPE, pack)


def test_processes_racing_for_the_same_bundles_pack_each_once(tmp_path: Path) -> None:
    counter = tmp_path / "packs.log"
    store_dir = tmp_path / "store"
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_make_in_process, args=(str(store_dir), str(counter))) for _ in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    assert counter.read_text().count("packed") == 4  # one per hash, whichever process made it


def test_middleware_serves_stored_bundles_through_the_file_wrapper(tmp_path: Path) -> None:
    from werkzeug.test import Client

    from fakes import FakeTrees, downstream_app, file_wrapper, main_tree
    from mendel_py.packing.packer import pack_js
    from mendel_py.serving.wsgi import MendelMiddleware

    wrapped: list[object] = []

    def recording_file_wrapper(handle: object, size: int) -> object:
        wrapped.append(handle)
        return file_wrapper(handle, size)

    middleware = MendelMiddleware(downstream_app, FakeTrees(), store_dir=tmp_path / "store")
    client = Client(middleware)
    for _ in range(2):
        response = client.get("/mendel/hbase/main.js", environ_base={"wsgi.file_wrapper": recording_file_wrapper})
        assert response.status_code == 200 and response.data == pack_js(main_tree())
        assert response.headers["Content-Length"] == str(len(response.data))
    assert len(wrapped) == 2
    zipped = client.get("/mendel/hbase/main.js", headers={"Accept-Encoding": "gzip"})
    assert gzip.decompress(zipped.data) == pack_js(main_tree())
    head = client.head("/mendel/hbase/main.js")
    assert head.status_code == 200 and head.data == b""
    for name in os.listdir(tmp_path / "store"):  # an eviction behind the worker's back
        if not name.startswith("."):
            os.unlink(tmp_path / "store" / name)
    assert client.get("/mendel/hbase/main.js").data == pack_js(main_tree())

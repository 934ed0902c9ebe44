"""Content coders (mendel_py.packing.compression)."""
from __future__ import annotations

import gzip

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mendel_py.packing.compression import GZIP, brotli_available, brotli_coder, gzip_coder, request_path_coders


@settings(max_examples=60, deadline=None)
@given(body=st.binary(max_size=5000))
def test_gzip_coders_round_trip_and_repeat(body: bytes) -> None:
    for coder in (gzip_coder(), gzip_coder(fast=False), gzip_coder(9, fast=False)):
        once = coder.compress(body)
        assert gzip.decompress(once) == body
        assert coder.compress(body) == once  # same bytes every time: no mtime, no randomness


@pytest.mark.skipif(not brotli_available(), reason="brotli is not installed")
@settings(max_examples=30, deadline=None)
@given(body=st.binary(max_size=5000))
def test_brotli_round_trips(body: bytes) -> None:
    import brotli

    coder = brotli_coder()
    assert brotli.decompress(coder.compress(body)) == body and coder.etag_suffix == "br4"


@pytest.mark.skipif(not brotli_available(), reason="brotli is not installed")
def test_larger_bodies_get_faster_brotli_qualities_and_the_tag_says_so() -> None:
    import brotli

    coder = brotli_coder(4, ((1000, 3), (5000, 1)))
    assert coder.etag_suffix == "br4-3-1"
    for body, quality in ((b"small" * 200, 4), (b"middle" * 500, 3), (bytes(range(256)) * 20, 1)):
        assert coder.compress(body) == brotli.compress(body, quality=quality, mode=brotli.MODE_TEXT)
    assert request_path_coders()["br"].etag_suffix == "br4-1-0"  # 4 up to 128 KiB, 1 up to 1 MiB, then 0


def test_tags_name_library_and_level() -> None:
    assert gzip_coder(3, fast=False).etag_suffix == "gz3"
    assert set(request_path_coders(use_brotli=False)) == {GZIP}

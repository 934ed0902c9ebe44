"""Stored bundle bytes are verified before they are served (store.py, bundles.py, wsgi.py):
flipped, truncated and emptied files, a live and a restarted worker, a full disk, the public
tree a web server serves, and `mendel store verify`."""
from __future__ import annotations

import errno
import gzip
import logging
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from werkzeug.test import Client

from fakes import FakeTrees, downstream_app, file_wrapper, main_tree
from mendel_py.cli.main import cli
from mendel_py.packing.packer import pack_js
from mendel_py.serving.bundles import JS_CONTENT_TYPE, BundleCache, PacksBusy
from mendel_py.serving.html import integrity_of
from mendel_py.serving.store import BundleStore
from mendel_py.serving.wsgi import MendelMiddleware

URL = "/mendel/hbase/main.js"
GOOD = pack_js(main_tree())


def get(client: Client, coding: str = "identity") -> Any:
    headers = {"Accept-Encoding": coding} if coding != "identity" else {}
    return client.get(URL, headers=headers, environ_base={"wsgi.file_wrapper": file_wrapper})


def decoded(response: Any) -> bytes:
    return gzip.decompress(response.data) if response.headers.get("Content-Encoding") == "gzip" else response.data


def stored_file(store_dir: Path, coding: str) -> Path:
    names = [p for p in store_dir.iterdir() if p.is_file() and p.name.startswith("main.hbase.")]
    wanted = [p for p in names if (p.name.count(".") == 2) == (coding == "identity")]
    assert len(wanted) == 1, names
    return wanted[0]


def corrupt(path: Path, how: str) -> None:
    time.sleep(0.02)  # later than the worker's last look (a real corruption comes much later)
    data = path.read_bytes()
    if how == "flip":  # same length, one byte changed
        with open(path, "r+b") as handle:
            handle.seek(len(data) // 2)
            handle.write(bytes([data[len(data) // 2] ^ 0x20]))
    elif how == "truncate":
        os.truncate(path, len(data) // 2)
    else:
        os.truncate(path, 0)


@pytest.mark.parametrize("coding", ["identity", "gzip"])
@pytest.mark.parametrize("worker", ["live", "restarted"])
@pytest.mark.parametrize("how", ["flip", "truncate", "empty"])
def test_a_corrupted_stored_file_is_never_served(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                 how: str, worker: str, coding: str) -> None:
    store_dir = tmp_path / "store"
    first = Client(MendelMiddleware(downstream_app, FakeTrees(), store_dir=store_dir))
    good = get(first, coding)
    assert good.status_code == 200 and decoded(good) == GOOD
    good_bytes = good.data
    path = stored_file(store_dir, coding)
    corrupt(path, how)

    client = first if worker == "live" else Client(MendelMiddleware(downstream_app, FakeTrees(), store_dir=store_dir))
    with caplog.at_level(logging.ERROR, logger="mendel_py.serving.store"):
        answers = [get(client, coding) for _ in range(3)]
    for answer in answers:
        assert answer.status_code == 200
        assert answer.data == good_bytes and decoded(answer) == GOOD
        assert answer.headers["Content-Length"] == str(len(good_bytes))
        assert answer.headers["ETag"] == good.headers["ETag"]
    assert path.read_bytes() == good_bytes, "the bad file was made again and replaced"
    failures = [r for r in caplog.records if "failed its check" in r.getMessage()]
    assert len(failures) == 1 and str(path) in failures[0].getMessage()


def test_a_file_with_no_digest_record_is_made_again(tmp_path: Path) -> None:
    store = BundleStore(tmp_path)
    (tmp_path / "main.h1.p1").write_bytes(b"bytes from nowhere")  # an old store, or a stray copy
    cache = BundleCache(store=store)
    got = cache.representation("main", "h1", "identity", JS_CONTENT_TYPE, lambda: GOOD)
    assert Path(got.path).read_bytes() == GOOD and got.size == len(GOOD)


def test_a_store_from_before_digest_records_is_remade_with_one_log_line(tmp_path: Path,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    for n in range(5):
        (tmp_path / f"main.h{n}.p1").write_bytes(b"old " * 10)
    cache = BundleCache(store=BundleStore(tmp_path))
    with caplog.at_level(logging.WARNING, logger="mendel_py.serving.store"):
        for n in range(5):
            got = cache.representation("main", f"h{n}", "identity", JS_CONTENT_TYPE, lambda: GOOD)
            assert Path(got.path).read_bytes() == GOOD
    assert len([r for r in caplog.records if "without a digest record" in r.getMessage()]) == 1
    assert cache.metrics.store_bad_files == 5


def test_integrity_is_computed_from_verified_bytes_only(tmp_path: Path) -> None:
    BundleCache(store=BundleStore(tmp_path)).representation("main", "h1", "identity", JS_CONTENT_TYPE, lambda: GOOD)
    corrupt(tmp_path / "main.h1.p1", "flip")
    restarted = BundleCache(store=BundleStore(tmp_path))
    assert restarted.integrity("main", "h1", lambda: GOOD) == integrity_of(GOOD)
    gzipped = restarted.representation("main", "h1", "gzip", JS_CONTENT_TYPE, lambda: GOOD)
    assert gzip.decompress(Path(gzipped.path).read_bytes()) == GOOD, "compressed from good bytes"


def test_a_full_disk_is_served_from_memory_and_logged_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    import mendel_py.serving.store as store_module

    def full(self: BundleStore, name: str, *args: Any) -> None:  # as a write to a full disk fails
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(store_module.BundleStore, "_write_file", full)
    client = Client(MendelMiddleware(downstream_app, FakeTrees(), store_dir=tmp_path / "store"))
    with caplog.at_level(logging.ERROR, logger="mendel_py.serving.store"):
        answers = [get(client, coding) for coding in ("identity", "gzip", "identity", "gzip")]
        answers.append(client.get("/mendel/hbase-bucket_A/main.js"))
    assert [a.status_code for a in answers] == [200] * 5
    assert all(decoded(a) == GOOD for a in answers[:4])
    lines = [r.getMessage() for r in caplog.records if "can't write" in r.getMessage()]
    assert len(lines) == 1 and str(tmp_path / "store") in lines[0] and "No space left on device" in lines[0]


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_a_real_full_tmpfs_store(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    mount = tmp_path / "tiny"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True)
    if result.returncode != 0:
        pytest.skip(f"can't mount a tmpfs here: {result.stderr.decode().strip()}")
    try:
        big = b"/* filler */\n" * 20000  # 260 KB: more than the disk holds
        cache = BundleCache(store=BundleStore(mount))
        with caplog.at_level(logging.ERROR, logger="mendel_py.serving.store"):
            answers = [cache.representation("main", f"h{n}", coding, JS_CONTENT_TYPE, lambda: big)
                       for n in range(3) for coding in ("identity", "gzip")]
        identity = answers[0]
        assert identity.path is None and identity.body == big, "served from memory"
        assert all(a.path is None or Path(a.path).stat().st_size == a.size for a in answers)
        lines = [r.getMessage() for r in caplog.records if "can't write" in r.getMessage()]
        assert len(lines) == 1 and str(mount) in lines[0] and "No space left on device" in lines[0]
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_public_tree_links_each_stored_file_at_its_url_path(tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    client = Client(MendelMiddleware(downstream_app, FakeTrees(), store_dir=store_dir, store_public=True))
    plain, zipped = get(client), get(client, "gzip")
    public = store_dir / "public" / "mendel" / "hbase"
    assert (public / "main.js").read_bytes() == plain.data == GOOD
    assert (public / "main.js.gz").read_bytes() == zipped.data
    assert os.path.samefile(public / "main.js", stored_file(store_dir, "identity"))
    assert not [p for p in public.iterdir() if p.name.startswith(".")]

    private = tmp_path / "private"
    Client(MendelMiddleware(downstream_app, FakeTrees(), store_dir=private)).get(URL)
    assert not (private / "public").exists(), "off by default"
    dev = tmp_path / "dev"
    Client(MendelMiddleware(downstream_app, FakeTrees(), store_dir=dev, store_public=True, development=True)).get(URL)
    assert not (dev / "public").exists(), "development bundles are never published"


def test_evicting_a_file_removes_its_public_link(tmp_path: Path) -> None:
    store = BundleStore(tmp_path, max_bytes=2500, public=True)
    for n in range(3):
        store.write(f"f{n}", b"x" * 1000, f"/mendel/h{n}/main.js")
        os.utime(store.path(f"f{n}"), (n + 1, n + 1))
    store.write("f3", b"y" * 1000, "/mendel/h3/main.js")
    assert not (tmp_path / "public" / "mendel" / "h0").exists()
    assert (tmp_path / "public" / "mendel" / "h3" / "main.js").read_bytes() == b"y" * 1000


def test_store_verify_command_finds_removes_and_exits_non_zero(tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    client = Client(MendelMiddleware(downstream_app, FakeTrees(), store_dir=store_dir, store_public=True))
    get(client), get(client, "gzip"), client.get("/mendel/hbase-bucket_A/main.js")
    runner = CliRunner()
    clean = runner.invoke(cli, ["store", "verify", "--store-dir", str(store_dir)])
    assert clean.exit_code == 0, clean.output
    assert "3 files checked, no problems" in clean.output

    corrupt(stored_file(store_dir, "gzip"), "flip")
    (store_dir / "public" / "mendel" / "stray.js").write_bytes(b"left by hand")
    found = runner.invoke(cli, ["store", "verify", "--store-dir", str(store_dir), "--json"])
    assert found.exit_code == 1
    assert "digest mismatch" in found.output and "public file with no stored file" in found.output
    assert not (store_dir / "public" / "mendel" / "hbase" / "main.js.gz").exists()
    assert (store_dir / "public" / "mendel" / "hbase" / "main.js").read_bytes() == GOOD
    again = runner.invoke(cli, ["store", "verify", "--store-dir", str(store_dir)])
    assert again.exit_code == 0, again.output
    assert decoded(get(Client(MendelMiddleware(downstream_app, FakeTrees(), store_dir=store_dir)), "gzip")) == GOOD

    report_only = tmp_path / "report"
    Client(MendelMiddleware(downstream_app, FakeTrees(), store_dir=report_only)).get(URL)
    corrupt(stored_file(report_only, "identity"), "truncate")
    kept = runner.invoke(cli, ["store", "verify", "--store-dir", str(report_only), "--keep"])
    assert kept.exit_code == 1 and stored_file(report_only, "identity").exists()


# --- a bounded number of cold packs --------------------------------------------------------------


def test_cold_packs_past_the_bound_wait_briefly_then_get_a_503() -> None:
    middleware = MendelMiddleware(downstream_app, FakeTrees(), max_cold_packs=1)
    release = threading.Event()
    entered = threading.Event()
    real_pack = middleware._pack

    def slow_pack(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        assert release.wait(10)
        return real_pack(*args, **kwargs)

    middleware._pack = slow_pack  # type: ignore[method-assign]
    results: list[int] = []
    worker = threading.Thread(target=lambda: results.append(Client(middleware).get(URL).status_code))
    worker.start()
    try:
        assert entered.wait(10)
        busy = Client(middleware).get("/mendel/hbase-bucket_A/main.js")
        assert busy.status_code == 503
        assert busy.headers["Cache-Control"] == "no-store" and busy.headers["Retry-After"] == "1"
    finally:
        release.set()
        worker.join(10)
    assert results == [200]
    assert Client(middleware).get("/mendel/hbase-bucket_A/main.js").status_code == 200, "free again"
    assert middleware.metrics.requests[("busy", "")] == 1


def test_a_bounded_lookup_inside_a_pack_takes_no_second_slot_but_another_thread_waits_for_one() -> None:
    cache = BundleCache(max_cold_packs=1)

    def outer() -> bytes:  # a bundle's pack asking for its chunk, as js_body does for integrity
        return cache.representation("main~1", "h1", "identity", JS_CONTENT_TYPE, lambda: b"chunk", bounded=True).body

    assert cache.representation("main", "h1", "identity", JS_CONTENT_TYPE, outer, bounded=True).body == b"chunk"

    outcome: list[str] = []

    def another_thread() -> None:
        try:
            cache.representation("main", "h2", "identity", JS_CONTENT_TYPE, lambda: b"x", bounded=True)
            outcome.append("packed")
        except PacksBusy:
            outcome.append("busy")

    with cache._cold.slot():  # this thread packs something
        thread = threading.Thread(target=another_thread)
        thread.start()
        thread.join(10)
    assert outcome == ["busy"]
    another_thread()
    assert outcome == ["busy", "packed"], "the slot is free again"


def test_a_waiting_cold_pack_gets_the_freed_slot_and_the_queue_is_bounded() -> None:
    from mendel_py.serving.bundles import COLD_PACK_WAIT_SECONDS, COLD_PACK_WAITERS

    cache = BundleCache(max_cold_packs=1)
    outcomes: list[str] = []
    lock = threading.Lock()

    def cold(hash: str) -> None:
        try:
            cache.representation("main", hash, "identity", JS_CONTENT_TYPE, lambda: b"x", bounded=True)
            result = "packed"
        except PacksBusy:
            result = "busy"
        with lock:
            outcomes.append(result)

    with cache._cold.slot():  # the one slot is taken
        waiters = [threading.Thread(target=cold, args=(f"w{i}",)) for i in range(COLD_PACK_WAITERS)]
        for thread in waiters:
            thread.start()
        deadline = time.monotonic() + 5
        while cache._cold._waiting < COLD_PACK_WAITERS and time.monotonic() < deadline:
            time.sleep(0.005)
        assert cache._cold._waiting == COLD_PACK_WAITERS
        started = time.monotonic()
        over = threading.Thread(target=cold, args=("over",))  # another thread: this one holds the slot
        over.start()
        over.join(10)  # the queue is full: refused at once, not after the wait
        assert outcomes == ["busy"] and time.monotonic() - started < COLD_PACK_WAIT_SECONDS  # not after a wait
    for thread in waiters:
        thread.join(10)
    assert sorted(outcomes) == ["busy"] + ["packed"] * COLD_PACK_WAITERS  # the waiters got the slot in turn

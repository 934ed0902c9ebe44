"""The on-disk bundle store under gunicorn (examples/gunicorn.conf.py, 2 workers, preload):
files corrupted in place (flipped, truncated, emptied) under live workers and after a restart of
the workers (SIGHUP), and a store on a full disk."""
from __future__ import annotations

import gzip
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from e2e_support import Server, build_example_project, http_get, running_gunicorn

REQUESTS = 24  # enough for both workers to answer each URL several times


def bundle_paths(server: Server) -> list[str]:
    html = http_get(server.url + "/", {"Cookie": "mendel_variations=bucket_A"}).body.decode()
    return [re.search(r'<script src="(/mendel/[^"]+)"', html).group(1),
            re.search(r'<link rel="stylesheet" href="(/mendel/[^"]+)"', html).group(1)]


def fetch_all(server: Server, paths: list[str]) -> dict[tuple[str, str], bytes]:
    """Each path in identity and gzip, REQUESTS times; every answer must be the same good 200."""
    seen: dict[tuple[str, str], bytes] = {}
    for _ in range(REQUESTS):
        for path in paths:
            for coding in ("identity", "gzip"):
                answer = http_get(server.url + path, {"Accept-Encoding": coding})
                assert answer.status == 200, (path, coding, answer.status, answer.body[:200])
                assert answer.header("content-length") == str(len(answer.body))
                body = gzip.decompress(answer.body) if answer.header("content-encoding") == "gzip" else answer.body
                key = (path, coding)
                assert seen.setdefault(key, body) == body, "the same URL always gives the same bytes"
    return seen


def corrupt_every_file(store: Path, how: str) -> int:
    time.sleep(0.05)  # after the workers' last look, as a real corruption would be
    files = [p for p in store.iterdir() if p.is_file() and not p.name.startswith(".")]
    for path in files:
        size = path.stat().st_size
        if how == "flip":
            with open(path, "r+b") as handle:
                handle.seek(size // 2)
                byte = handle.read(1)
                handle.seek(size // 2)
                handle.write(bytes([byte[0] ^ 0x55]))
        else:
            os.truncate(path, size // 2 if how == "truncate" else 0)
    return len(files)


def hup_and_wait(server: Server) -> None:
    """Restart the workers (gunicorn reloads them on SIGHUP) and wait for the new ones."""
    server.process.send_signal(signal.SIGHUP)
    server.output.wait_for("Booting worker", count=4)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if http_get(server.url + "/").status == 200:
            return
        time.sleep(0.1)
    raise TimeoutError("no worker answers after SIGHUP")


@pytest.mark.parametrize("how", ["flip", "truncate", "empty"])
def test_corrupted_store_files_are_never_served_by_live_or_restarted_workers(tmp_path: Path, how: str) -> None:
    project = build_example_project(tmp_path)
    store = tmp_path / "store"
    with running_gunicorn(project, extra_env={"SHOP_MENDEL_STORE_DIR": str(store)}) as server:
        paths = bundle_paths(server)
        good = fetch_all(server, paths)
        assert corrupt_every_file(store, how) >= 4  # js and css, identity and gzip
        assert fetch_all(server, paths) == good, "live workers"
        failures = server.output.text().count("failed its check")
        assert 1 <= failures <= 2 * 4, "logged once per file and worker, not per request"

        corrupt_every_file(store, how)
        hup_and_wait(server)
        assert fetch_all(server, paths) == good, "restarted workers"
        assert "Traceback" not in server.output.text()


def test_a_full_store_disk_serves_every_first_request_from_memory(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    project = build_example_project(tmp_path)
    store = tmp_path / "tiny"
    store.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(store)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"can't mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        with running_gunicorn(project, extra_env={"SHOP_MENDEL_STORE_DIR": str(store)}) as server:
            statuses = []
            for cookie in ("", "bucket_A", "bucket_B", "feature_C", "bucket_D", "bucket_A,feature_C"):
                html = http_get(server.url + "/", {"Cookie": f"mendel_variations={cookie}"}).body.decode()
                for path in re.findall(r'(?:src|href)="(/mendel/[^"]+)"', html):
                    for coding in ("identity", "gzip", "br"):
                        answer = http_get(server.url + path, {"Accept-Encoding": coding})
                        statuses.append(answer.status)
                        assert answer.header("content-length") == str(len(answer.body))
            assert statuses and set(statuses) == {200}
            output = server.output.text()
            assert "No space left on device" in output and str(store) in output
            assert output.count("No space left on device") <= 2, "once per worker"
    finally:
        subprocess.run(["umount", str(store)], check=False)

"""Nothing a preloading master does starts a thread or a pool that a forked worker would inherit
dead: loading the app (trees, middleware, compressors, the pre-fork preparation) leaves the master
with the one thread it had, and a child forked after all of it hashes and loads real-sized
manifests (6 MB, far past blake3's 64 KB multithreading threshold) at once."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from werkzeug.test import Client

from e2e_support import build_example_project

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from synth import MANIFEST_PATH, write_synthetic_project  # noqa: E402

from mendel_py.core import manifest_cache  # noqa: E402
from mendel_py.core.manifest import load_manifest  # noqa: E402
from mendel_py.core.trees import MendelTrees  # noqa: E402
from mendel_py.packing import compression  # noqa: E402
from mendel_py.serving.prefork import prepare_for_fork  # noqa: E402
from mendel_py.serving.wsgi import MendelMiddleware  # noqa: E402

CHILD_SECONDS = 20.0


def os_threads() -> int:
    """Threads of this process as the kernel counts them (native pools included)."""
    return len(os.listdir("/proc/self/task"))


def page(environ, start_response):  # type: ignore[no-untyped-def]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [environ["mendel"].bundle_url("main").encode()]


def in_child(work) -> int:  # type: ignore[no-untyped-def]
    """Run `work()` in a forked child; its exit code (0 on success), or -1 if it hung."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            work()
            code = 0
        finally:
            os._exit(code)
    deadline = time.monotonic() + CHILD_SECONDS
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return -1


_FRESH = "MENDEL_FORK_TEST_FRESH"


@pytest.fixture(scope="module")
def big_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("big")
    write_synthetic_project(str(project), modules=2000)
    return project / MANIFEST_PATH


def test_loading_starts_no_thread_and_a_forked_child_hashes_at_once(
    big_manifest: Path, tmp_path: Path
) -> None:
    if os_threads() != 1:  # earlier tests of this session started threads: run in a fresh interpreter
        assert not os.environ.get(_FRESH), "a fresh interpreter already runs other threads"
        node = f"{__file__}::test_loading_starts_no_thread_and_a_forked_child_hashes_at_once"
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", node],
            env={**os.environ, _FRESH: "1"}, capture_output=True, text=True, timeout=600,
        )
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
        return
    data = big_manifest.read_bytes()
    assert len(data) > 1_000_000
    manifest_cache.manifest_digest(data)  # what a preloading master does, at real size
    load_manifest(str(big_manifest), "main")
    project = build_example_project(tmp_path)
    trees = MendelTrees(str(project))
    middleware = MendelMiddleware(page, trees, reload_interval=None)
    client = Client(middleware)
    url = client.get("/").get_data(as_text=True)
    for coding in ("identity", "gzip", "br"):
        assert client.get(url, headers={"Accept-Encoding": coding}).status_code == 200
    compression.request_path_coders()
    prepare_for_fork(trees)
    assert os_threads() == 1, "loading the app started a thread a forked worker would inherit dead"

    def child() -> None:
        assert manifest_cache.manifest_digest(data) == manifest_cache.manifest_digest(bytes(data))
        assert manifest_cache.file_digest(str(big_manifest))
        load_manifest(str(big_manifest), "main")
        assert trees.reload() == trees.generation

    assert in_child(child) == 0

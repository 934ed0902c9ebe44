"""Hot reload of the FastAPI shop in several worker processes: `uvicorn --workers 2` and gunicorn's
uvicorn worker. After a deploy every worker's pages move to the new generation's URLs, and the
old URLs keep answering with their bytes."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from e2e_support import (
    REPO,
    OutputWatcher,
    Server,
    build_example_project,
    deploy_example,
    free_port,
    http_get,
    running_stack,
    stop_process,
    wait_for_port,
)

SERVERS = {
    "uvicorn --workers 2": ("--workers", "2"),
    "gunicorn uvicorn worker": (),
}


@pytest.fixture(params=list(SERVERS))
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    project = build_example_project(tmp_path)
    if request.param.startswith("gunicorn"):
        pytest.importorskip("uvicorn_worker")
        with running_gunicorn_uvicorn(project) as running:
            yield running, project
    else:
        with running_stack("fastapi", project, extra_args=SERVERS[request.param]) as running:
            yield running, project


@contextmanager
def running_gunicorn_uvicorn(project: Path) -> Iterator[Server]:
    """The FastAPI shop under gunicorn with two uvicorn workers (the `uvicorn-worker` package)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-k", "uvicorn_worker.UvicornWorker", "-w", "2",
         "--pythonpath", "examples", "-b", f"127.0.0.1:{port}", "fastapi_shop.app:app"],
        cwd=REPO, env={**os.environ, "SHOP_MENDEL_BASEDIR": str(project), "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        output = OutputWatcher(process.stderr)
        wait_for_port(port, process)
        yield Server(f"http://127.0.0.1:{port}", process, output)
    finally:
        stop_process(process)


def script_url(server: Server) -> str:
    page = http_get(server.url + "/", {"Cookie": "mendel_variations="})
    assert page.status == 200
    return re.search(r'<script src="(/mendel/[^"]+)"', page.body.decode()).group(1)


def test_every_worker_moves_to_a_new_generation(server: tuple[Server, Path]) -> None:
    running, project = server
    before = {script_url(running) for _ in range(12)}
    assert len(before) == 1
    [old] = before
    old_body = http_get(running.url + old).body
    deploy_example(project, "asgi-reload")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        seen = {script_url(running) for _ in range(12)}  # (spread over the workers' connections)
        if old not in seen:
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"a worker still serves the old generation: {seen}")
    assert len(seen) == 1
    again = http_get(running.url + old)
    assert again.status == 200 and again.body == old_body
    assert "Traceback" not in running.output.text()

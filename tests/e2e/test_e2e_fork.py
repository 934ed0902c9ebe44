"""Fork safety at real size: gunicorn with `--preload` (examples/gunicorn.conf.py), 2 workers, the
2,000-module synthetic project (a 6 MB manifest, far past the 64 KB where a thread pool started in
the master used to deadlock the forked workers' hashing). Under load throughout: 20 deploys, each
picked up by both workers; a worker killed with SIGKILL right as a reload starts is replaced and
serving the current generation within 10 s; no request hangs."""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import signal
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import blake3
import pytest

from e2e_support import Server, http_get, running_gunicorn

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from synth import MANIFEST_PATH, random_variation_sets, write_synthetic_project  # noqa: E402

from mendel_py.config import load_config  # noqa: E402
from mendel_py.deploy.publish import publish_project  # noqa: E402

DEPLOYS = 20
PICKUP_SECONDS = 30.0  # both workers on a new generation (poll 0.2 s, then the load)
REPLACED_SECONDS = 10.0
HUNG_SECONDS = 10.0  # no request may take this long (a deadlocked worker never answers)
LOAD_SECONDS_MAX = 300.0
SETS = [",".join(names) for names in random_variation_sets(30)]


def release(project: Path, n: int) -> str:
    """One deploy: a base module's source changes (digests updated, as a build writes them), then
    the deploy step publishes it and moves CURRENT."""
    path = project / MANIFEST_PATH
    manifest = json.loads(path.read_bytes())
    entry = manifest["bundles"][0]["data"][0]
    entry["source"] = entry["source"].split("\n// release")[0] + f"\n// release {n}\n"
    entry["sha"] = hashlib.sha1(entry["source"].encode()).hexdigest()
    if "blake3" in entry:
        entry["blake3"] = blake3.blake3(entry["source"].encode()).hexdigest()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest))
    os.replace(tmp, path)
    published = publish_project(load_config(project))
    assert published is not None
    return published[0]


class Load:
    """A bounded client: page then bundle, over 30 variation sets, timing every request."""

    def __init__(self, server: Server):
        self.server = server
        self.stop = threading.Event()
        self.statuses: Counter[int] = Counter()
        self.errors: list[str] = []
        self.slowest = 0.0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Load:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=60)

    def _get(self, path: str) -> bytes | None:
        started = time.monotonic()
        try:
            response = http_get(self.server.url + path)
        except (OSError, http.client.HTTPException) as error:  # in flight on the worker killed on purpose
            self.errors.append(f"{path}: {error}")
            return None
        finally:
            self.slowest = max(self.slowest, time.monotonic() - started)
        self.statuses[response.status] += 1
        return response.body if response.status == 200 else None

    def _run(self) -> None:
        deadline = time.monotonic() + LOAD_SECONDS_MAX
        n = 0
        while not self.stop.is_set() and time.monotonic() < deadline:
            url = self._get(f"/?v={SETS[n % len(SETS)]}")
            n += 1
            if url is not None:
                self._get(url.decode())


def worker_generations(server: Server, tries: int = 12) -> dict[int, str]:
    """{worker pid: generation} seen by a few status requests (they spread over the workers)."""
    seen: dict[int, str] = {}
    for _ in range(tries):
        status = json.loads(http_get(server.url + "/status").body)
        seen[status["pid"]] = status["generation"]
    return seen


def wait_until_served(server: Server, generation: str, workers: int, timeout: float) -> dict[int, str]:
    """Block until `workers` distinct live workers report `generation`; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    on_it: dict[int, str] = {}
    while True:
        for pid, served in worker_generations(server).items():
            if served == generation and _alive(pid):
                on_it[pid] = served
            else:
                on_it.pop(pid, None)
        if len(on_it) >= workers:
            return on_it
        assert time.monotonic() < deadline, f"{generation} not served by {workers} workers: {on_it}"
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


@pytest.fixture(scope="module")
def big_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("big")
    write_synthetic_project(str(project), modules=2000)
    assert (project / MANIFEST_PATH).stat().st_size >= 1_000_000
    assert publish_project(load_config(project)) is not None
    return project


def test_preloaded_workers_follow_twenty_deploys_and_survive_a_kill(big_project: Path) -> None:
    env = {"BIG_MENDEL_RELOAD_INTERVAL": "0.2", "MENDEL_WORKERS": "2", "GUNICORN_CMD_ARGS": "--timeout 30"}
    # with the compiled-manifest cache off, a worker's reload parses and checks the 6 MB manifest
    # (0.13 s on an idle core, longer under this load): the kill below, just past the next poll,
    # lands within that reload or right around it
    env["MENDEL_MANIFEST_CACHE"] = "off"
    with running_gunicorn(big_project, extra_env=env, app="big_app:create_app()") as server:
        server.output.wait_for("Booting worker", count=2)
        with Load(server) as load:
            killed_pid = None
            for n in range(DEPLOYS):
                generation = release(big_project, n)
                if n == DEPLOYS // 2:  # kill a worker while it picks the deploy up
                    time.sleep(0.25)  # just past the next poll (0.2 s)
                    killed_pid = next(iter(worker_generations(server, tries=1)))
                    os.kill(killed_pid, signal.SIGKILL)
                    killed_at = time.monotonic()
                    serving = wait_until_served(server, generation, 2, REPLACED_SECONDS)
                    replaced_in = time.monotonic() - killed_at
                    assert killed_pid not in serving and replaced_in < REPLACED_SECONDS
                else:
                    wait_until_served(server, generation, 2, PICKUP_SECONDS)
            load.stop.set()
            load.thread.join(timeout=60)
            assert not load.thread.is_alive(), "a request hung"
        log = server.output.text()
    assert killed_pid is not None
    assert load.slowest < HUNG_SECONDS, f"slowest request {load.slowest:.1f} s"
    assert set(load.statuses) == {200} and sum(load.statuses.values()) > 100
    assert len(load.errors) <= 2, load.errors  # at most what was in flight on the killed worker
    assert "new generation refused" not in log and "Traceback" not in log
    assert "WORKER TIMEOUT" not in log

"""Deploys under real gunicorn: 50 generation switches under load, a corrupt generation, and two
hosts sharing one generation store. Every URL ever minted keeps answering with its bytes; only the
deploy step publishes (a broken manifest on a server's disk is never even read)."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from e2e_support import Server, build_example_project, deploy_example, http_get, running_gunicorn
from mendel_py.config import load_config
from mendel_py.deploy.publish import PublishingStore

MAIN_MANIFEST = Path("manifests/main.manifest.json")
SWITCHES = 50
LOAD_SECONDS_MAX = 120.0
VARIATION_SETS = ("", "bucket_A", "bucket_B,feature_C", "bucket_D")


def deploy(project: Path, n: int) -> str:
    return deploy_example(project, str(n))


def script_url(html: str) -> str:
    return re.search(r'<script src="(/mendel/[^"]+)"', html).group(1)


class Load:
    """A bounded client: pages for several variation sets and the bundles they embed."""

    def __init__(self, server: Server):
        self.server = server
        self.stop = threading.Event()
        self.bodies: dict[tuple[str, str], bytes] = {}
        self.etags: dict[tuple[str, str], str] = {}
        self.statuses: Counter[int] = Counter()
        self.problems: list[str] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Load:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)

    def _run(self) -> None:
        deadline = time.monotonic() + LOAD_SECONDS_MAX
        n = 0
        while not self.stop.is_set() and time.monotonic() < deadline:
            variations = VARIATION_SETS[n % len(VARIATION_SETS)]
            coding = "gzip" if n % 2 else "identity"
            n += 1
            page = http_get(self.server.url + "/", {"Cookie": f"mendel_variations={variations}"})
            self.statuses[page.status] += 1
            if page.status != 200:
                self.problems.append(f"page {page.status}")
                continue
            self.fetch(script_url(page.body.decode()), coding)

    def fetch(self, url: str, coding: str) -> None:
        response = http_get(self.server.url + url, {"Accept-Encoding": coding})
        self.statuses[response.status] += 1
        if response.status != 200 or not response.body:
            self.problems.append(f"{url} {response.status} ({len(response.body)} bytes)")
            return
        key = (url, coding)
        first = self.bodies.setdefault(key, response.body)
        self.etags.setdefault(key, response.header("etag") or "")
        if first != response.body or self.etags[key] != response.header("etag"):
            self.problems.append(f"{url} ({coding}) changed bytes or ETag")


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    return build_example_project(tmp_path)


def test_fifty_switches_under_load_lose_nothing(project: Path) -> None:
    env = {"SHOP_MENDEL_RELOAD_INTERVAL": "0.05"}
    with running_gunicorn(project, extra_env=env) as server, Load(server) as load:
        server.output.wait_for("Booting worker", count=2)
        for n in range(SWITCHES):
            if n == SWITCHES // 2:
                # a manifest on the server's disk half-written: servers don't read it
                manifest = project / MAIN_MANIFEST
                manifest.write_bytes(manifest.read_bytes()[:1000])
                # and a stored generation corrupted after publishing, made CURRENT by hand:
                # every worker refuses it (logged once) and keeps serving
                store = PublishingStore.for_config(load_config(project))
                corrupt = corrupt_copy(store)
                store.set_current(corrupt)
                time.sleep(0.5)
            deploy(project, n)
            time.sleep(0.12)
        time.sleep(0.5)
        load.stop.set()
        load.thread.join(timeout=30)
        seen = {url for url, _ in load.bodies}
        # every URL ever handed out still answers with the very bytes it answered before
        for (url, coding), body in load.bodies.items():
            again = http_get(server.url + url, {"Accept-Encoding": coding})
            assert again.status == 200 and again.body == body, url
            assert again.header("etag") == load.etags[(url, coding)]
        log = server.output.text()
    assert load.problems == []
    assert set(load.statuses) == {200}
    assert len(seen) >= 10, f"only {len(seen)} distinct bundle URLs: switches were not picked up"
    assert "new generation refused" in log and "does not match its id" in log
    assert log.count("new generation refused") <= 2  # once per worker, not once per poll
    assert "Traceback" not in log


def corrupt_copy(store: PublishingStore) -> str:
    """A copy of the current generation under another id with one byte of its main manifest
    flipped (what bit rot or a bad sync does): a generation that doesn't match its id."""
    current = store.current_id()
    fake = "0" * 31 + "1"
    shutil.copytree(Path(store.path) / current, Path(store.path) / fake)
    manifest = Path(store.path) / fake / "main.manifest.json"
    data = bytearray(manifest.read_bytes())
    data[data.index(b'"source"') + 12] ^= 1
    manifest.write_bytes(bytes(data))
    meta = Path(store.path) / fake / "generation.json"
    meta.write_text(meta.read_text().replace(current, fake))
    return fake


def test_two_hosts_sharing_a_store_serve_each_others_urls(tmp_path: Path, monkeypatch) -> None:
    store = tmp_path / "shared-store"
    monkeypatch.setenv("MENDEL_GENERATIONS", str(store))  # the deploy step publishes there
    hosts = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        hosts.append(build_example_project(tmp_path / name))
    env = {"MENDEL_GENERATIONS": str(store), "MENDEL_WORKERS": "1"}
    # host b looks for a new CURRENT only every hour: it is "switched" after host a
    env_b = {**env, "SHOP_MENDEL_RELOAD_INTERVAL": "3600"}
    with running_gunicorn(hosts[0], extra_env=env) as a, running_gunicorn(hosts[1], extra_env=env_b) as b:
        cookie = {"Cookie": "mendel_variations=bucket_A"}
        old_url = script_url(http_get(b.url + "/", cookie).body.decode())
        old_body = http_get(b.url + old_url).body
        deploy(hosts[0], 1)  # the new release reaches host a first
        deadline = time.monotonic() + 30
        while (new_url := script_url(http_get(a.url + "/", cookie).body.decode())) == old_url:
            assert time.monotonic() < deadline, "host a never switched"
            time.sleep(0.1)
        assert script_url(http_get(b.url + "/", cookie).body.decode()) == old_url  # b: not yet
        from_b = http_get(b.url + new_url)
        from_a = http_get(a.url + new_url)
        assert from_b.status == from_a.status == 200
        assert from_b.body == from_a.body and b"deploy 1" in from_b.body
        assert from_b.header("etag") == from_a.header("etag")
        old_from_a = http_get(a.url + old_url)
        assert old_from_a.status == 200 and old_from_a.body == old_body
    shutil.rmtree(store, ignore_errors=True)


def served_generations(server: Server, tries: int = 12) -> dict[int, str]:
    """{worker pid: generation} from a few status requests (they spread over the workers)."""
    seen: dict[int, str] = {}
    for _ in range(tries):
        status = json.loads(http_get(server.url + "/status").body)
        seen[status["pid"]] = status["generation"]
    return seen


def wait_for_workers_on(server: Server, generation: str, avoid: set[int], timeout: float = 20.0) -> set[int]:
    """Block until two live workers not in `avoid` serve `generation`; their pids."""
    deadline = time.monotonic() + timeout
    while True:
        seen = served_generations(server)
        on_it = {pid for pid, served in seen.items() if served == generation and pid not in avoid}
        if len(on_it) >= 2 and all(served == generation for served in seen.values()):
            return on_it
        assert time.monotonic() < deadline, f"workers {seen}, wanted {generation} on new ones"
        time.sleep(0.1)


def test_a_rollback_survives_killed_workers_and_a_sighup_until_the_next_deploy(project: Path) -> None:
    first = PublishingStore.for_config(load_config(project)).current_id()
    second = deploy(project, 2)
    env = {"SHOP_MENDEL_RELOAD_INTERVAL": "0.1", "SHOP_MENDEL_STATUS_ROUTE": "/status"}
    with running_gunicorn(project, extra_env=env) as server:
        server.output.wait_for("Booting worker", count=2)
        workers = wait_for_workers_on(server, second, set())
        activated = subprocess.run(
            [sys.executable, "-m", "mendel_py", "generations", "--basedir", str(project), "activate", first[:10]],
            capture_output=True, text=True, timeout=60,
        )
        assert activated.returncode == 0, activated.stderr
        assert wait_for_workers_on(server, first, set()) == workers  # live workers swapped
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        replaced = wait_for_workers_on(server, first, workers)  # new workers start on the rollback
        os.kill(server.process.pid, signal.SIGHUP)  # gunicorn reloads the app, new workers
        after_hup = wait_for_workers_on(server, first, workers | replaced)
        time.sleep(1.0)
        assert set(served_generations(server).values()) == {first}  # and it stays
        assert deploy(project, 2) == second  # the next deploy step moves CURRENT again
        wait_for_workers_on(server, second, set())
        log = server.output.text()
    assert after_hup and "Traceback" not in log

"""`MendelASGIMiddleware` under uvicorn at real size (the 2,000-module synthetic project): cold
bundles never hold up the event loop, a client leaving mid-body breaks nothing, and a project that
can't load stops start-up with one clear line."""
from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from e2e_support import REPO, OutputWatcher, Server, free_port, http_get, stop_process, wait_for_port

sys.path.insert(0, str(REPO / "benchmarks"))
import synth  # noqa: E402

HELPERS = Path(__file__).resolve().parents[1] / "helpers"
COLD_REQUESTS = 50


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> str:
    return synth.write_synthetic_project(str(tmp_path_factory.mktemp("big")), modules=2000, variations=45)


@contextmanager
def running_uvicorn(app: str, env: dict[str, str], *args: str) -> Iterator[Server]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--app-dir", str(HELPERS), app, "--host", "127.0.0.1", "--port", str(port),
         "--no-access-log", *args],
        cwd=REPO, env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        output = OutputWatcher(process.stderr)
        wait_for_port(port, process)
        yield Server(f"http://127.0.0.1:{port}", process, output)
    finally:
        stop_process(process)


def cold_pack_seconds(project: str) -> float:
    """The slowest of a few cold packs (+ gzip) of this project's bundle, in this process."""
    from mendel_py.serving.wsgi import MendelMiddleware, pass_through_app

    core = MendelMiddleware(pass_through_app, project, reload_interval=None)
    times = []
    for names in synth.random_variation_sets(4, seed=99):
        resolver = core.resolver({})
        resolver.set_variations(names)
        url = resolver.bundle_url("main")
        started = time.perf_counter()
        answer = core.answer_bundle({"REQUEST_METHOD": "GET", "HTTP_ACCEPT_ENCODING": "gzip"}, url)
        assert answer is not None and answer.status == 200
        times.append(time.perf_counter() - started)
    return statistics.median(times[1:])  # (the first one also makes the packer's pieces)


LOAD_SCRIPT = """
import http.client, json, sys, threading
port, paths = int(sys.argv[1]), sys.argv[2:]
connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=120) for _ in paths]
for connection, path in zip(connections, paths):
    connection.request("GET", path, headers={"Accept-Encoding": "gzip"})
print("sent", flush=True)  # every request is in flight: the measured window starts
statuses = []
def finish(connection):
    response = connection.getresponse()
    response.read()
    statuses.append(response.status)
threads = [threading.Thread(target=finish, args=(c,)) for c in connections]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps(statuses), flush=True)
"""


def timed_get(url: str) -> tuple[int, float]:
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    return status, time.perf_counter() - started


def pages_during(server: Server, paths: list[str]) -> tuple[list[float], list[int]]:
    """Page latencies measured while `paths` are fetched at once by another process (so this
    process's clock measures only the server), and the statuses of those fetches."""
    load = subprocess.Popen([sys.executable, "-c", LOAD_SCRIPT, str(server.port), *paths],
                            stdout=subprocess.PIPE, text=True)
    pages: list[float] = []
    try:
        assert load.stdout is not None and load.stdout.readline().strip() == "sent"
        while load.poll() is None and len(pages) < 2000:
            status, seconds = timed_get(server.url + "/page")
            assert status == 200
            pages.append(seconds)
        out, _ = load.communicate(timeout=120)
    finally:
        stop_process(load)
    return pages, json.loads(out.strip().splitlines()[-1])


def test_cold_bundles_never_block_a_page_for_more_than_one_pack(project: str) -> None:
    pack = cold_pack_seconds(project)
    with running_uvicorn("asgi_big_app:app", {"BIG_MENDEL_BASEDIR": project}) as server:
        urls = [http_get(f"{server.url}/?v={','.join(names)}").body.decode()
                for names in synth.random_variation_sets(COLD_REQUESTS, seed=5)]
        assert len(set(urls)) == COLD_REQUESTS
        for _ in range(20):
            timed_get(server.url + "/page")  # warm: the page's tree walked, the connection path hot
        quiet = statistics.median(timed_get(server.url + "/page")[1] for _ in range(20))
        warm = http_get(f"{server.url}/?v=").body.decode()
        http_get(server.url + warm, {"Accept-Encoding": "gzip"})
        # the same burst of 50 requests for a warm bundle first: what arriving requests cost the
        # loop anyway; the cold burst may add at most one pack time to that
        burst_pages, _ = pages_during(server, [warm] * COLD_REQUESTS)
        pages, statuses = pages_during(server, urls)
    assert sorted(set(statuses)) <= [200, 503] and statuses.count(200) >= 2, statuses
    assert len(pages) >= 3 and len(burst_pages) >= 3, "the bursts ended before pages could be measured"
    print(f"pack {pack * 1000:.1f} ms; page quiet {quiet * 1000:.2f} ms; during a warm burst: median "
          f"{statistics.median(burst_pages) * 1000:.2f} ms, p90 {p90(burst_pages) * 1000:.2f} ms, max "
          f"{max(burst_pages) * 1000:.2f} ms; during cold packs: median {statistics.median(pages) * 1000:.2f} ms, "
          f"p90 {p90(pages) * 1000:.2f} ms, max {max(pages) * 1000:.2f} ms over {len(pages)}; "
          f"bundles {statuses.count(200)} x 200, {statuses.count(503)} x 503")
    # Against the same run's warm burst (what 50 arriving requests cost the loop anyway), the cold
    # burst may add one pack time, compared at the median and the 90th percentile: a loop that packed
    # would hold most pages behind one or more packs and fail both, while the odd page a loaded
    # machine's scheduler holds up (the max of a few hundred samples) does not decide the result.
    assert statistics.median(pages) <= statistics.median(burst_pages) + pack, (pages, burst_pages, pack)
    assert p90(pages) <= p90(burst_pages) + pack, (p90(pages), p90(burst_pages), pack)


def p90(samples: list[float]) -> float:
    """The 90th percentile (inclusive method: within the samples' range)."""
    return statistics.quantiles(samples, n=10, method="inclusive")[-1]


@pytest.mark.parametrize("store", [False, True], ids=["memory", "store"])
def test_a_client_leaving_mid_bundle_breaks_nothing(project: str, tmp_path: Path, store: bool) -> None:
    env = {"BIG_MENDEL_BASEDIR": project, **({"BIG_STORE_DIR": str(tmp_path / "store")} if store else {})}
    with running_uvicorn("asgi_big_app:app", env) as server:
        path = http_get(server.url + "/?v=").body.decode()
        full = http_get(server.url + path)  # packed (and stored) once
        assert full.status == 200 and len(full.body) > 512 * 1024
        for _ in range(5):
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as client:
                client.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                assert client.recv(4096).startswith(b"HTTP/1.1 200")
            # (closed with most of the body unread)
        again = http_get(server.url + path)
        assert again.status == 200 and again.body == full.body
        assert http_get(server.url + "/page").status == 200
        time.sleep(0.3)
        assert "Traceback" not in server.output.text() and "ERROR" not in server.output.text(), server.output.text()
        if store:
            pid = server.process.pid
            open_files = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
            assert not [name for name in open_files if "store" in name and name.endswith((".js", ".gz", ".br"))]


def test_a_project_that_cannot_load_stops_start_up_with_one_line(tmp_path: Path) -> None:
    (tmp_path / ".mendelrc").write_text("bundles: [not, a, mapping\n")
    port = free_port()
    result = subprocess.run(
        [sys.executable, "-m", "uvicorn", "--app-dir", str(HELPERS), "asgi_big_app:app", "--host", "127.0.0.1",
         "--port", str(port), "--lifespan", "on"],
        cwd=REPO, env={**os.environ, "BIG_MENDEL_BASEDIR": str(tmp_path)}, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    mendel_lines = [line for line in result.stderr.splitlines() if "mendel" in line]
    assert len(mendel_lines) == 1, result.stderr
    assert "the project can't be loaded" in mendel_lines[0] and ".mendelrc" in mendel_lines[0]
    assert "Traceback" not in result.stderr

"""The development loop without a browser: rebuild + swap, the SSE stream, the injected snippet,
and `mendel dev` as a real process."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Response

from e2e_support import OutputWatcher, build_example_project, free_port, http_get, stop_process
from mendel_py.dev.loop import Broadcaster, DevLoop, DevMiddleware, Status, inject
from mendel_py.qa.page import DEFAULT_QA_ROUTE
from mendel_py.serving.wsgi import MendelMiddleware

pytest.importorskip("watchfiles", reason="mendel dev needs watchfiles (the dev extra)")

BUTTON = "examples/shop/src/variations/bucket_A/components/button.js"
EVENTS = DEFAULT_QA_ROUTE + "dev/events"


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    return build_example_project(tmp_path)


def page(environ: dict[str, Any], start_response: Any) -> Any:
    """An app page that embeds this request's main bundle URL."""
    if environ["PATH_INFO"] == "/":
        url = environ["mendel"].bundle_url("main")
        html = f'<!doctype html><html><body><script src="{url}"></script></body></html>'
        return Response(html, mimetype="text/html")(environ, start_response)
    return Response("plain", mimetype="text/plain")(environ, start_response)


def loop_for(project: Path) -> tuple[DevLoop, Client, list[str]]:
    printed: list[str] = []
    middleware = MendelMiddleware(page, str(project), development=True)
    loop = DevLoop(middleware, on_status=lambda status: printed.append(status.describe()))
    return loop, Client(DevMiddleware(middleware, loop, EVENTS)), printed


def bucket_a_bundle(client: Client) -> str:
    client.set_cookie("mendel_variations", "bucket_A")
    html = client.get("/").get_data(as_text=True)
    url = html.split('<script src="', 1)[1].split('"', 1)[0]
    return client.get(url).get_data(as_text=True)


def test_an_edit_is_rebuilt_and_served_without_restart(project: Path) -> None:
    loop, client, printed = loop_for(project)
    first = loop.status.generation
    assert "Buy now" in bucket_a_bundle(client)
    button = project / BUTTON
    button.write_text(button.read_text().replace("Buy now", "Buy it today"))
    status = loop.apply([str(button)])
    assert status.generation == first + 1 and status.error is None and status.written == ("main",)
    assert "Buy it today" in bucket_a_bundle(client)
    assert "main" in printed[-1] and "patch" in printed[-1]


def test_a_broken_edit_keeps_the_last_good_build_and_reports(project: Path) -> None:
    loop, client, printed = loop_for(project)
    good = bucket_a_bundle(client)
    button = project / BUTTON
    original = button.read_text()
    button.write_text(original + "\nvar broken = 'unterminated;\n")
    status = loop.apply([str(button)])
    assert status.error is not None and BUTTON in status.error and "unterminated" in status.error
    assert "build failed" in printed[-1] and BUTTON in printed[-1]
    assert bucket_a_bundle(client) == good
    button.write_text(original.replace("Buy now", "Fixed"))
    fixed = loop.apply([str(button)])
    assert fixed.error is None and fixed.generation == status.generation + 1
    assert "Fixed" in bucket_a_bundle(client)


def test_html_pages_get_the_snippet_and_nothing_else_does(project: Path) -> None:
    loop, client, _ = loop_for(project)
    html = client.get("/")
    text = html.get_data(as_text=True)
    assert text.count('data-mendel-dev="reload"') == 1
    assert text.index("data-mendel-dev") < text.index("</body>")
    assert f"var generation = {loop.status.generation}," in text and EVENTS in text
    assert int(html.headers["Content-Length"]) == len(html.data)
    assert "data-mendel-dev" not in client.get("/other").get_data(as_text=True)
    url = text.split('<script src="', 1)[1].split('"', 1)[0]
    assert b"data-mendel-dev" not in client.get(url).data
    assert "data-mendel-dev" in client.get(DEFAULT_QA_ROUTE).get_data(as_text=True)
    head = client.head("/")
    snippet = text[text.index("<script data-mendel-dev"): text.index("</script>", text.index("data-mendel-dev")) + 9]
    assert head.data == b"" and int(head.headers["Content-Length"]) == len(html.data) - len(snippet.encode())


def test_inject_without_body_tag_appends() -> None:
    assert inject(b"<p>hi", b"<script></script>") == b"<p>hi<script></script>"
    assert inject(b"<BODY>x</BODY>", b"S") == b"<BODY>xS</BODY>"


def test_event_stream_sends_the_status_then_each_change() -> None:
    broadcaster = Broadcaster()
    broadcaster.publish(Status(3))
    quiet = broadcaster.events(heartbeat=0.05)
    assert next(quiet) == f"event: status\ndata: {Status(3).to_json()}\n\n".encode()
    assert next(quiet) == b": heartbeat\n\n"
    events = broadcaster.events(heartbeat=30)
    assert b'"generation": 3' in next(events)
    threading.Timer(0.05, broadcaster.publish, [Status(3, "a.js:1: oops")]).start()
    assert b'"error": "a.js:1: oops"' in next(events)
    broadcaster.close()
    assert list(events) == [] and list(quiet) == []


def test_events_endpoint_is_an_event_stream(project: Path) -> None:
    loop, client, _ = loop_for(project)
    response = client.get(EVENTS, buffered=False)
    assert response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-store"
    first = next(iter(response.response))
    assert f'"generation": {loop.status.generation}'.encode() in first
    loop.stop()


def test_mendel_dev_serves_rebuilds_and_stops(project: Path) -> None:
    """`mendel dev --json` without an app: bundles and the QA page, an edit seen by an SSE client."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mendel_py", "dev", "--basedir", str(project), "--port", str(port), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output = OutputWatcher(process.stdout)
        output.wait_for('"event": "serving"')
        base = f"http://127.0.0.1:{port}"
        assert http_get(base + DEFAULT_QA_ROUTE).status == 200
        assert DEFAULT_QA_ROUTE.encode() in http_get(base + "/").body
        with urllib.request.urlopen(base + EVENTS, timeout=30) as stream:
            assert stream.readline().startswith(b"event: status")
            generation = stream.readline()
            button = project / BUTTON
            button.write_text(button.read_text().replace("Buy now", "Buy it today"))
            stream.readline()  # blank line ending the first event
            assert stream.readline().startswith(b"event: status")
            assert stream.readline() != generation
        output.wait_for('"written": ["main"]')
    finally:
        stop_process(process)
    assert process.returncode == 0
    events = [json.loads(line) for line in output.text().splitlines() if line.startswith("{")]
    assert [event["event"] for event in events][:2] == ["status", "serving"]
    assert events[-1] == {"event": "stopped"}
    assert any(event.get("mode") == "patch" for event in events)


WSGI_MODULE = '''
import os
from mendel_py.serving.wsgi import MendelMiddleware

def plain(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/html")])
    return [b"<html><body>plain " + ",".join(environ["mendel"].load_variations()).encode() + b"</body></html>"]

class Outer:
    """Some other middleware around the Mendel one."""
    def __init__(self, app):
        self.app = app
    def __call__(self, environ, start_response):
        return self.app(environ, start_response)

wrapped = Outer(MendelMiddleware(plain, os.environ["PROJECT"]))

def make():
    return wrapped
'''


@pytest.mark.parametrize("target", ["devsite:plain", "devsite:wrapped", "devsite:make()"])
def test_dev_command_finds_or_adds_the_mendel_middleware(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    from mendel_py.cli.dev import _serve_target
    from mendel_py.cli.support import Options

    (tmp_path / "devsite.py").write_text(WSGI_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PROJECT", str(project))
    monkeypatch.setenv("MENDEL_DEV", "1")  # what `mendel dev` sets before importing the app
    monkeypatch.delitem(sys.modules, "devsite", raising=False)
    options = Options(basedir=str(project), hash_format=None, hash_key=None, env=None, as_json=False)
    served, middleware = _serve_target(target, options)
    assert isinstance(middleware, MendelMiddleware)
    assert middleware.trees.config.root == str(project)
    if target != "devsite:plain":
        assert served is sys.modules["devsite"].wrapped  # served as the app built it
    client = Client(served)
    client.set_cookie("mendel_variations", "")  # an empty cookie: base, whatever the experiments say
    assert client.get("/").get_data(as_text=True).startswith("<html><body>plain base")


def test_the_loop_never_touches_the_generation_store(project: Path) -> None:
    """`mendel dev` serves from disk: no save publishes to (or prunes) the production store."""
    from mendel_py.core.trees import MendelTrees

    store = MendelTrees(str(project)).store
    assert store is not None and store.exists()
    before = (store.current_id(), sorted(info.id for info in store.list()))
    loop, client, _ = loop_for(project)
    assert loop.middleware.trees.store is None
    button = project / BUTTON
    original = button.read_text()
    for edit in range(12):
        button.write_text(original.replace("Buy now", f"Edit {edit}"))
        assert loop.apply([str(button)]).error is None
    assert (store.current_id(), sorted(info.id for info in store.list())) == before
    assert "Edit 11" in bucket_a_bundle(client)

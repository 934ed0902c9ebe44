"""The development loop: watch the sources, rebuild what changed, swap it in, reload open pages.

    loop = DevLoop(middleware)            # builds once, in memory (compiler/incremental.py)
    app = DevMiddleware(wsgi_app, loop)   # SSE endpoint + reload/overlay snippet in HTML pages
    loop.start()                          # a watcher thread (watchfiles) calls loop.apply(paths)

`apply` rebuilds the manifests of the edited files in process, swaps them into the running
`MendelTrees` (`reload()`: one reference assignment, off the request path; from disk, never a
generation store); every open page holds a Server-Sent Events stream and reloads itself on a new
generation. A build error is published instead: the pages show it in an overlay, the terminal
prints it, and the last good manifests keep serving until an edit fixes it.

Only the development server uses this module; production never injects anything.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from markupsafe import Markup
from werkzeug.wrappers import Request, Response

from ..errors import MendelError
from ..ssr.page import SSR_ERRORS_KEY

if TYPE_CHECKING:
    from ..compiler.incremental import IncrementalBuild
    from ..serving.wsgi import MendelMiddleware, StartResponse, WSGIApp

log = logging.getLogger(__name__)

EVENTS_SUBPATH = "dev/events"
HEARTBEAT_SECONDS = 15.0
WATCH_STEP_MS = 10  # group events arriving within this time into one rebuild
WATCH_DEBOUNCE_MS = 400



@dataclass(frozen=True)
class Status:
    """The outcome of the last rebuild: what open pages are told and the terminal prints.

    `generation` grows with every good rebuild; after a failed one, `error` says why (and the
    generation stays, as the pages keep running the last good build).
    """

    generation: int
    error: str | None = None
    changes: int = 0  # files reported changed (0: the first build)
    written: tuple[str, ...] = ()  # bundles whose manifests were rewritten
    mode: str = ""  # how the build went about it (see `compiler.incremental`)
    milliseconds: float = 0.0

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    def describe(self) -> str:
        """One line for the terminal."""
        if self.error:
            shown = self.error.replace("\n", "\n  ")  # the code frame under the message, indented too
            return f"mendel dev: build failed, still serving the last good build:\n  {shown}"
        cause = f"{self.changes} change(s)" if self.changes else "first build"
        what = "rebuilt " + ", ".join(self.written) if self.written else "no manifest changed"
        return f"mendel dev: {cause}: {what} ({self.mode}, {self.milliseconds:.0f} ms)"


OnStatus = Callable[[Status], None]


class Broadcaster:
    """The current Status and a condition variable that SSE streams wait on."""

    def __init__(self) -> None:
        self._status = Status(0)
        self._changed = threading.Condition()
        self._closed = False

    @property
    def status(self) -> Status:
        return self._status

    def publish(self, status: Status) -> None:
        with self._changed:
            self._status = status
            self._changed.notify_all()

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def events(self, heartbeat: float = HEARTBEAT_SECONDS) -> Iterator[bytes]:
        """An SSE stream: the status now, then every new status; a comment line as heartbeat."""
        sent: Status | None = None
        while True:
            with self._changed:
                if sent is not None and self._status == sent and not self._closed:
                    self._changed.wait(heartbeat)
                if self._closed:
                    return
                status = self._status
            if status != sent:
                sent = status
                yield f"event: status\ndata: {status.to_json()}\n\n".encode()
            else:
                yield b": heartbeat\n\n"


class DevLoop:
    """Incremental rebuilds of `middleware`'s project, swapped into its trees on every edit."""

    def __init__(
        self,
        middleware: MendelMiddleware,
        build: IncrementalBuild | None = None,
        on_status: OnStatus | None = None,
    ):
        from ..compiler.incremental import IncrementalBuild

        self.middleware = middleware
        if middleware.trees.store is not None:
            middleware.trees.serve_disk_only()  # a dev loop never touches a (production) store
        self.on_status = on_status or _log_status
        self.broadcaster = Broadcaster()
        self.build = build or IncrementalBuild(middleware.trees.config)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._swap_pending = False  # written manifests the trees have not taken yet (a refused swap is retried)
        self.apply(())

    @property
    def status(self) -> Status:
        return self.broadcaster.status

    def watched_paths(self) -> list[str]:
        """The base and variation folders, and the `.mendelrc`."""
        return self.build.watch_paths()

    def apply(self, paths: Iterable[str]) -> Status:
        """Rebuild after `paths` changed, swap the result in and tell the pages (thread-safe).

        The first call (from the constructor) builds everything.
        """
        paths = list(paths)
        with self._lock:
            started = time.perf_counter()
            generation = self.broadcaster.status.generation
            try:
                result = self.build.update(paths)
                self._swap_pending = self._swap_pending or bool(result.written)
                if self._swap_pending:
                    self._swap()
                    self._swap_pending = False
            except MendelError as error:
                status = Status(generation, error.describe(), changes=len(paths))
            else:
                elapsed = (time.perf_counter() - started) * 1000
                status = Status(generation + 1, None, len(paths), result.written, result.mode, elapsed)
            self.broadcaster.publish(status)
            self.on_status(status)
            return status

    def start(self) -> None:
        """Watch the folders on a daemon thread until `stop()`."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._watch, name="mendel-dev-watch", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.broadcaster.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.build.save_cache()

    def _swap(self) -> None:
        """Load the manifests on disk into the running trees; a bad set keeps the old one.

        The loop serves from disk only (`MendelTrees.serve_disk_only`): no save publishes a
        generation or prunes one, so a production store is never touched by `mendel dev`.
        """
        self.middleware.trees.reload()

    def _watch(self) -> None:
        import watchfiles

        for changes in watchfiles.watch(
            *self.watched_paths(),
            stop_event=self._stop,
            step=WATCH_STEP_MS,
            debounce=WATCH_DEBOUNCE_MS,
            raise_interrupt=False,
        ):
            try:
                self.apply(sorted({path for _change, path in changes}))
            except Exception:  # keep watching whatever one rebuild did
                log.exception("mendel dev: rebuild failed")


def _log_status(status: Status) -> None:
    (log.error if status.error else log.info)(status.describe())


# --------------------------------------------------------------------------- in the browser

CLIENT_SCRIPT = """(function () {
  var generation = %(generation)d, overlay = null, renderErrors = %(render_errors)s;
  function show(message, title) {
    if (!overlay) {
      overlay = document.createElement('div');
      overlay.id = 'mendel-dev-overlay';
      overlay.setAttribute('role', 'alertdialog');
      overlay.setAttribute('aria-live', 'assertive');
      overlay.setAttribute('aria-label', title || 'Build error');
      overlay.setAttribute('style', 'position:fixed;inset:0;z-index:2147483647;overflow:auto;' +
        'background:rgba(20,20,20,.94);color:#fff;font:15px/1.5 ui-monospace,monospace;padding:2rem');
      document.body.appendChild(overlay);
    }
    overlay.innerHTML = '<h2 style="color:#ff7b72;margin:0 0 1rem"></h2><pre></pre>' +
      '<p>' + (title ? 'The page fell back to rendering in the browser. '
        : 'The last good build is still being served. ') +
      'Fix the file and this page reloads.</p>' +
      '<button type="button" style="font:inherit;padding:.3rem .9rem">Hide until the next build</button>';
    overlay.querySelector('h2').textContent = title || 'Build failed';
    overlay.querySelector('pre').textContent = message;
    var hide = overlay.querySelector('button');
    hide.addEventListener('click', function () { overlay.remove(); overlay = null; });
    hide.focus();
  }
  if (renderErrors.length) { show(renderErrors.join('\\n\\n'), 'Server render failed'); }
  var source = new EventSource(%(url)s);
  source.addEventListener('status', function (event) {
    var status = JSON.parse(event.data);
    if (status.error) { show(status.error); }
    else if (status.generation !== generation) { source.close(); location.reload(); }
    else if (overlay && !renderErrors.length) { overlay.remove(); overlay = null; }
  });
})();"""


def client_snippet(events_url: str, status: Status, render_errors: Iterable[str] = ()) -> Markup:
    """The `<script>` put into every HTML page in development; `render_errors`: the page's server
    render errors (each with its stack in the original files), shown in the overlay."""
    errors = json.dumps(list(render_errors)).replace("</", "<\\/")
    script = CLIENT_SCRIPT % {"generation": status.generation, "url": json.dumps(events_url), "render_errors": errors}
    return Markup('<script data-mendel-dev="reload">') + Markup(script) + Markup("</script>")


class DevMiddleware:
    """Serves the SSE endpoint and puts the reload/overlay snippet into HTML responses."""

    def __init__(self, app: WSGIApp, loop: DevLoop, events_path: str):
        self.app = app
        self.loop = loop
        self.events_path = events_path

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        if request.path == self.events_path:
            response = Response(self.loop.broadcaster.events(), mimetype="text/event-stream")
            response.headers["Cache-Control"] = "no-store"
            return response(environ, start_response)
        status = self.loop.status  # before the page renders: a rebuild after it must reload it
        # the page's server render errors land in this list (werkzeug runs the app on a copy of
        # `environ`; the list is shared)
        render_errors: list[Any] = environ.setdefault(SSR_ERRORS_KEY, [])
        response = Response.from_app(self.app, environ)
        if _has_html_body(request, response):
            shown = [f"{error.reason}: {error.stack}" for error in render_errors]
            snippet = client_snippet(request.script_root + self.events_path, status, shown)
            response.set_data(inject(response.get_data(), str(snippet).encode()))
        return response(environ, start_response)


def _has_html_body(request: Request, response: Response) -> bool:
    """An HTML page with a body we may rewrite (not HEAD, 204/304, or already compressed)."""
    if request.method == "HEAD" or response.status_code in (204, 304):
        return False
    return response.mimetype == "text/html" and not response.headers.get("Content-Encoding")


def inject(html: bytes, snippet: bytes) -> bytes:
    """`snippet` just before the last `</body>` (or at the end)."""
    position = html.lower().rfind(b"</body>")
    if position < 0:
        return html + snippet
    return html[:position] + snippet + html[position:]

"""`MendelASGIMiddleware`: the bundle endpoint and the per-request resolver for any ASGI app.

    from mendel_py.asgi import MendelASGIMiddleware
    app = MendelASGIMiddleware(app, "path/to/project", cookie_name="ab")   # ServingOptions keywords

It is a thin adapter over the WSGI core (`mendel_py.serving.wsgi.MendelMiddleware`, built with a
pass-through app and never called as WSGI for pages): a bundle URL is answered with the core's
`answer_bundle` decision, so its HTTP rules are the WSGI endpoint's, and a page request gets the
core's `RequestResolver` in ``scope["state"]["mendel"]`` (Starlette/FastAPI:
``request.state.mendel``), whose cookies and cache marks go on the page's response.

What is ASGI's own:

- the event loop never packs: a warm bundle (in memory) is answered on the loop; a cold one
  (packing, compressing, opening a stored file) from a worker thread, bounded by the core's
  ``max_cold_packs`` (more wait briefly, then get a 503);
- bodies go in pieces (the packer's ~64 KiB chunks; a stored file read in pieces in a thread),
  always after a ``Content-Length``; a client gone mid-body ends the send, the file is closed;
- the trees load in lifespan start-up, in a thread, with the packer's pieces of every bundle,
  and what start-up made is frozen out of the garbage collector's reach (`gc.freeze`);
  a failure there is one line (``lifespan.startup.failed``) and the server does not start. A
  server without lifespan loads them on the first request;
- hot reload as under WSGI: each process (`uvicorn --workers N`, gunicorn's uvicorn worker)
  starts its own watcher thread on its first request;
- the QA page and the metrics route, which are WSGI apps of the core, run in a thread.
"""
from __future__ import annotations

import gc
import io
import logging
import os
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import Token
from typing import TYPE_CHECKING, Any

import anyio.to_thread

from ..errors import MendelError
from ..packing.packer import packer_for
from ..packing.sourcemap import MAP_SUFFIX
from ..serving.answer import BundleAnswer
from ..serving.bundles import COLD_PACK_WAITERS
from ..serving.options import ServingOptions
from ..serving.request import Marks, RequestResolver, current_resolver, marks_as
from ..serving.wsgi import PASSED_KEY, MendelMiddleware, pass_through_app

if TYPE_CHECKING:
    from ..core.trees import MendelTrees

log = logging.getLogger(__name__)

__all__ = ["MendelASGIMiddleware", "environ_from_scope", "state_key"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

state_key = "mendel"
"""The key of the request's resolver in ``scope["state"]``."""
FILE_PIECE_BYTES = 256 * 1024
"""A stored bundle is read and sent in pieces of this size (each read in a worker thread)."""
MAX_WSGI_BODY = 64 * 1024
"""The largest request body the QA page's form may send (it is a few names)."""
_HEADER_MEMO_SIZE = 1024
COLD_THREADS = 1
"""Worker threads of one process making cold answers at once (see `_cold_answer`)."""


_HEADER_KEYS: dict[bytes, str] = {}


def _header_key(name: bytes) -> str:
    """``b"user-agent"`` -> ``"HTTP_USER_AGENT"`` (remembered for the first few hundred names)."""
    key = "HTTP_" + name.decode("latin-1").upper().replace("-", "_")
    if len(_HEADER_KEYS) < 512:
        _HEADER_KEYS[name] = key
    return key


def path_below_root(scope: Scope) -> str:
    """The scope's path below its root path (the environ's PATH_INFO)."""
    root = scope.get("root_path", "")
    path: str = scope["path"]
    if root and path.startswith(root):
        path = path[len(root):]
    return path


def environ_from_scope(scope: Scope) -> dict[str, Any]:
    """The CGI keys the core reads, from an ASGI HTTP scope: PATH_INFO below the root path,
    SCRIPT_NAME (the root path), RAW_URI (the raw target, for the canonical-spelling check),
    QUERY_STRING, the ``HTTP_*`` headers (repeated ones joined, cookies with ``; ``) and
    ``wsgi.url_scheme``."""
    root = scope.get("root_path", "")
    path = path_below_root(scope)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": root,
        "PATH_INFO": path,
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "wsgi.url_scheme": scope.get("scheme", "http"),
    }
    raw = scope.get("raw_path")
    if raw is not None:
        environ["RAW_URI"] = raw.decode("latin-1") + ("?" + environ["QUERY_STRING"] if environ["QUERY_STRING"] else "")
    names = _HEADER_KEYS
    for name, value in scope.get("headers", ()):
        key = names.get(name)
        if key is None:
            key = _header_key(name)
        text = value.decode("latin-1")
        if key in environ:
            text = environ[key] + ("; " if key == "HTTP_COOKIE" else ", ") + text
        environ[key] = text
    server = scope.get("server")
    if server:
        environ["SERVER_NAME"], environ["SERVER_PORT"] = server[0], str(server[1])
    return environ


class _Core(MendelMiddleware):
    """The WSGI core with the pass-through app."""


_UNMADE: dict[str, Any] = {}
"""(what `ScopeResolver` hands the base class for an environ not made yet)"""


class ScopeResolver(RequestResolver):
    """The core's `RequestResolver` for an ASGI page request, whose `environ`
    (`environ_from_scope`) is made on first read: a page the request memo answers (a returning
    visitor's) reads only the query, the Cookie header and the root path, straight from the scope."""

    _environ: dict[str, Any] | None

    def __init__(self, middleware: MendelMiddleware, scope: Scope):
        self._scope = scope
        # (its `environ` store sets `_environ`; not super(): one object less per request)
        RequestResolver.__init__(self, middleware, _UNMADE)

    # (a property, not `__getattr__`: a class with `__getattr__` loses CPython's attribute caches)
    @property
    def environ(self) -> dict[str, Any]:
        if self._environ is None:
            self._environ = environ_from_scope(self._scope)
        return self._environ

    @environ.setter
    def environ(self, value: dict[str, Any]) -> None:
        self._environ = None if value is _UNMADE else value

    def _let_go_of_state(self) -> None:
        """Keep the scope without its ``state`` (which holds this resolver): for after the request,
        so the resolver and the scope are freed when nothing else holds them."""
        scope = self._scope
        if "state" in scope:
            kept = dict(scope)
            del kept["state"]
            self._scope = kept

    def _key_inputs(self) -> tuple[Any, Any, str]:
        """The scope's query string and Cookie header(s) (joined with ``; ``, as in the environ) as
        they came, in bytes (`_key_of` decodes them, for a key not seen lately), and its root path."""
        scope = self._scope
        header: bytes | None = None
        for name, value in scope.get("headers", ()):
            if name == b"cookie":
                header = value if header is None else header + b"; " + value
        return scope.get("query_string", b""), header, scope.get("root_path", "")

    def _key_of(self, inputs: tuple[Any, ...]) -> tuple[Any, ...] | None:
        generation, query, header, root = inputs
        return super()._key_of(
            (generation, query.decode("latin-1"), None if header is None else header.decode("latin-1"), root)
        )


def _end_page(token: Token[RequestResolver | None]) -> None:
    """After a page: `current_resolver` back as it was, and the page's resolver no longer holding
    the scope whose state holds it (a reference cycle, which would leave both, and what the scope
    holds, to the garbage collector: a collection every ~140 pages)."""
    resolver = current_resolver.get()
    current_resolver.reset(token)
    if type(resolver) is ScopeResolver:
        resolver._let_go_of_state()


class MendelASGIMiddleware:
    """ASGI middleware serving Mendel bundles and putting a `RequestResolver` on other requests.

    `trees_or_basedir`, `options` and keyword options are `MendelMiddleware`'s (the options of
    `mendel_py.serving.options.ServingOptions`). The trees load in lifespan start-up (or on the
    first request without lifespan); `core` is the WSGI middleware made then.
    """

    def __init__(
        self,
        app: ASGIApp,
        trees_or_basedir: MendelTrees | str | os.PathLike[str] = ".",
        options: ServingOptions | None = None,
        **keywords: Any,
    ):
        self.app = app
        self.options = ServingOptions.from_keywords(options, **keywords)  # an unknown keyword fails here
        self._source = trees_or_basedir
        self._core: MendelMiddleware | None = None
        self._loading = threading.Lock()
        self._encoded: dict[int, tuple[object, list[tuple[bytes, bytes]]]] = {}
        self._limiter: anyio.CapacityLimiter | None = None

    # -- start-up ---------------------------------------------------------------------------

    @property
    def core(self) -> MendelMiddleware:
        """The WSGI core (its trees, caches, route and options); loads them if not loaded yet."""
        return self._core or self.load()

    def load(self) -> MendelMiddleware:
        """Load the trees and make the core (once; blocking: call it from a thread)."""
        with self._loading:
            if self._core is None:
                core = _Core(pass_through_app, self._source, self.options)
                trees = core.trees
                for bundle in trees.bundles:  # the packer's per-manifest pieces: once, at start-up
                    packer_for(trees.manifest(bundle)).prepare()
                # what start-up loaded lives as long as the process: out of the collector's reach,
                # a full collection no longer walks the manifests' objects (a pause on the loop)
                gc.collect()
                gc.freeze()
                self._core = core
            return self._core

    async def _load(self) -> MendelMiddleware:
        """`load`, in a worker thread (it reads and checks every manifest)."""
        return await anyio.to_thread.run_sync(self.load)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Load the trees at start-up, then hand the lifespan to the app (which sees every message)."""
        first = await receive()
        if first["type"] == "lifespan.startup":
            try:
                await self._load()
            except Exception as error:
                detail = str(error).splitlines()[0] if str(error) else type(error).__name__
                prefix = "" if isinstance(error, MendelError) else f"{type(error).__name__}: "
                message = f"mendel: the project can't be loaded: {prefix}{detail}"
                await send({"type": "lifespan.startup.failed", "message": message})
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return first
            return await receive()

        await self.app(scope, replay, send)

    # -- requests ---------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            return await self._lifespan(scope, receive, send)
        if kind != "http":
            return await self.app(scope, receive, send)
        core = self._core
        if core is None:
            core = await self._load()
        if core.reloader is not None:
            core.reloader.ensure_running()
        path = path_below_root(scope) if scope.get("root_path") else scope["path"]  # (mounted or not)
        if not path.startswith(core.owned_prefixes):  # (a page: `_page`, without one more coroutine)
            marked, token = self._page_request(core, scope, send)
            try:
                return await self.app(scope, receive, marked)
            finally:
                _end_page(token)
        environ = environ_from_scope(scope)
        if core.route.owns(path):
            if core.development and path.endswith(MAP_SUFFIX):
                return await self._through_wsgi(core, scope, receive, send, environ)
            answer = core.answer_bundle(environ, path, may_pack=False)
            if answer is None:  # cold: packed, compressed or read from the store off the loop
                answer = await self._cold_answer(core, environ, path)
            return await self._send_answer(answer, send)
        options = core.options
        if (core.qa_page is not None and core.qa_page.owns(path)) or (
            options.metrics_route is not None and path == options.metrics_route
        ):
            return await self._through_wsgi(core, scope, receive, send, environ)
        return await self._page(core, scope, receive, send)

    async def _page(self, core: MendelMiddleware, scope: Scope, receive: Receive, send: Send,
                    environ: dict[str, Any] | None = None) -> None:
        """The app's request, with its resolver in the scope's state and its marks on the response."""
        marked, token = self._page_request(core, scope, send, environ)
        try:
            await self.app(scope, receive, marked)
        finally:
            _end_page(token)

    def _page_request(self, core: MendelMiddleware, scope: Scope, send: Send,
                      environ: dict[str, Any] | None = None) -> tuple[Send, Token[RequestResolver | None]]:
        """A page request's resolver, put in the scope's state and `current_resolver` (templates
        reach it there: `mendel_templates`; the caller resets it with the token), and the `send`
        that puts its marks on the response."""
        state = scope.get("state")
        if state is None:
            state = scope["state"] = {}
        if environ is None and core.resolver_class is RequestResolver:
            resolver: RequestResolver = ScopeResolver(core, scope)  # (its environ made if asked)
        else:
            resolver = core.resolver(environ if environ is not None else environ_from_scope(scope))
        state[state_key] = resolver

        # (a plain function handing back `send`'s awaitable: no coroutine of its own per message)
        def marked(message: Message) -> Awaitable[None]:
            if message["type"] == "http.response.start":
                resolver = state.get(state_key)  # (the app may have replaced it)
                if isinstance(resolver, RequestResolver):
                    headers = message.get("headers", ())
                    marked_headers = _marked_headers(resolver, headers)
                    if marked_headers is not headers:
                        message = {**message, "headers": marked_headers}
            return send(message)

        return marked, current_resolver.set(resolver)

    async def _cold_answer(self, core: MendelMiddleware, environ: dict[str, Any], path: str) -> BundleAnswer:
        """The answer made in a worker thread. Few threads at once (`COLD_THREADS`): each holds the
        GIL while it packs, and every thread more that wants it delays the loop's every wake-up;
        the core's bound on cold packs and its 503 apply inside. More waiting than the core would
        let wait get its 503 at once, without a thread."""
        limiter = self._limiter
        if limiter is None:
            limiter = self._limiter = anyio.CapacityLimiter(COLD_THREADS)
        if limiter.statistics().tasks_waiting >= core.options.max_cold_packs * COLD_PACK_WAITERS:
            return core.busy_answer()
        answer = await anyio.to_thread.run_sync(core.answer_bundle, environ, path, limiter=limiter)
        assert answer is not None
        return answer

    def _header_bytes(self, headers: Any) -> list[tuple[bytes, bytes]]:
        """A representation's header list as ASGI bytes (encoded once per list)."""
        found = self._encoded.get(id(headers))
        if found is not None and found[0] is headers:
            return found[1]
        encoded = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]
        if len(self._encoded) >= _HEADER_MEMO_SIZE:
            self._encoded.clear()
        self._encoded[id(headers)] = (headers, encoded)  # (the list is kept, so its id is not reused)
        return encoded

    async def _send_answer(self, answer: BundleAnswer, send: Send) -> None:
        """Send a bundle answer: its headers, then its body in pieces; a client gone mid-body ends
        it (the stored file, if any, is closed)."""
        handle = answer.file
        try:
            await send({"type": "http.response.start", "status": answer.status,
                        "headers": self._header_bytes(answer.headers)})
            if handle is not None:
                while True:
                    piece = await anyio.to_thread.run_sync(handle.read, FILE_PIECE_BYTES)
                    if not piece:
                        break
                    await send({"type": "http.response.body", "body": piece, "more_body": True})
            else:
                for chunk in answer.chunks:
                    await send({"type": "http.response.body", "body": bytes(chunk), "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:  # the client went away (ASGI servers may raise it from send)
            log.debug("mendel: client disconnected during a bundle response")
        finally:
            if handle is not None:
                handle.close()

    async def _through_wsgi(self, core: MendelMiddleware, scope: Scope, receive: Receive, send: Send,
                            environ: dict[str, Any]) -> None:
        """The core's own WSGI routes (QA page, metrics, development source maps), run in a thread;
        a request the QA page hands on goes to the app."""
        body = b""
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # disconnected
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_WSGI_BODY:
                return await self._send_answer(_too_large(), send)
        environ.update({
            "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": environ.get("HTTP_CONTENT_TYPE", ""), "wsgi.errors": io.StringIO(),
            "SERVER_PROTOCOL": "HTTP/" + scope.get("http_version", "1.1"),
        })
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            started[:] = [int(status.split(" ", 1)[0]), headers]

        def run() -> bytes:
            result = core(environ, start_response)
            try:
                return b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()

        content = await anyio.to_thread.run_sync(run)
        if environ.get(PASSED_KEY):
            sent = False

            async def replay() -> Message:
                nonlocal sent
                if not sent:
                    sent = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            return await self._page(core, scope, replay, send, environ)
        status, headers = started
        await send({"type": "http.response.start", "status": status,
                    "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]})
        await send({"type": "http.response.body", "body": content, "more_body": False})


_MERGED = (b"vary", b"cache-control")


_ENCODED: dict[int, tuple[Marks, tuple[tuple[bytes, bytes], ...]]] = {}
"""The page marks' ASGI bytes (`marks_as`)."""


def _encoded(marks: Marks) -> tuple[tuple[bytes, bytes], ...]:
    return tuple((name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in marks)


def _marked_headers(resolver: RequestResolver, headers: Any) -> Any:
    """The page's ASGI headers with the resolver's marks (`page_response_headers`): `headers`
    itself when the page did not use Mendel; nothing decoded when the marks are only appended
    (no cookie to set, nothing to merge: `appended_marks`, encoded once each)."""
    appended = resolver.appended_marks()
    if appended is not None:
        if not appended:
            return headers
        for name, _value in headers:
            if name.lower() in _MERGED:
                break
        else:
            return [*headers, *marks_as(appended, _ENCODED, _encoded)]
    text = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in headers]
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in resolver.page_response_headers(text)]


def _too_large() -> BundleAnswer:
    from ..serving.answer import error_answer

    return error_answer(413, "TOOLARGE", "request body too large")

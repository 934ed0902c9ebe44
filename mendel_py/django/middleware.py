"""`MendelMiddleware` for Django's ``MIDDLEWARE``: bundles before URL routing, ``request.mendel``
for every other request, and the page's marks on its response.

Put it first (or right after whitenoise's): a bundle URL is answered here with the WSGI core's
decision (`MendelMiddleware.answer_bundle` of `mendel_py.serving.wsgi`: canonical spelling, 404
``no-store``, 405, codings, ETag, 304, HEAD), so no URLconf, DEBUG setting, session or
later middleware reaches or varies it; a stored bundle goes as a `FileResponse` (sendfile
under gunicorn), one in memory as a streaming response in pieces with its Content-Length.
"""
from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any

from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.utils.cache import patch_cache_control, patch_vary_headers

from ..packing.sourcemap import MAP_SUFFIX
from ..serving.answer import BundleAnswer
from ..serving.request import Marks, RequestResolver, current_resolver, marks_as
from ..serving.wsgi import PASSED_KEY
from ..serving.wsgi import MendelMiddleware as CoreMiddleware
from .conf import get_core

__all__ = ["MendelMiddleware", "mark_response", "response_from_answer"]

REQUEST_ATTRIBUTE = "mendel"


def response_from_answer(answer: BundleAnswer) -> HttpResponseBase:
    """A Django response sending exactly the answer's status, headers and body."""
    response: HttpResponseBase
    if answer.file is not None:
        response = FileResponse(answer.file)
        for name in ("Content-Disposition", "Content-Type"):  # FileResponse's guesses: the answer says
            if name in response:
                del response[name]
    elif answer.content:
        response = StreamingHttpResponse(answer.chunks)
    else:
        response = HttpResponse(b"")
    response.status_code = answer.status
    if not any(name.lower() == "content-type" for name, _value in answer.headers):
        del response["Content-Type"]  # (a 304 has none; Django's default would be text/html)
    _write_headers(response, answer.headers)
    return response


def _write_headers(response: HttpResponseBase, pairs: Iterable[tuple[str, str]]) -> None:
    """``response[name] = value`` for header pairs the core made (ASCII names and values it wrote):
    straight into Django's store of them ({lower-case name: (name, value)}), where Django's
    `ResponseHeaders` would check each name and value in three Python frames that have nothing to
    find in these; any other header object goes through its own item assignment."""
    store = getattr(response.headers, "_store", None)
    if type(store) is dict:
        for name, value in pairs:
            store[name.lower()] = (name, value)
    else:
        for name, value in pairs:
            response[name] = value


def mark_response(response: HttpResponseBase, resolver: RequestResolver) -> None:
    """The resolver's marks with Django's utilities: cookies by `set_cookie`, ``Vary: Cookie`` by
    `patch_vary_headers`, ``private`` by `patch_cache_control` (unless the view already kept the
    page out of shared caches), the preload `Link`."""
    appended = resolver.appended_marks()
    if appended is not None:
        if not appended:
            return  # (the page did not use Mendel)
        # what patch_vary_headers and patch_cache_control write on a page that has neither header,
        # written as `_write_headers` writes (inline here: six Python frames less, a tenth of what
        # Mendel adds to a page)
        store = getattr(response.headers, "_store", None)
        if type(store) is dict:
            if "vary" not in store and "cache-control" not in store:
                entries = marks_as(appended, _STORED, _store_entries)
                store.update(entries)
                return
        elif not any(name.lower() in _MERGED for name in response.headers):
            for name, value in appended:
                response[name] = value
            return
    marks = resolver.page_marks()
    for cookie in marks.cookies:
        response.set_cookie(cookie.name, cookie.value, max_age=cookie.max_age, path=cookie.path,
                            secure=cookie.secure, httponly=cookie.httponly, samesite=cookie.samesite)
    if marks.vary_cookie:
        patch_vary_headers(response, ("Cookie",))
    if marks.private:
        control = response.get("Cache-Control", "").lower()
        if "private" not in control and "no-store" not in control:
            patch_cache_control(response, private=True)
    if resolver.options.preload is not None:
        link = resolver.link_header()
        if link:
            response["Link"] = f"{response['Link']}, {link}" if response.has_header("Link") else link


_MERGED = frozenset(("vary", "cache-control"))
_STORED: dict[int, tuple[Marks, dict[str, tuple[str, str]]]] = {}
"""The page marks as entries of Django's header store (`marks_as`)."""


def _store_entries(marks: Marks) -> dict[str, tuple[str, str]]:
    return {name.lower(): (name, value) for name, value in marks}


class MendelMiddleware:
    """Django middleware over the process's core (`mendel_py.django.conf.get_core`, made from
    ``settings.MENDEL`` when Django loads the middleware)."""

    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]):
        self.get_response = get_response
        self.core: CoreMiddleware = get_core()

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        core = self.core
        if core.reloader is not None:
            core.reloader.ensure_running()
        path = request.path_info
        if path.startswith(core.owned_prefixes):
            answered = self._owned(request, path)
            if answered is not None:
                return answered
        # a page (here, not in a method of its own: one frame less for every page)
        resolver = core.resolver_class(core, request.META) if core.plain_resolver else core.resolver(request.META)
        request.mendel = resolver  # (REQUEST_ATTRIBUTE)
        token = current_resolver.set(resolver)  # (for the Jinja2 globals and the template loader)
        try:
            response = self.get_response(request)
        finally:
            current_resolver.reset(token)
        used = getattr(request, REQUEST_ATTRIBUTE, resolver)
        if isinstance(used, RequestResolver):
            mark_response(response, used)
        return response

    def _owned(self, request: HttpRequest, path: str) -> HttpResponseBase | None:
        """The answer to a request under a prefix the core owns (bundles, the QA page, metrics);
        None for a page (a path the core does not answer, or a request the QA page hands on)."""
        core = self.core
        if core.route.owns(path):
            if core.development and path.endswith(MAP_SUFFIX):
                return self._through_core(request)
            answer = core.answer_bundle(request.META, path)
            assert answer is not None
            return response_from_answer(answer)
        if (core.qa_page is not None and core.qa_page.owns(path)) or path == core.options.metrics_route:
            return self._through_core(request)
        return None

    def _through_core(self, request: HttpRequest) -> HttpResponseBase | None:
        """The core's own WSGI routes (QA page, metrics, source maps); None for what it hands on
        (a page)."""
        environ: dict[str, Any] = {**request.META, "wsgi.input": io.BytesIO(request.body)}
        environ.setdefault("wsgi.url_scheme", request.scheme)
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            started[:] = [int(status.split(" ", 1)[0]), headers]

        result = self.core(environ, start_response)
        try:
            content = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        if environ.get(PASSED_KEY):
            return None
        status, headers = started
        response = HttpResponse(content, status=status)
        del response["Content-Type"]
        for name, value in headers:
            if name.lower() == "set-cookie":
                # (Django keeps cookies apart from headers: the raw value goes in as one cookie morsel)
                _add_raw_cookie(response, value)
            else:
                response[name] = value
        return response


def _add_raw_cookie(response: HttpResponseBase, header: str) -> None:
    from http.cookies import SimpleCookie

    parsed: SimpleCookie = SimpleCookie()
    parsed.load(header)
    for name, morsel in parsed.items():
        response.cookies[name] = morsel

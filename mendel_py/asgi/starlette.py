"""Starlette and FastAPI helpers over `MendelASGIMiddleware`.

    from fastapi import Depends, FastAPI, Request
    from fastapi.templating import Jinja2Templates
    from mendel_py.asgi import MendelASGIMiddleware, MendelResolver, mendel_templates

    app = FastAPI()
    templates = Jinja2Templates(directory="templates")
    app.add_middleware(MendelASGIMiddleware, trees_or_basedir="path/to/project")
    mendel_templates(templates)       # mendel_script / mendel_stylesheet / mendel_bundle_url / mendel_render

    @app.get("/")
    def index(request: Request, mendel: MendelResolver):  # or request.state.mendel
        return templates.TemplateResponse(request, "index.html", {"active": mendel.variations[:-1]})
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

from ..integrations.jinja import current_lookup_chains, use_current_request_functions
from ..serving.request import RequestResolver
from .middleware import state_key

if TYPE_CHECKING:
    from ..core.trees import MendelTrees

__all__ = ["MendelResolver", "current_lookup_chains", "get_mendel", "mendel_templates", "resolver_of"]


def resolver_of(request: Any) -> RequestResolver:
    """The request's resolver (``request.state.mendel``); a clear error without the middleware."""
    state = request.scope.get("state") or {}
    resolver = state.get(state_key)
    if not isinstance(resolver, RequestResolver):
        raise RuntimeError("no Mendel resolver on this request: add MendelASGIMiddleware to the app")
    return resolver


def mendel_templates(templates: Any, trees: Callable[[], MendelTrees] | None = None) -> Any:
    """Give a Starlette/FastAPI `Jinja2Templates` the Mendel functions (``mendel_script``,
    ``mendel_stylesheet``, ``mendel_bundle_url``, ``mendel_render``:
    `mendel_py.integrations.jinja_functions`), and, with `trees` (e.g. ``lambda:
    middleware.core.trees``), templates picked from the variation folders first. Returns `templates`."""
    from ..integrations.jinja import use_variation_templates

    environment = templates.env
    use_current_request_functions(
        environment, "mendel_script/mendel_stylesheet used outside a request MendelASGIMiddleware saw"
    )
    if trees is not None:
        use_variation_templates(environment, trees, current_lookup_chains)
    return templates


def get_mendel(request: Any) -> RequestResolver:
    """FastAPI dependency: the request's resolver (``Depends(get_mendel)``)."""
    return resolver_of(request)


def _dependency() -> Any:
    """``Annotated[RequestResolver, Depends(get_mendel)]`` when FastAPI is installed."""
    try:
        from fastapi import Depends
    except ImportError:  # Starlette without FastAPI: the annotation is only the resolver type
        return RequestResolver
    return Annotated[RequestResolver, Depends(_fastapi_dependency())]


def _fastapi_dependency() -> Callable[..., RequestResolver]:
    from starlette.requests import Request

    def mendel(request: Request) -> RequestResolver:
        return resolver_of(request)

    mendel.__annotations__ = {"request": Request, "return": RequestResolver}  # (resolved, not strings)
    return mendel


MendelResolver: Any = _dependency()
"""``mendel: MendelResolver`` in a FastAPI endpoint's signature: the request's resolver."""

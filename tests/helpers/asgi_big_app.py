"""A minimal Starlette app over any Mendel project under `MendelASGIMiddleware`, for uvicorn tests
at real size: `/?v=a,b` answers the `main` bundle URL of those variations (walks, never packs),
`/page` a small page that builds a warm bundle URL. BIG_MENDEL_BASEDIR names the project,
BIG_STORE_DIR (optional) the bundle store."""
from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from mendel_py.asgi import MendelASGIMiddleware, resolver_of


def index(request: Request) -> PlainTextResponse:
    mendel = resolver_of(request)
    mendel.set_variations([name for name in request.query_params.get("v", "").split(",") if name])
    return PlainTextResponse(mendel.bundle_url("main"))


async def page(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"<p>{resolver_of(request).bundle_url('main')}</p>")


app = MendelASGIMiddleware(
    Starlette(routes=[Route("/", index), Route("/page", page)]),
    os.environ["BIG_MENDEL_BASEDIR"],
    store_dir=os.environ.get("BIG_STORE_DIR") or None,
    reload_interval=None,
)

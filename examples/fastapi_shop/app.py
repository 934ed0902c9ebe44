"""The example shop as a FastAPI app: the Flask shop's sources, templates, root `.mendelrc`,
cookie, variations, experiments and QA page, served over ASGI.

    uvicorn --app-dir examples fastapi_shop.app:app --host 127.0.0.1 --port 8000   # from the repository root

`app` is the FastAPI app wrapped in `MendelASGIMiddleware`: the trees load in lifespan start-up,
bundle URLs are answered before FastAPI routes anything, and every page request has its resolver
in ``request.state.mendel`` (here through the `MendelResolver` dependency). Like the Flask shop it
is a demo whose picker lets visitors choose their variations (visitor_choice); a real site leaves
that off. SHOP_SECRET_KEY sets the secret (else a random one per start-up, and per worker
process: with `--workers N` set it, so QA links and sticky assignments hold on every worker),
SHOP_MENDEL_BASEDIR another built copy of the project.
"""
from __future__ import annotations

import os
import secrets
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment

from mendel_py.asgi import MendelASGIMiddleware, MendelResolver, mendel_templates
from shop.app import COOKIE_MAX_AGE, COOKIE_NAME, HERE as SHOP_DIR, LAYERS, PRODUCTS, chosen_variations

shop = FastAPI(title="Mendel shop", docs_url=None, redoc_url=None, openapi_url=None)
# the shop's templates live in the variation folders: the Mendel loader picks them per request
templates = Jinja2Templates(env=Environment(autoescape=True))


@shop.get("/", response_class=HTMLResponse, name="index")
def show_products(request: Request, mendel: MendelResolver) -> HTMLResponse:
    # no cache headers here: the middleware marks every page that used Mendel private, Vary: Cookie
    return templates.TemplateResponse(request, "index.html", {
        "products": PRODUCTS,
        "active": mendel.variations[:-1],
        "layers": LAYERS,
        "assignments": mendel.assignments,
        "decided_by": mendel.decided_by,
        "visitor_choice": True,
    })


@shop.post("/variations", name="choose_variations")
async def choose_variations(request: Request) -> RedirectResponse:
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    response = RedirectResponse(request.url_for("index"), status_code=303)
    chosen = chosen_variations(form)
    if chosen:
        response.set_cookie(COOKIE_NAME, ",".join(chosen), max_age=COOKIE_MAX_AGE, samesite="lax", httponly=True)
    else:
        response.delete_cookie(COOKIE_NAME, samesite="lax", httponly=True)
    return response


app = MendelASGIMiddleware(
    shop,
    os.environ.get("SHOP_MENDEL_BASEDIR") or SHOP_DIR,
    cookie_name=COOKIE_NAME,
    qa_layers=LAYERS,
    visitor_choice=True,  # a demo: the picker chooses (never on a real site)
    secret_key=os.environ.get("SHOP_SECRET_KEY") or secrets.token_hex(32),
)
mendel_templates(templates, trees=lambda: app.core.trees)

"""The example shop: a Flask app whose page, script and stylesheet follow Mendel variations.

This is a demo: its picker lets a visitor choose their own variations, so it turns on the
visitor-choice opt-in (`MENDEL_VISITOR_CHOICE = True`) and says so on the page. A real site leaves
that off: its visitors get what the `.mendelrc` experiments assign, and only a signed QA link
picks variations. Here a visitor's variations come from the `mendel_variations` cookie, which the
form at the bottom of the page sets (no exposure is recorded then); without the cookie, the
experiments assign them. Variations are grouped in layers; a visitor is in at most one variation
per layer.

Run it with the Flask development server (after `mendel build` wrote the manifests):

    flask --app examples/shop/app.py run

or under gunicorn with `examples/gunicorn.conf.py`.
"""
from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, make_response, redirect, render_template, request, url_for

from mendel_py.integrations.flask import Mendel, mendel

HERE = os.path.dirname(os.path.abspath(__file__))
COOKIE_NAME = "mendel_variations"
COOKIE_MAX_AGE = 30 * 24 * 3600

# Variations of one layer change the same thing, so a visitor gets at most one of them.
LAYERS: dict[str, tuple[str, ...]] = {
    "look": ("bucket_A", "bucket_B", "bucket_D"),
    "features": ("feature_C",),
}

PRODUCTS = (
    {"id": "p1", "name": "Coffee beans", "price": "$12.00"},
    {"id": "p2", "name": "Pour-over kettle", "price": "$39.00"},
    {"id": "p3", "name": "Ceramic dripper", "price": "$21.50"},
)

mendel_extension = Mendel()


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the shop app; `config` overrides the defaults (e.g. MENDEL_URL_PREFIX for a CDN)."""
    app = Flask(__name__)
    # SECRET_KEY signs QA links (`mendel qa-link --secret ...`) and sticky assignments: set
    # SHOP_SECRET_KEY; without it a random key per start-up means QA links and sticky records
    # last until the next restart, and nobody can guess one
    app.config.from_mapping(
        MENDEL_BASEDIR=HERE,
        MENDEL_COOKIE_NAME=COOKIE_NAME,
        MENDEL_QA_LAYERS=LAYERS,
        MENDEL_VISITOR_CHOICE=True,  # a demo: the picker below chooses (never on a real site)
        SECRET_KEY=secrets.token_hex(32),
    )
    app.config.from_prefixed_env("SHOP")
    app.config.from_mapping(config or {})
    mendel_extension.init_app(app)
    app.add_url_rule("/", "index", show_products)
    app.add_url_rule("/variations", "choose_variations", choose_variations, methods=["POST"])
    return app


def active_variations() -> list[str]:
    """The request's variation ids, without the base id."""
    return mendel.variations[:-1]


def show_products() -> Response:
    """The product list, rendered with the templates, script and styles of the visitor's variations."""
    html = render_template(
        "index.html",
        products=PRODUCTS,
        active=active_variations(),
        layers=LAYERS,
        assignments=mendel.assignments,
        decided_by=mendel.decided_by,
        visitor_choice=app_visitor_choice(),
    )
    # no cache headers here: the extension marks every page that used Mendel private, Vary: Cookie
    return make_response(html)


def app_visitor_choice() -> bool:
    """Whether this app lets the picker choose (the demo's opt-in)."""
    from flask import current_app

    return bool(current_app.config.get("MENDEL_VISITOR_CHOICE"))


def chosen_variations(form: Mapping[str, str]) -> list[str]:
    """One valid choice per layer from the submitted form; unknown values are ignored."""
    return [form[layer] for layer, choices in LAYERS.items() if form.get(layer) in choices]


def choose_variations() -> Response:
    """Store the picked variations in the cookie and go back to the shop."""
    response = redirect(url_for("index"), code=303)
    chosen = chosen_variations(request.form)
    if chosen:
        response.set_cookie(
            COOKIE_NAME, ",".join(chosen), max_age=COOKIE_MAX_AGE, samesite="Lax", httponly=True
        )
    else:
        response.delete_cookie(COOKIE_NAME, samesite="Lax", httponly=True)
    return response

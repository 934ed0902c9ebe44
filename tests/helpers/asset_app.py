"""A minimal Flask page over any Mendel project with a `style` (CSS) and a `main` (JS) bundle, for
the asset tests under gunicorn, nginx and Chromium: `/?v=a,b` renders a page in those variations
with a `.hero` element (the stylesheet paints it) and a `#root` and `#proot` the script renders
into.
Settings come from `BIG_`-prefixed variables (`BIG_MENDEL_BASEDIR`, ...), as in big_app."""
from __future__ import annotations

from flask import Flask, request

from mendel_py.integrations.flask import Mendel, mendel

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,">{style}<style>body {{ margin: 0 }}</style></head>
<body><div class="hero"></div><div id="root"></div><div id="proot"></div>{script}</body></html>
"""


def create_app() -> Flask:
    app = Flask(__name__)
    app.config.from_prefixed_env("BIG")
    Mendel(app)

    @app.route("/")
    def index() -> str:
        mendel.set_variations([name for name in request.args.get("v", "").split(",") if name])
        return PAGE.format(style=mendel.stylesheet_tag("style"), script=mendel.script_tag("main"))

    return app

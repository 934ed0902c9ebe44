"""A Flask app whose page server-renders bundle `main` of the project in SSR_BASEDIR (a
`ssr_project` project) for the variations in the `v` cookie, props from SSR_PROPS_FILE (JSON).

Served by gunicorn in the e2e tests (`ssr_app:create_app()`), and by werkzeug for Chromium. The
page marks the server's `<h1>` before the bundle runs, so a test can tell that hydration kept the
server's nodes rather than replacing them.
"""
from __future__ import annotations

import json
import os
from typing import Any

from flask import Flask, render_template_string

from mendel_py.integrations.flask import Mendel

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>ssr</title><link rel="icon" href="data:,"></head>
<body>{{ mendel_render("main", props) }}
<script>var h = document.querySelector('h1'); if (h) { h.__fromServer = true; }</script>
{{ mendel_script("main") }}</body></html>"""


def create_app(basedir: str | None = None, props: Any = None) -> Flask:
    app = Flask(__name__)
    app.config.update(
        MENDEL_BASEDIR=basedir or os.environ["SSR_BASEDIR"],
        MENDEL_VISITOR_CHOICE=True,
        MENDEL_COOKIE_NAME="v",
        MENDEL_STATUS_ROUTE="/status",
        SECRET_KEY="ssr-test",
    )
    Mendel(app)
    if props is None:
        with open(os.environ["SSR_PROPS_FILE"], encoding="utf-8") as handle:
            props = json.load(handle)

    @app.route("/")
    def page() -> str:
        return render_template_string(PAGE, props=props)

    return app

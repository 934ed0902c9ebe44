"""A minimal Flask app over any Mendel project, for gunicorn tests at real size (the 2,000-module
synthetic project of benchmarks/synth.py): `/?v=a,b` answers the `main` bundle URL of those
variations, `/status` the worker's status. Settings come from `BIG_`-prefixed variables
(`BIG_MENDEL_BASEDIR`, `BIG_MENDEL_RELOAD_INTERVAL`, ...)."""
from __future__ import annotations

from flask import Flask, request

from mendel_py.integrations.flask import Mendel, mendel


def create_app() -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(MENDEL_STATUS_ROUTE="/status")
    app.config.from_prefixed_env("BIG")
    Mendel(app)

    @app.route("/")
    def index() -> str:
        mendel.set_variations([name for name in request.args.get("v", "").split(",") if name])
        return mendel.bundle_url("main")

    return app

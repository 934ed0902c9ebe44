"""Django settings of the example shop: the Flask shop's sources, templates, root `.mendelrc`,
cookie, variations, experiments and QA page, served by Django.

    gunicorn -c examples/django_shop/gunicorn.conf.py -b 127.0.0.1:8000    # from the repository root
    python examples/django_shop/manage.py mendel validate                  # the `mendel` commands

Like the Flask shop it is a demo whose picker lets visitors choose their variations
(MENDEL["VISITOR_CHOICE"]); a real site leaves that off. SHOP_SECRET_KEY sets the secret (else a
random one per start-up), SHOP_MENDEL_BASEDIR another built copy of the project.
"""
from __future__ import annotations

import os
import secrets

from shop.app import COOKIE_NAME, HERE as SHOP_DIR, LAYERS

DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
SECRET_KEY = os.environ.get("SHOP_SECRET_KEY") or secrets.token_hex(32)
ROOT_URLCONF = "django_shop.urls"
WSGI_APPLICATION = "django_shop.wsgi.application"
USE_TZ = True
TIME_ZONE = "UTC"

INSTALLED_APPS = ["mendel_py.django"]
# first: bundle URLs are answered before anything else sees them (whitenoise, if used, goes before it)
MIDDLEWARE = ["mendel_py.django.middleware.MendelMiddleware"]

TEMPLATES = [
    {
        # the shop's Jinja templates (in the variation folders), with url_for and the Mendel globals
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [],
        "OPTIONS": {"environment": "django_shop.jinja_env.environment", "autoescape": True},
    },
    {"BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [], "APP_DIRS": True},
]

MENDEL = {
    "BASEDIR": os.environ.get("SHOP_MENDEL_BASEDIR") or SHOP_DIR,
    "COOKIE_NAME": COOKIE_NAME,
    "QA_LAYERS": LAYERS,
    "VISITOR_CHOICE": True,  # a demo: the picker chooses (never on a real site)
}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"mendel_py": {"handlers": ["console"], "level": "WARNING"}},
}

"""Mendel for Django: an app for ``INSTALLED_APPS`` (``"mendel_py.django"``) and a middleware for
``MIDDLEWARE`` (``"mendel_py.django.middleware.MendelMiddleware"``). Install with ``[django]``.

    INSTALLED_APPS = [..., "mendel_py.django"]
    MIDDLEWARE = ["mendel_py.django.middleware.MendelMiddleware", ...]   # first (or after whitenoise)
    MENDEL = {"BASEDIR": BASE_DIR, "COOKIE_NAME": "ab"}   # the MENDEL_* settings without the prefix

- the middleware answers bundle URLs before URL routing (so DEBUG=False and whitenoise in front
  both work) with the WSGI core's decision, puts the request's resolver in ``request.mendel`` and
  marks a page that used it (``private``, ``Vary: Cookie``) with `django.utils.cache`;
- ``{% load mendel %}{% mendel_script "main" %}{% mendel_stylesheet "css" %}`` in Django templates,
  ``mendel_script(...)`` globals in the Jinja2 backend (``"environment":
  "mendel_py.django.jinja2.environment"``, variation templates included);
- ``manage.py mendel ...`` runs the ``mendel`` commands with the project's settings;
- ``manage.py check`` reports configuration faults (``mendel.E001``...) with the core's messages.

Layer 5 (an adapter, like `integrations`): it imports `serving` and below; its management
command alone imports `cli`, from inside a function. A real package (Django finds an app's
``templatetags`` and ``management`` by its module path).
"""
from __future__ import annotations

default_app_config = "mendel_py.django.apps.MendelConfig"  # (Django < 3.2; later ones find it alone)

"""The shop's Jinja2 environment: Mendel's (globals, variation templates) plus `url_for`, which the
shop's templates call as under Flask and Starlette."""
from __future__ import annotations

from typing import Any

from django.urls import reverse
from jinja2 import Environment

from mendel_py.django.jinja2 import environment as mendel_environment


def environment(**options: Any) -> Environment:
    env = mendel_environment(**options)
    env.globals["url_for"] = lambda name, **kwargs: reverse(name, kwargs=kwargs or None)
    return env

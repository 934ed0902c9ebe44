"""The Jinja2 backend's environment with Mendel: ``TEMPLATES = [{"BACKEND":
"django.template.backends.jinja2.Jinja2", "OPTIONS": {"environment":
"mendel_py.django.jinja2.environment"}}]`` gives templates ``mendel_script``, ``mendel_stylesheet``,
``mendel_bundle_url`` and ``mendel_render``, and (``MENDEL["TEMPLATES"]``, default: when the base folder has a
``templates/`` folder) picks each template from the request's variation folders first."""
from __future__ import annotations

from typing import Any

from jinja2 import Environment

from ..integrations.jinja import current_lookup_chains, use_current_request_functions, use_variation_templates
from .conf import extension_setting, get_core

__all__ = ["environment"]


def environment(**options: Any) -> Environment:
    """A Jinja2 `Environment` with the Mendel functions (and the variation template loader)."""
    env = Environment(**options)
    use_current_request_functions(env, "mendel_script used outside a request the Mendel middleware saw (MIDDLEWARE)")
    enabled = extension_setting("MENDEL_TEMPLATES")
    if enabled is not False:  # (the project loads on the first template, not here: `manage.py check`)
        use_variation_templates(
            env, lambda: get_core().trees, current_lookup_chains, only_with_base_templates=enabled is None
        )
    return env

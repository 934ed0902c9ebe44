"""System checks (``manage.py check``, and before ``runserver``/``migrate``): the Mendel settings
and project load as the middleware would load them, and a fault is an Error with the core's own
message (the one the Flask extension and the ``mendel`` commands print)."""
from __future__ import annotations

from typing import Any

from django.core.checks import Error, Tags, register

from ..errors import MendelError
from .conf import SETTING_NAME, build_core, unknown_keys

TAG = "mendel"


@register(TAG, Tags.compatibility)
def check_mendel(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """mendel.E001 the project can't be loaded (.mendelrc, manifests, options); mendel.E002 an
    unknown key in ``settings.MENDEL``."""
    errors: list[Error] = []
    try:
        unknown = unknown_keys()
    except TypeError as error:
        return [Error(str(error), id="mendel.E002")]
    if unknown:
        errors.append(Error(
            f"unknown key(s) in settings.{SETTING_NAME}: {', '.join(unknown)}",
            hint="the keys are the MENDEL_* settings without the prefix (README, table of settings)",
            id="mendel.E002",
        ))
    try:
        build_core()
    except (MendelError, TypeError, ValueError) as error:
        errors.append(Error(str(error), hint="`manage.py mendel validate` says more", id="mendel.E001"))
    return errors

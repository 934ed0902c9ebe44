"""Django settings -> the core: the ``MENDEL = {...}`` dict read through the one table of settings
(`mendel_py.serving.options.SETTINGS`: ``MENDEL["COOKIE_NAME"]`` is Flask's ``MENDEL_COOKIE_NAME``),
and the process's one core (`MendelMiddleware` of the WSGI layer, used only for its decisions)."""
from __future__ import annotations

import os
import threading
from typing import Any

from django.conf import settings

from ..core.trees import MendelTrees
from ..serving.options import EXTENSION, SETTINGS, serving_options, setting_defaults, tree_settings
from ..serving.wsgi import MendelMiddleware, pass_through_app

__all__ = ["SETTING_NAME", "build_core", "get_core", "mendel_settings", "unknown_keys"]

SETTING_NAME = "MENDEL"
_BY_DJANGO_KEY = {setting.django_key: setting for setting in SETTINGS}
_lock = threading.Lock()
_core: MendelMiddleware | None = None


def unknown_keys() -> list[str]:
    """Keys of ``settings.MENDEL`` that are no setting (a system check reports them)."""
    return sorted(set(_raw()) - set(_BY_DJANGO_KEY))


def _raw() -> dict[str, Any]:
    value = getattr(settings, SETTING_NAME, None) or {}
    if not isinstance(value, dict):
        raise TypeError(f"settings.{SETTING_NAME} must be a dict, not {type(value).__name__}")
    return value


def mendel_settings() -> dict[str, Any]:
    """{MENDEL_* key: value} of every setting: ``settings.MENDEL``'s, else the default. BASEDIR
    defaults to ``settings.BASE_DIR`` (else the working directory); the secret to SECRET_KEY."""
    values = setting_defaults()
    values["MENDEL_BASEDIR"] = getattr(settings, "BASE_DIR", None) or os.getcwd()
    for key, value in _raw().items():
        setting = _BY_DJANGO_KEY.get(key)
        if setting is not None:
            values[setting.key] = value
    return values


def build_core() -> MendelMiddleware:
    """A new core from the settings: the trees load (and are checked) here."""
    values = mendel_settings()
    trees_values = tree_settings(values)
    trees = MendelTrees(os.fspath(trees_values.pop("basedir")), **trees_values)
    options = serving_options(values, secret_key=values["MENDEL_SECRET"] or getattr(settings, "SECRET_KEY", None))
    return MendelMiddleware(pass_through_app, trees, options)


def get_core() -> MendelMiddleware:
    """The process's core, made on first use (the middleware's start-up)."""
    global _core
    if _core is None:
        with _lock:
            if _core is None:
                _core = build_core()
    return _core


def reset_core() -> None:
    """Forget the core: the next middleware made loads a new one (`setting_changed` calls it; a
    middleware already made keeps its core)."""
    global _core
    _core = None


def extension_setting(key: str) -> Any:
    """A framework-own setting (`EXTENSION` target) by its MENDEL_* key."""
    assert any(s.key == key and s.target == EXTENSION for s in SETTINGS)
    return mendel_settings()[key]

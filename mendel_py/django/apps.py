"""The Django app config: registers the system checks (`mendel_py.django.checks`) and forgets the
process's core when the settings it was made from change (`override_settings`)."""
from __future__ import annotations

from django.apps import AppConfig


class MendelConfig(AppConfig):
    name = "mendel_py.django"
    label = "mendel"
    verbose_name = "Mendel variations"

    def ready(self) -> None:
        from django.core.signals import setting_changed

        from . import checks  # noqa: F401  (registers them)
        from .conf import SETTING_NAME, reset_core

        def forget_core(setting: str, **kwargs: object) -> None:
            if setting in (SETTING_NAME, "SECRET_KEY", "BASE_DIR"):  # (override_settings in tests)
                reset_core()

        setting_changed.connect(forget_core, weak=False, dispatch_uid="mendel_py.django.reset_core")

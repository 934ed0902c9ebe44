"""The Django app config: registers the system checks (`mendel_py.django.checks`)."""
from __future__ import annotations

from django.apps import AppConfig


class MendelConfig(AppConfig):
    name = "mendel_py.django"
    label = "mendel"
    verbose_name = "Mendel variations"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers them)

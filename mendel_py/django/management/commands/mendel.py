"""``manage.py mendel ...``: the ``mendel`` commands (`mendel_py.cli`), with the project's
``settings.MENDEL`` as their defaults (``BASEDIR``, ``HASH_FORMAT``, ``HASH_KEY``, ``ENV``)."""
from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Mendel commands (build, validate, resolve, qa-link, ...): `manage.py mendel --help`."

    def run_from_argv(self, argv: list[str]) -> None:
        from ....cli.main import cli  # here: the commands cost ~100 ms to import
        from ...conf import mendel_settings

        prog = f"{os.path.basename(argv[0])} {argv[1]}"
        cli.main(args=argv[2:], prog_name=prog, obj=mendel_settings())

    def handle(self, *args: Any, **options: Any) -> None:  # (call_command: run_from_argv is the entry)
        self.run_from_argv(["manage.py", "mendel", *args])

#!/usr/bin/env python
"""`python examples/django_shop/manage.py check | mendel ... | runserver`."""
import os
import sys

if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[0:1] = [os.path.dirname(here)]  # examples/ (not this folder: its modules are django_shop.*)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_shop.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)

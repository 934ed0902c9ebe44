"""Metadata lives in pyproject.toml; this file only declares the optional C accelerator.

`mendel_py.core._speedups` makes a cold walk several times faster. It is optional: where it can't
be compiled, the install goes on and mendel_py runs the same walk in Python.
"""
from setuptools import Extension, setup

setup(ext_modules=[Extension("mendel_py.core._speedups", ["mendel_py/core/_speedups.c"], optional=True)])

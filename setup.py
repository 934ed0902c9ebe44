"""Metadata lives in pyproject.toml; this file only declares the optional C accelerators.

`mendel_py.core._speedups` makes a cold walk several times faster, and
`mendel_py.compiler.minify._splice` the minifier's per-gap work (a minified `mendel build`). Both
are optional: where one can't be compiled, the install goes on and mendel_py runs the same code in
Python.
"""
from setuptools import Extension, setup

setup(ext_modules=[
    Extension("mendel_py.core._speedups", ["mendel_py/core/_speedups.c"], optional=True),
    Extension("mendel_py.compiler.minify._splice", ["mendel_py/compiler/minify/_splice.c"], optional=True),
])

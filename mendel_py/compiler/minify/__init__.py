"""Minification of a module's built source (layer 3, part of the compiler): `js.minify_js` over
the tree-sitter tree, with edits exact for source maps; `css.minify_css`. `mendel build` runs
it per module, so the manifest holds minified sources and nothing is minified per request."""
from __future__ import annotations

from .css import minify_css
from .js import minify_js

__all__ = ["VERSION", "minify_css", "minify_js"]

VERSION = 2
"""Part of the parse cache's keys of minified entries: bump it with every change to what the
minifiers write (the rest of the key is only the file's bytes)."""

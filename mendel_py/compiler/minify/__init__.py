"""Minification of a module's built source (layer 3, part of the compiler): `js.minify_js` over
the tree-sitter tree, with edits exact for source maps; `css.minify_css`. `mendel build` runs
it per module, so the manifest holds minified sources and nothing is minified per request."""
from __future__ import annotations

from .css import minify_css
from .js import minify_js

__all__ = ["minify_css", "minify_js"]

"""Minify a stylesheet module with rcssmin (a maintained C-accelerated CSS minifier): comments
(but `/*!` ones) and needless whitespace and semicolons go. Stylesheets get no source map, so
no edits are kept."""
from __future__ import annotations

import rcssmin


def minify_css(source: str) -> str:
    return str(rcssmin.cssmin(source, keep_bang_comments=True))

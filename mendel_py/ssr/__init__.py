"""Server-side rendering of a resolved tree in a sandboxed JS engine (layer 4, beside `serving`).

`Renderer(trees, engine=None, memory_limit=None, timeout=None)` renders a visitor's tree of a
bundle with the bundle's server module (`bundles.<id>.ssr` of `.mendelrc`); `RenderError` (with
`.reason` "timeout", "memory" or "error", and the JS stack mapped to the original files) is what a
render that gives no HTML raises. The modules:
- `engines`: the engine seam (`Engine`: load, render, discard) and its QuickJS and V8 contexts,
  with the deadline's watchdog;
- `script`: a tree's server script (the packer's module definitions, the web globals, the
  runtime that keeps no state between renders);
- `contexts`: per-thread contexts, LRU within a process-wide byte budget;
- `stack`: an error's stack mapped through the tree's source map;
- `renderer`: `Renderer`, `RenderError`;
- `page`: the root element and props a page embeds, and the client-rendered fallback.

May import `core`, `packing`, `config`, `errors`, `_runtime` (never `serving`: the per-request
object calls in here).
"""

from __future__ import annotations

from .engines import DEFAULT_ENGINE, ENGINES
from .page import SSR_ERRORS_KEY, page_html, props_script_text
from .renderer import Renderer, RenderError, SsrNotConfigured, existing_renderer, renderer_for

__all__ = [
    "DEFAULT_ENGINE",
    "ENGINES",
    "SSR_ERRORS_KEY",
    "RenderError",
    "Renderer",
    "SsrNotConfigured",
    "existing_renderer",
    "page_html",
    "props_script_text",
    "renderer_for",
]

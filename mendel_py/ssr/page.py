"""What a page embeds for a server-rendered bundle: the root element holding the HTML, then the
props the bundle hydrates it with.

    <div data-mendel-root="main" data-mendel-ssr="">HTML</div>
    <script type="application/json" data-mendel-props="main">PROPS</script>

(with no white space between the two).

On a sandbox fault the page doesn't fail: the root comes empty and without `data-mendel-ssr`, so
the bundle renders it on the client instead of hydrating it (Hypernova's rule); the fault is
logged once per (tree, reason) and counted in the status (`Renderer.status`). The client side
reads it like this (React 19; Preact: `hydrate`/`render`):

    var root = document.querySelector('[data-mendel-root="main"]');
    var props = JSON.parse(document.querySelector('[data-mendel-props="main"]').textContent);
    if (root.hasAttribute('data-mendel-ssr')) hydrateRoot(root, <App {...props} />);
    else createRoot(root).render(<App {...props} />);

The props are JSON with `<`, `>`, `&`, U+2028 and U+2029 escaped, so no text of theirs can end the
script element or read as markup.
"""
from __future__ import annotations

from typing import Any

from markupsafe import escape

from ..core.trees import Tree
from .renderer import Renderer, RenderError, props_to_json

_SCRIPT_SAFE = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026", 0x2028: "\\u2028", 0x2029: "\\u2029"}


def props_script_text(props: Any, props_text: str | None = None) -> str:
    """`props` (or their JSON, `props_text`) as JSON that is safe as the text of a script element."""
    return (props_to_json(props) if props_text is None else props_text).translate(_SCRIPT_SAFE)


SSR_ERRORS_KEY = "mendel.ssr_errors"
"""The WSGI environ key under which a development page lists its render errors (for the overlay)."""


def page_html(
    renderer: Renderer, bundle: str, tree: Tree, props: Any, root_id: str | None = None,
    errors: list[RenderError] | None = None,
) -> str:
    """The root element with `tree`'s server HTML and the props script (see the module's text);
    the client-rendered container instead when the sandbox faults (the error appended to
    `errors` when given)."""
    name = escape(root_id or bundle)
    text = props_to_json(props)  # once, for the render and for the page
    try:
        html = renderer.render_tree(bundle, tree, props, text)
        opening = f'<div data-mendel-root="{name}" data-mendel-ssr="">'
    except RenderError as error:
        renderer.log_fault_once(error)
        if errors is not None:
            errors.append(error)
        html, opening = "", f'<div data-mendel-root="{name}">'
    props_tag = f'<script type="application/json" data-mendel-props="{name}">{props_script_text(props, text)}</script>'
    return f"{opening}{html}</div>{props_tag}"

"""The HTML and HTTP a page uses to load its bundles: script/link tags, Subresource Integrity,
and `Link` preload headers.

Integrity is sha384 of the bundle's identity bytes (what the browser checks after undoing any
content coding), written as the `integrity` attribute; `crossorigin="anonymous"` goes with it when
bundles come from another origin (a CDN `url_prefix`), since a browser checks integrity of a
cross-origin script only in CORS mode. A preload must ask in the same mode, or the browser
fetches twice.
"""
from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import Any

from markupsafe import escape
from werkzeug.http import dump_options_header

from ..packing.body import Body

INTEGRITY_ALGORITHM = "sha384"
CROSS_ORIGIN = "anonymous"
PRELOAD_RELS = ("preload", "modulepreload")


def integrity_of(body: bytes | Body) -> str:
    """The `integrity` value of `body`: ``sha384-<base64 digest>``."""
    hasher = hashlib.new(INTEGRITY_ALGORITHM)
    for part in Body.wrap(body).parts:
        hasher.update(part)
    digest = hasher.digest()
    return f"{INTEGRITY_ALGORITHM}-{base64.b64encode(digest).decode('ascii')}"


def check_preload_rel(rel: str | None) -> str | None:
    """`rel` if it is a preload relation we write (or None, for none); ValueError otherwise."""
    if rel is not None and rel not in PRELOAD_RELS:
        raise ValueError(f"preload must be one of {', '.join(PRELOAD_RELS)} or None, not {rel!r}")
    return rel


def html_attributes(attributes: Mapping[str, Any]) -> str:
    """` name="value"` pairs; True gives a bare attribute, False/None leaves it out."""
    parts = []
    for name, value in attributes.items():
        name = name.rstrip("_").replace("_", "-")
        if value is True:
            parts.append(f" {escape(name)}")
        elif value not in (False, None):
            parts.append(f' {escape(name)}="{escape(value)}"')
    return "".join(parts)


def script_tag(url: str, attributes: Mapping[str, Any]) -> str:
    """`<script src="url" ...></script>` (escaped)."""
    return f'<script src="{escape(url)}"{html_attributes(attributes)}></script>'


def stylesheet_tag(url: str, attributes: Mapping[str, Any]) -> str:
    """`<link rel="stylesheet" href="url" ...>` (escaped)."""
    return f'<link rel="stylesheet" href="{escape(url)}"{html_attributes(attributes)}>'


def preload_link(url: str, *, is_css: bool, rel: str, integrity: str | None, crossorigin: str | None) -> str:
    """One `Link` header value: ``<url>; rel=preload; as=script`` (+ crossorigin, integrity).

    A stylesheet is always ``rel=preload; as=style``: `modulepreload` is for module scripts only.
    """
    options: dict[str, str] = (
        {"rel": "preload", "as": "style"} if is_css
        else {"rel": rel} if rel == "modulepreload"
        else {"rel": "preload", "as": "script"}
    )
    if crossorigin:
        options["crossorigin"] = crossorigin
    if integrity:
        options["integrity"] = integrity
    return dump_options_header(f"<{url}>", options)

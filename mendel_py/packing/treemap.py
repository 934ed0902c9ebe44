"""A squarified treemap (Bruls, Huizing and van Wijk, 2000) of a tree's modules by size, as SVG.

Each module is a rectangle whose area is its share of the bundle's bytes, coloured by the folder
its version comes from (the base folder grey, each variation folder its own hue, packages from
`node_modules` blue-grey), labelled with its id when the label fits, and with a `<title>` (id,
folder, bytes) a browser shows on hover. Used by `mendel inspect --treemap` and the QA page; it
names source files, so it is an offline or QA-gated picture, never served to visitors.
"""
from __future__ import annotations

import colorsys
import hashlib
from collections.abc import Sequence
from html import escape

from .sizes import ModuleSize, format_bytes

WIDTH, HEIGHT = 960, 600
_BASE_FILL = "#b9bec7"
_PACKAGE_FILL = "#9fb3c8"

Rect = tuple[float, float, float, float]  # x, y, width, height


def squarify(sizes: Sequence[float], box: Rect) -> list[Rect]:
    """Rectangles for `sizes` (largest first, all > 0) filling `box`, in the same order."""
    total = sum(sizes)
    x, y, width, height = box
    if not sizes or total <= 0:
        return []
    scale = width * height / total
    areas = [size * scale for size in sizes]
    out: list[Rect] = []
    row: list[float] = []
    index = 0
    while index < len(areas):
        side = min(width, height)
        candidate = [*row, areas[index]]
        if not row or _worst(candidate, side) <= _worst(row, side):
            row = candidate
            index += 1
            continue
        x, y, width, height = _lay_row(row, (x, y, width, height), out)
        row = []
    if row:
        _lay_row(row, (x, y, width, height), out)
    return out


def _worst(row: list[float], side: float) -> float:
    total = sum(row)
    if total <= 0 or side <= 0:
        return float("inf")
    return max(max(side * side * area / (total * total), total * total / (side * side * area)) for area in row)


def _lay_row(row: list[float], box: Rect, out: list[Rect]) -> Rect:
    """Lay `row` along the shorter side of `box`; the box that remains."""
    x, y, width, height = box
    total = sum(row)
    if width >= height:  # a column at the left
        column = total / height if height else 0
        offset = y
        for area in row:
            tall = area / column if column else 0
            out.append((x, offset, column, tall))
            offset += tall
        return x + column, y, width - column, height
    strip = total / width if width else 0
    offset = x
    for area in row:
        wide = area / strip if strip else 0
        out.append((offset, y, wide, strip))
        offset += wide
    return x, y + strip, width, height - strip


def folder_fill(folder: str, module_id: str, base: str) -> str:
    if "node_modules/" in module_id or module_id.startswith("node_modules"):
        return _PACKAGE_FILL
    if folder == base:
        return _BASE_FILL
    hue = int.from_bytes(hashlib.blake2b(folder.encode(), digest_size=2).digest(), "big") / 65536
    red, green, blue = colorsys.hls_to_rgb(hue, 0.62, 0.55)
    return f"#{int(red * 255):02x}{int(green * 255):02x}{int(blue * 255):02x}"


def treemap_svg(modules: Sequence[ModuleSize], title: str, base_folder: str) -> str:
    """The SVG document of `modules` (any order) under a one-line `title`."""
    shown = sorted((module for module in modules if module.bytes > 0), key=lambda m: (-m.bytes, m.id))
    total = sum(module.bytes for module in shown)
    top = 28
    rects = squarify([module.bytes for module in shown], (0, top, WIDTH, HEIGHT - top))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11">',
        f'<text x="6" y="18" font-size="14">{escape(title)} ({len(shown)} modules, {format_bytes(total)})</text>',
    ]
    for module, (x, y, width, height) in zip(shown, rects, strict=True):
        fill = folder_fill(module.folder, module.id, base_folder)
        label = f"{module.id} ({module.folder}) {format_bytes(module.bytes)}"
        parts.append(
            f'<g><title>{escape(label)}</title><rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" '
            f'height="{height:.1f}" fill="{fill}" stroke="#fff"/>'
        )
        if width > 60 and height > 14:
            text = module.id if len(module.id) * 6 < width - 6 else "…" + module.id[-max(int((width - 12) / 6), 1):]
            parts.append(f'<text x="{x + 3:.1f}" y="{y + 12:.1f}">{escape(text)}</text>')
            if height > 28:
                parts.append(f'<text x="{x + 3:.1f}" y="{y + 25:.1f}" fill="#333">{format_bytes(module.bytes)}</text>')
        parts.append("</g>")
    parts.append("</svg>\n")
    return "\n".join(parts)

"""The variation matrix: which modules each variation overrides, as data and as an SVG picture.

Rows are the configured variations (priority order), columns the modules that at least one
variation overrides, grouped by bundle. A cell is "own" when the variation's own folder has the
module, "inherited" when a folder it inherits from has it. The SVG is drawn on the server (no
script, no external styles) with a `<title>` on every cell, so hovering or a screen reader names
the variation, the module and where its file comes from.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from markupsafe import escape

if TYPE_CHECKING:
    from ..config.model import Variation
    from ..core.trees import MendelTrees

OWN = "own"
INHERITED = "inherited"

CELL = 18
GAP = 2
CHAR_WIDTH = 7.2
PAD = 8
GROUP_GAP = 10
FILL = {OWN: "#1a5fb4", INHERITED: "#99c1f1"}
EMPTY_FILL = "#f0f0f0"


@dataclass(frozen=True)
class Column:
    """One overridden module of one bundle."""

    bundle: str
    module: str


@dataclass(frozen=True)
class Matrix:
    """`cells[row][column]` is OWN, INHERITED or None; `sources[row][column]` the folder."""

    variations: tuple[str, ...]
    columns: tuple[Column, ...]
    cells: tuple[tuple[str | None, ...], ...]
    sources: tuple[tuple[str | None, ...], ...]

    def overrides(self, variation: str) -> list[Column]:
        """The columns `variation` overrides (own or inherited)."""
        row = self.variations.index(variation)
        return [column for column, cell in zip(self.columns, self.cells[row]) if cell]


def variation_matrix(trees: MendelTrees) -> Matrix:
    """The matrix of every configured variation against every overridden module."""
    base = trees.config.base_dir
    variations = trees.variations
    columns: list[Column] = []
    folder_sets: list[frozenset[str]] = []
    for bundle in trees.bundles:
        for module in sorted(trees.manifest(bundle).modules, key=lambda m: m.id):
            folders = frozenset(module.folders) - {base}
            if folders and any(_cell(v, folders)[0] for v in variations):
                columns.append(Column(bundle, module.id))
                folder_sets.append(folders)
    rows = [[_cell(v, folders) for folders in folder_sets] for v in variations]
    return Matrix(
        variations=tuple(v.id for v in variations),
        columns=tuple(columns),
        cells=tuple(tuple(state for state, _ in row) for row in rows),
        sources=tuple(tuple(folder for _, folder in row) for row in rows),
    )


def _cell(variation: Variation, folders: frozenset[str]) -> tuple[str | None, str | None]:
    """(state, folder): the first folder of the variation's chain (base excluded) that has it."""
    chain = variation.chain[:-1]
    for position, folder in enumerate(chain):
        if folder in folders:
            return (OWN if position == 0 else INHERITED), folder
    return None, None


def render_svg(matrix: Matrix, title: str = "Modules overridden by each variation") -> str:
    """The matrix as a standalone, accessible SVG element (role="img", title and description)."""
    label_width = PAD + CHAR_WIDTH * max((len(v) for v in matrix.variations), default=4)
    header = PAD + CHAR_WIDTH * max((len(c.module) for c in matrix.columns), default=4)
    xs = _column_positions(matrix.columns, label_width)
    width = (xs[-1] + CELL if xs else label_width) + PAD
    height = header + len(matrix.variations) * (CELL + GAP) + PAD
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="matrix-title matrix-desc" '
        f'width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'font-family="sans-serif" font-size="12">',
        f'<title id="matrix-title">{escape(title)}</title>',
        f'<desc id="matrix-desc">{escape(_description(matrix))}</desc>',
        '<rect width="100%" height="100%" fill="#ffffff"/>',
    ]
    parts.extend(_column_labels(matrix.columns, xs, header))
    for row, variation in enumerate(matrix.variations):
        y = header + row * (CELL + GAP)
        parts.append(
            f'<text x="{label_width - PAD / 2:.1f}" y="{y + CELL - 5}" text-anchor="end" '
            f'fill="#000000">{escape(variation)}</text>'
        )
        for column, x in enumerate(xs):
            parts.append(_cell_svg(matrix, row, column, x, y))
    parts.append("</svg>")
    return "\n".join(parts)


def _column_positions(columns: Sequence[Column], left: float) -> list[float]:
    """x of each column; a gap between bundles."""
    xs: list[float] = []
    x = left
    for position, column in enumerate(columns):
        if position and column.bundle != columns[position - 1].bundle:
            x += GROUP_GAP
        xs.append(x)
        x += CELL + GAP
    return xs


def _column_labels(columns: Sequence[Column], xs: Sequence[float], header: float) -> list[str]:
    labels = []
    for column, x in zip(columns, xs):
        cx, cy = x + CELL / 2 + 4, header - 4
        labels.append(
            f'<text transform="translate({cx:.1f},{cy:.1f}) rotate(-90)" fill="#000000">'
            f"<title>{escape(column.bundle)}: {escape(column.module)}</title>{escape(column.module)}</text>"
        )
    return labels


def _cell_svg(matrix: Matrix, row: int, column: int, x: float, y: float) -> str:
    state = matrix.cells[row][column]
    module = matrix.columns[column]
    variation = matrix.variations[row]
    if state is None:
        note = "not overridden"
    else:
        note = f"{state} override from {matrix.sources[row][column]}"
    fill = FILL[state] if state else EMPTY_FILL
    return (
        f'<rect x="{x:.1f}" y="{y}" width="{CELL}" height="{CELL}" fill="{fill}" '
        f'data-state="{state or "none"}"><title>{escape(variation)} / {escape(module.bundle)}: '
        f"{escape(module.module)}: {escape(note)}</title></rect>"
    )


def _description(matrix: Matrix) -> str:
    lines = []
    for variation in matrix.variations:
        found = matrix.overrides(variation)
        names = ", ".join(f"{c.bundle}: {c.module}" for c in found) or "nothing"
        lines.append(f"{variation} overrides {names}.")
    return " ".join(lines) or "No variations are configured."

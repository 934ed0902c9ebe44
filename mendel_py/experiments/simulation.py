"""`mendel simulate`: assign many synthetic units and check the split is what the config says.

For each experiment: the share of units in each variation against its expected share (the layer
range's width x coverage x weight), with a chi-square goodness-of-fit p-value; for each pair of
layers: a chi-square test of independence between where the two layers put the same units (a
small p-value would mean the layers are correlated, which GrowthBook-style namespaces prevent).
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from itertools import combinations
from typing import Any

from .assignment import Experiments

OUT = -1  # "not in the experiment"


def simulate(experiments: Experiments, units: int, prefix: str = "unit-") -> dict[str, Any]:
    """Assign `units` ids (`unit-0` ...) and report the split per experiment and per layer pair."""
    by_experiment: dict[str, Counter[int]] = {e.key: Counter() for e in experiments.experiments}
    layer_cells: dict[str, list[str]] = {layer: [] for layer in experiments.layers}
    for i in range(units):
        got = {a.experiment: a for a in experiments.assign(f"{prefix}{i}")}
        seen_layers: dict[str, str] = {}
        for e in experiments.experiments:
            found = got.get(e.key)
            by_experiment[e.key][found.index if found else OUT] += 1
            if found:
                seen_layers[e.layer] = f"{e.key}:{found.index}"
        for layer in experiments.layers:
            layer_cells[layer].append(seen_layers.get(layer, "-"))
    report: dict[str, Any] = {"units": units, "experiments": [], "layer_pairs": []}
    for e in experiments.experiments:
        counts = by_experiment[e.key]
        width = e.range[1] - e.range[0]
        expected = {i: (width * e.coverage * w if e.status == "running" else 0.0) for i, w in enumerate(e.weights)}
        if e.status == "stopped":
            expected[e.winner or 0] = width
        expected[OUT] = max(0.0, 1 - sum(expected.values()))
        expected = {i: (0.0 if share < 1e-12 else share) for i, share in expected.items()}
        rows = [
            {
                "variation": (e.variations[i] or "control") if i != OUT else "(not in)",
                "units": counts[i],
                "share": counts[i] / units,
                "expected": expected[i],
            }
            for i in [*range(len(e.variations)), OUT]
        ]
        report["experiments"].append({
            "experiment": e.key, "layer": e.layer, "status": e.status, "rows": rows,
            "p_value": goodness_of_fit([counts[i] for i in expected], [expected[i] * units for i in expected]),
        })
    for a, b in combinations(experiments.layers, 2):
        report["layer_pairs"].append({"layers": [a, b], "p_value": independence(layer_cells[a], layer_cells[b])})
    return report


def goodness_of_fit(observed: Sequence[int], expected: Sequence[float]) -> float | None:
    """p-value of Pearson's chi-square test of `observed` counts against `expected` ones."""
    cells = [(o, e) for o, e in zip(observed, expected) if e > 0]
    if len(cells) < 2:
        return None
    statistic = sum((o - e) ** 2 / e for o, e in cells)
    return chi_square_sf(statistic, len(cells) - 1)


def independence(first: Sequence[str], second: Sequence[str]) -> float | None:
    """p-value of the chi-square test of independence of two paired categorical samples."""
    rows, cols = Counter(first), Counter(second)
    if len(rows) < 2 or len(cols) < 2:
        return None
    total = len(first)
    table = Counter(zip(first, second))
    statistic = sum(
        (table[(r, c)] - rows[r] * cols[c] / total) ** 2 / (rows[r] * cols[c] / total) for r in rows for c in cols
    )
    return chi_square_sf(statistic, (len(rows) - 1) * (len(cols) - 1))


def chi_square_sf(statistic: float, dof: int) -> float:
    """P(X >= statistic) for X ~ chi-square with `dof` degrees of freedom."""
    return _upper_regularized_gamma(dof / 2, statistic / 2)


def _upper_regularized_gamma(a: float, x: float) -> float:
    """Q(a, x): a series below a + 1, a continued fraction (Lentz) above."""
    if x <= 0:
        return 1.0
    log_prefix = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1:
        term = total = 1 / a
        n = a
        for _ in range(10000):
            n += 1
            term *= x / n
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return max(0.0, 1 - total * math.exp(log_prefix))
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 10000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return min(1.0, math.exp(log_prefix) * h)

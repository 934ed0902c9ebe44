"""The `experiments` section of `.mendelrc`: each experiment's definition (`Experiment`) and its
checks (`parse_experiments`), with errors naming the file and the dotted key. What a unit gets is
`mendel_py.experiments` (assignment by layer, GrowthBook's bucketing), which builds on these."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError

__all__ = ["CONTROL", "STATUSES", "Experiment", "parse_experiments"]

CONTROL = "control"
STATUSES = ("running", "stopped", "off")
_KEY = re.compile(r"[A-Za-z0-9_-]+")
_FIELDS = (
    "layer", "range", "variations", "weights", "coverage", "seed", "hash-version", "status",
    "winner", "bucket-version", "bots",
)


@dataclass(frozen=True)
class Experiment:
    key: str
    layer: str
    range: tuple[float, float]
    variations: tuple[str | None, ...]
    """Variation ids in bucket order; None is the control (no variation)."""
    weights: tuple[float, ...]
    coverage: float
    seed: str
    hash_version: int
    status: str
    winner: int | None
    """Index of the winning variation of a stopped experiment."""
    bucket_version: int
    bots: int = 0
    """Index of the arm bots get (control unless `bots:` names another; a stopped one's winner)."""



def parse_experiments(
    raw: Any, variation_ids: Sequence[str], source: str, key: str = "experiments"
) -> tuple[Experiment, ...]:
    """Validate the `experiments` section; errors name the file and the dotted key."""
    if raw is None:
        return ()

    def error(where: str, message: str) -> ConfigError:
        return ConfigError(message, source, where)

    if not isinstance(raw, Mapping):
        raise error(key, "expected a mapping of experiment keys to experiments")
    parsed = [_experiment(str(name), spec, set(variation_ids), f"{key}.{name}", error) for name, spec in raw.items()]
    return _with_layer_ranges(parsed, key, error)


def _experiment(name: str, spec: Any, known: set[str], where: str, error: Any) -> dict[str, Any]:
    if not _KEY.fullmatch(name):
        raise error(where, "an experiment key is letters, digits, '-' and '_'")
    if not isinstance(spec, Mapping):
        raise error(where, "expected a mapping")
    for field in spec:
        if field not in _FIELDS:
            raise error(f"{where}.{field}", f"unknown key (expected one of: {', '.join(_FIELDS)})")
    variations = _variations(spec.get("variations"), known, f"{where}.variations", error)
    weights = _weights(spec.get("weights"), len(variations), f"{where}.weights", error)
    status = spec.get("status", "running")
    if status not in STATUSES:
        raise error(f"{where}.status", f"expected one of {', '.join(STATUSES)}, got {status!r}")
    winner = spec.get("winner")
    if status == "stopped":
        labels = [v or CONTROL for v in variations]
        if winner not in labels:
            raise error(f"{where}.winner", f"a stopped experiment names its winner, one of {labels}")
        winner = labels.index(winner)
    elif winner is not None:
        raise error(f"{where}.winner", "only a stopped experiment has a winner")
    layer = spec.get("layer", name)
    if not isinstance(layer, str) or not _KEY.fullmatch(layer):
        raise error(f"{where}.layer", "a layer id is letters, digits, '-' and '_'")
    hash_version = spec.get("hash-version", 1)
    if hash_version not in (1, 2):
        raise error(f"{where}.hash-version", f"expected 1 or 2, got {hash_version!r}")
    seed = spec.get("seed", name)
    if not isinstance(seed, str):
        raise error(f"{where}.seed", "expected a string")
    bucket_version = spec.get("bucket-version", 0)
    if isinstance(bucket_version, bool) or not isinstance(bucket_version, int) or bucket_version < 0:
        raise error(f"{where}.bucket-version", "expected a whole number >= 0")
    labels = [v or CONTROL for v in variations]
    bots = spec.get("bots", CONTROL)
    if bots not in labels:
        raise error(f"{where}.bots", f"the arm bots get is one of {labels}, got {bots!r}")
    return {
        "key": name, "layer": layer, "range": _range(spec.get("range"), f"{where}.range", error),
        "variations": variations, "weights": weights,
        "coverage": _share(spec.get("coverage", 1.0), f"{where}.coverage", error),
        "seed": seed, "hash_version": hash_version, "status": status, "winner": winner,
        "bucket_version": bucket_version, "bots": labels.index(bots), "where": where,
    }


def _variations(value: Any, known: set[str], where: str, error: Any) -> tuple[str | None, ...]:
    if not isinstance(value, list) or len(value) < 2:
        raise error(where, "expected a list of at least two variation ids (control for none)")
    chosen: list[str | None] = []
    for item in value:
        if item in (None, CONTROL):
            chosen.append(None)
        elif isinstance(item, str) and item in known:
            chosen.append(item)
        else:
            close = difflib.get_close_matches(str(item), [*sorted(known), CONTROL], n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            known_list = ", ".join(sorted(known))
            raise error(where, f"{item!r} is not a configured variation{hint} (known: {known_list}, control)")
    if len(set(chosen)) != len(chosen):
        raise error(where, "a variation is listed twice")
    return tuple(chosen)


def _weights(value: Any, count: int, where: str, error: Any) -> tuple[float, ...]:
    if value is None:
        return (1 / count,) * count  # equal weights, as `experiments.assign.equal_weights`
    if not isinstance(value, list) or not all(_is_number(w) and w >= 0 for w in value):
        raise error(where, "expected a list of non-negative numbers")
    if len(value) != count:
        raise error(where, f"{len(value)} weights for {count} variations")
    if not math.isclose(sum(value), 1.0, abs_tol=0.001):
        raise error(where, f"weights add up to {sum(value):g}, not 1")
    return tuple(float(w) for w in value)


def _range(value: Any, where: str, error: Any) -> tuple[float, float] | None:
    if value is None:
        return None
    if not (isinstance(value, list) and len(value) == 2 and all(_is_number(v) for v in value)):
        raise error(where, "expected [start, end], shares of the layer between 0 and 1")
    start, end = float(value[0]), float(value[1])
    if not 0 <= start < end <= 1:
        raise error(where, f"expected 0 <= start < end <= 1, got [{start:g}, {end:g}]")
    return start, end


def _share(value: Any, where: str, error: Any) -> float:
    if not _is_number(value) or not 0 <= value <= 1:
        raise error(where, f"expected a number between 0 and 1, got {value!r}")
    return float(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _with_layer_ranges(parsed: list[dict[str, Any]], key: str, error: Any) -> tuple[Experiment, ...]:
    """Experiments without a `range` split what their layer's explicit ranges leave, equally and
    in config order; ranges in one layer must not overlap."""
    by_layer: dict[str, list[dict[str, Any]]] = {}
    for spec in parsed:
        by_layer.setdefault(spec["layer"], []).append(spec)
    for layer, specs in by_layer.items():
        open_specs = [s for s in specs if s["range"] is None]
        if open_specs:
            taken = sorted(s["range"] for s in specs if s["range"] is not None)
            if taken:
                raise error(open_specs[0]["where"] + ".range",
                            f"layer {layer!r} gives other experiments ranges: give this one its range too")
            width = 1 / len(open_specs)
            for i, spec in enumerate(open_specs):
                spec["range"] = (i * width, 1.0 if i == len(open_specs) - 1 else (i + 1) * width)
        ordered = sorted(specs, key=lambda s: s["range"])
        for before, after in zip(ordered, ordered[1:]):
            if after["range"][0] < before["range"][1]:
                raise error(after["where"] + ".range", f"overlaps {before['key']!r} in layer {layer!r}")
    return tuple(Experiment(**{k: v for k, v in spec.items() if k != "where"}) for spec in parsed)

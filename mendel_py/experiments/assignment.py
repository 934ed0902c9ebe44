"""Experiments: which variations a unit (a visitor, a user) gets, by layer, deterministically.

Configured in `.mendelrc`, validated like the rest of it:

```yaml
experiments:
  button-look:                    # the experiment key (letters, digits, - and _)
    layer: look                   # its namespace; experiments of one layer are mutually
    range: [0, 0.5]               #   exclusive, each owning [start, end) of the layer's traffic
    variations: [control, bucket_A, bucket_B]   # "control": no variation (base)
    weights: [0.5, 0.25, 0.25]    # default equal; must sum to 1
    coverage: 1.0                 # share of the eligible units that enter at all
    seed: button-look             # default the key
    hash-version: 1               # GrowthBook's 1 (default) or 2
    status: running               # running | stopped (with winner:) | off
    bucket-version: 0             # raise it to re-bucket everyone on purpose
    bots: control                 # the arm crawlers get (default control; a stopped one: winner)
```

Assignment follows GrowthBook (`mendel_py.assign`), so analysing in GrowthBook gives the same
buckets: the unit must be in the experiment's range of its layer (`in_namespace`), then its hash
picks a variation from the bucket ranges of the weights and coverage. Layers are independent (each
hashes with its own namespace id); an experiment's own hash uses its seed. A sticky record (the
experiment, its bucket version and the variation index) keeps a unit where it was first put when
weights change later; raising coverage moves nobody who was in. A record is only honoured when the
configuration still allows it: the experiment is running at that bucket version, the unit is in
the experiment's share of its layer (so no unit is in two experiments of one layer) and inside
its coverage, and the arm still has weight; anything else is ignored and the unit is bucketed by
its hash. (The resolver also signs the records and binds them to the unit: `mendel_py.request`.)
A stopped experiment gives its winner to every unit in its range, and those are not exposures;
nor are the arms bots get (`for_bots`: each experiment's `bots` arm, control by default).

Assignments of a unit depend only on the unit id, its sticky record and the config, so they are
memoized per unit (a small bounded memo): a returning visitor costs a dict lookup.
"""
from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

from ..errors import ConfigError
from . import assign

CONTROL = "control"
STATUSES = ("running", "stopped", "off")
EXPOSURE_REASONS = frozenset(("hash", "sticky"))
"""The assignments an analysis counts: bucketed now or kept (not a winner, not a bot's arm)."""
UNIT_MEMO_SIZE = 8192
"""Units whose assignments a process keeps (a few hundred bytes each)."""
_KEY = re.compile(r"[A-Za-z0-9_-]+")
_FIELDS = (
    "layer", "range", "variations", "weights", "coverage", "seed", "hash-version", "status",
    "winner", "bucket-version", "bots",
)

Sticky = Mapping[str, tuple[int, int]]
"""Sticky records of a unit: experiment key -> (bucket version, variation index)."""


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

    @property
    def ranges(self) -> list[tuple[float, float]]:
        return assign.bucket_ranges(len(self.variations), self.coverage, list(self.weights))


class Assignment(NamedTuple):
    """Where one experiment put a unit; `reason` is "hash" (bucketed now), "sticky" (kept from
    before) or "winner" (a stopped experiment)."""

    experiment: str
    layer: str
    index: int  # type: ignore[assignment]  # the field shadows tuple.index
    variation: str | None
    reason: str

    @property
    def is_exposure(self) -> bool:
        """Whether showing it counts for the experiment's analysis (a winner or a bot's arm
        does not)."""
        return self.reason in EXPOSURE_REASONS

    def to_dict(self) -> dict[str, Any]:
        return self._asdict()


class Experiments:
    """The configured experiments, ready to assign units."""

    def __init__(self, experiments: Iterable[Experiment]):
        self.experiments = tuple(experiments)
        self.layers = tuple(dict.fromkeys(e.layer for e in self.experiments))
        self._ranges = {e.key: e.ranges for e in self.experiments}
        self._seed_state = {e.key: assign.fnv1a32(e.seed) for e in self.experiments}
        self._bucket_version = {e.key: e.bucket_version for e in self.experiments}
        self.by_key = {e.key: e for e in self.experiments}
        self._memo = lru_cache(maxsize=UNIT_MEMO_SIZE)(self._assign)
        self._bot_assignments = tuple(
            self._made(e, e.winner if e.status == "stopped" and e.winner is not None else e.bots, "bot")
            for e in self.experiments if e.status != "off"
        )

    def for_bots(self) -> tuple[Assignment, ...]:
        """What a crawler gets: each experiment's `bots` arm (a stopped one's winner), the same
        on every visit, and never an exposure."""
        return self._bot_assignments

    def __bool__(self) -> bool:
        return bool(self.experiments)

    def assign(self, unit_id: str, sticky: Sticky | None = None) -> tuple[Assignment, ...]:
        """The unit's assignments, in config order (one per experiment it is in)."""
        frozen = tuple(sorted(sticky.items())) if sticky else ()
        return self._memo(unit_id, frozen)

    def sticky_records(self, assignments: Iterable[Assignment]) -> dict[str, tuple[int, int]]:
        """The records to keep for the unit: {experiment: (bucket version, index)} of every
        assignment bucketed now or kept (a record the config no longer allows is dropped)."""
        return {
            a.experiment: (self._bucket_version[a.experiment], a.index)
            for a in assignments if a.reason in EXPOSURE_REASONS
        }

    def explain(self, unit_id: str, sticky: Sticky | None = None) -> list[dict[str, Any]]:
        """For `mendel assign`: every experiment, with the numbers that decided it."""
        records = dict(sticky or {})
        unit_state = assign.fnv1a32(unit_id)
        rows = []
        for e in self.experiments:
            n_ns = _finish_v1(assign.fnv1a32("__" + e.layer, unit_state))
            found = self._one(e, unit_id, unit_state, records)
            rows.append({
                "experiment": e.key, "layer": e.layer, "status": e.status,
                "layer_position": n_ns, "layer_range": list(e.range),
                "in_layer_range": e.range[0] <= n_ns < e.range[1],
                "bucket": assign.hash(e.seed, unit_id, e.hash_version),
                "ranges": [list(r) for r in self._ranges[e.key]],
                "assignment": found.to_dict() if found else None,
            })
        return rows

    def _assign(self, unit_id: str, sticky: tuple[tuple[str, tuple[int, int]], ...]) -> tuple[Assignment, ...]:
        records = dict(sticky)
        unit_state = assign.fnv1a32(unit_id)  # v1 hashes value + seed: the unit is the prefix
        positions: dict[str, float] = {}  # one namespace hash per layer, shared by its experiments
        found = []
        for e in self.experiments:
            one = self._one(e, unit_id, unit_state, records, positions)
            if one is not None:
                found.append(one)
        return tuple(found)

    def _one(
        self, e: Experiment, unit_id: str, unit_state: int, sticky: dict[str, tuple[int, int]],
        positions: dict[str, float] | None = None,
    ) -> Assignment | None:
        if e.status == "off":
            return None
        position = positions.get(e.layer) if positions is not None else None
        if position is None:
            position = _finish_v1(assign.fnv1a32("__" + e.layer, unit_state))  # in_namespace
            if positions is not None:
                positions[e.layer] = position
        if not e.range[0] <= position < e.range[1]:
            return None  # another experiment's share of the layer, whatever a record says
        if e.status == "stopped":
            return self._made(e, e.winner if e.winner is not None else 0, "winner")
        if e.hash_version == 1:
            n = _finish_v1(assign.fnv1a32(e.seed, unit_state))
        else:
            n = (assign.fnv1a32(str(assign.fnv1a32(unit_id, self._seed_state[e.key]))) % 10000) / 10000
        index = assign.choose_variation(n, self._ranges[e.key])
        if index < 0:
            return None  # outside the coverage: not in the experiment, whatever a record says
        record = sticky.get(e.key) if sticky else None
        if record is not None and record[0] == e.bucket_version and record[1] != index:
            kept = record[1]
            if 0 <= kept < len(e.variations) and e.weights[kept] > 0:  # kept though weights changed
                return self._made(e, kept, "sticky")
        if record is not None and record == (e.bucket_version, index):
            return self._made(e, index, "sticky")
        return self._made(e, index, "hash")

    @staticmethod
    def _made(e: Experiment, index: int, reason: str) -> Assignment:
        return Assignment(e.key, e.layer, index, e.variations[index], reason)


def _finish_v1(state: int) -> float:
    return (state % 1000) / 1000


# --- configuration ----------------------------------------------------------------------------


def parse_experiments(raw: Any, variation_ids: Sequence[str], source: str, key: str = "experiments") -> tuple[Experiment, ...]:
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
            raise error(where, f"{item!r} is not a configured variation{hint} (known: {', '.join(sorted(known))}, control)")
    if len(set(chosen)) != len(chosen):
        raise error(where, "a variation is listed twice")
    return tuple(chosen)


def _weights(value: Any, count: int, where: str, error: Any) -> tuple[float, ...]:
    if value is None:
        return tuple(assign.equal_weights(count))
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
                raise error(open_specs[0]["where"] + ".range", f"layer {layer!r} gives other experiments ranges: give this one its range too")
            width = 1 / len(open_specs)
            for i, spec in enumerate(open_specs):
                spec["range"] = (i * width, 1.0 if i == len(open_specs) - 1 else (i + 1) * width)
        ordered = sorted(specs, key=lambda s: s["range"])
        for before, after in zip(ordered, ordered[1:]):
            if after["range"][0] < before["range"][1]:
                raise error(after["where"] + ".range", f"overlaps {before['key']!r} in layer {layer!r}")
    return tuple(Experiment(**{k: v for k, v in spec.items() if k != "where"}) for spec in parsed)

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

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple

from ..config.experiments import CONTROL, STATUSES, Experiment, parse_experiments
from . import assign

if TYPE_CHECKING:
    from ..config.model import MendelConfig

__all__ = [
    "Assignment",
    "CONTROL",
    "EXPOSURE_REASONS",
    "Experiment",
    "Experiments",
    "STATUSES",
    "Sticky",
    "UNIT_MEMO_SIZE",
    "experiment_set",
    "parse_experiments",
]

EXPOSURE_REASONS = frozenset(("hash", "sticky"))
"""The assignments an analysis counts: bucketed now or kept (not a winner, not a bot's arm)."""
UNIT_MEMO_SIZE = 8192
"""Units whose assignments a process keeps (a few hundred bytes each)."""

Sticky = Mapping[str, tuple[int, int]]
"""Sticky records of a unit: experiment key -> (bucket version, variation index)."""


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
        self._ranges = {
            e.key: assign.bucket_ranges(len(e.variations), e.coverage, list(e.weights)) for e in self.experiments
        }
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


def experiment_set(config: MendelConfig) -> Experiments:
    """The experiments of `config`, ready to assign units: made once per config (kept beside
    its other derived values), so every request of a process shares one unit memo."""
    made = config.__dict__.get("_experiment_set")
    if made is None:
        made = Experiments(config.experiments)
        object.__setattr__(config, "_experiment_set", made)
    return made

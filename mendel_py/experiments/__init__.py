"""Experiments: GrowthBook's bucketing (`assign`), `.mendelrc` experiments and per-unit
assignment by layer (`assignment`), exposure events (`exposures`), `mendel simulate` (`simulation`).

May import `config`, `errors`, `_runtime`. Knows nothing of HTTP.
"""

from __future__ import annotations

from .assignment import (
    CONTROL,
    EXPOSURE_REASONS,
    STATUSES,
    UNIT_MEMO_SIZE,
    Assignment,
    Experiment,
    Experiments,
    Sticky,
    experiment_set,
    parse_experiments,
)

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

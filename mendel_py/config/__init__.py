"""`.mendelrc`: finding, parsing (both layouts, env overrides) and checking it -> `MendelConfig`.

`model` (the dataclasses), `schema` (the checkers of each key), `loader` (finding and reading the
file, env overrides, building the model), `experiments` (the experiments' definitions and their
checks), `route` (the bundle URL pattern).

May import `errors` and `_runtime`.
"""

from __future__ import annotations

from .loader import config_from_dict, config_from_file, find_config_file, load_config
from .model import (
    BundleConfig,
    BundleSsr,
    GenerationsConfig,
    JsxConfig,
    MendelConfig,
    MissingVariationFolder,
    SsrConfig,
    Variation,
    VariationProblems,
    VariationSpec,
)

__all__ = [
    "BundleConfig",
    "BundleSsr",
    "GenerationsConfig",
    "JsxConfig",
    "MendelConfig",
    "Variation",
    "MissingVariationFolder",
    "VariationProblems",
    "VariationSpec",
    "SsrConfig",
    "config_from_dict",
    "config_from_file",
    "find_config_file",
    "load_config",
]

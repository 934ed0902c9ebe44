"""`.mendelrc`: finding, parsing (both layouts, env overrides) and checking it -> `MendelConfig`.

May import `errors` and `_runtime`.
"""

from __future__ import annotations

from .model import (
    BundleConfig,
    GenerationsConfig,
    JsxConfig,
    MendelConfig,
    Variation,
    MissingVariationFolder,
    VariationProblems,
    VariationSpec,
    config_from_dict,
    find_config_file,
    load_config,
)

__all__ = [
    "BundleConfig",
    "GenerationsConfig",
    "JsxConfig",
    "MendelConfig",
    "Variation",
    "MissingVariationFolder",
    "VariationProblems",
    "VariationSpec",
    "config_from_dict",
    "find_config_file",
    "load_config",
]

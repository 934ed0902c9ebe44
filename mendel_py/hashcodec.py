"""The public path of `mendel_py.core.hashcodec` (its names, re-exported; see that module)."""
from __future__ import annotations

from .core.hashcodec import (
    DEFAULT_FORMAT,
    FORMATS,
    MAX_HASH_LENGTH,
    MAX_V3_BRANCHES,
    DecodedHash,
    HashFormat,
    MendelV1Format,
    MendelV2Format,
    V3Format,
    b64decode,
    b64encode,
    decode,
    file_blake3,
    format_for,
    get_format,
)

__all__ = [
    "DEFAULT_FORMAT",
    "FORMATS",
    "MAX_HASH_LENGTH",
    "MAX_V3_BRANCHES",
    "DecodedHash",
    "HashFormat",
    "MendelV1Format",
    "MendelV2Format",
    "V3Format",
    "b64decode",
    "b64encode",
    "decode",
    "file_blake3",
    "format_for",
    "get_format",
]

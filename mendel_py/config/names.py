"""How a list of variation names is read, wherever it comes from (a cookie, ``?mendel=``, an app's
loader, a command line): one way to read ``"a, b,,c"``. Plain text only: no HTTP here."""
from __future__ import annotations

from collections.abc import Iterable

__all__ = ["split_variation_names"]


def split_variation_names(value: Iterable[str] | str | None) -> list[str]:
    """Names from a comma-separated string (or an iterable of such strings), blanks dropped."""
    if value is None:
        return []
    parts = [value] if isinstance(value, str) else list(value)
    return [name.strip() for part in parts for name in str(part).split(",") if name.strip()]

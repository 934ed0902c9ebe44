"""The checks of `.mendelrc`'s keys: small checkers that each take a value and where it came
from (`Where`: the file and the dotted key) and return the canonical value or raise a
`ConfigError` naming both; the schemas of the two layouts built from them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from ..errors import ConfigError
from .model import HASH_FORMATS, JSX_NAME
from .route import BundleRoute

__all__ = ["Checker", "Where", "check_top_level", "detect_layout", "key_name", "reject_absolute"]


# --- value checkers: each takes (value, where) and returns the canonical value --------------


class Where(NamedTuple):
    """The file and dotted key a value came from, for error messages."""

    source: str
    key: str

    def child(self, name: str) -> Where:
        return Where(self.source, f"{self.key}.{name}" if self.key else name)

    def error(self, message: str) -> ConfigError:
        return ConfigError(message, self.source, self.key or None)


Checker = Callable[[Any, Where], Any]


def _keep(value: Any, where: Where) -> Any:
    """Accepted as written (options of Mendel's build pipeline that mendel_py doesn't use)."""
    return value


def _flag(value: Any, where: Where) -> bool:
    if not isinstance(value, bool):
        raise where.error(f"must be true or false, got {value!r}")
    return value


def _text(value: Any, where: Where) -> str:
    if not isinstance(value, str) or not value:
        raise where.error("expected a non-empty string")
    return value


def _path_text(value: Any, where: Where) -> str:
    """A string path; "." and "./" (the root) are allowed, an empty string is too."""
    if not isinstance(value, str):
        raise where.error("expected a path (a string)")
    reject_absolute(value, where)
    return value


def _text_list(value: Any, where: Where) -> tuple[str, ...]:
    """A list of strings; nested lists are flattened one level, as mendel-config does."""
    if not isinstance(value, list):
        raise where.error("expected a list of strings")
    flat: list[Any] = []
    for item in value:
        flat.extend(item if isinstance(item, list) else [item])
    if not all(isinstance(item, str) and item for item in flat):
        raise where.error("expected a list of strings")
    return tuple(flat)


def _folder_list(value: Any, where: Where) -> tuple[str, ...]:
    """One folder or a list of folders."""
    folders = [value] if isinstance(value, str) else value
    if not isinstance(folders, list) or not all(isinstance(f, str) for f in folders):
        raise where.error("expected a folder or a list of folders")
    for folder in folders:
        reject_absolute(folder, where)
    return tuple(folders)


def _text_mapping(value: Any, where: Where) -> Mapping[str, str]:
    if not isinstance(value, Mapping):
        raise where.error("expected a mapping of strings to strings")
    pairs = {}
    for key, item in value.items():
        name = key_name(key, where)
        pairs[name] = _text(item, where.child(name))
    return MappingProxyType(pairs)


def _parent_folders(value: Any, where: Where) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(f, str) and f for f in value):
        raise where.error("expected a list of folder names")
    for folder in value:
        reject_absolute(folder, where)
    return tuple(value)


def _name_list(value: Any, where: Where) -> frozenset[str]:
    """`deliberately-empty`: variation names (one or a list) that need no folder."""
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise where.error("expected a variation name or a list of them")
    return frozenset(names)


def _jsx_name(value: Any, where: Where) -> str:
    if not isinstance(value, str) or not JSX_NAME.fullmatch(value):
        raise where.error(f"expected a name or a dotted name (React.createElement, h), got {value!r}")
    return value


def _choice(*allowed: str) -> Checker:
    def check(value: Any, where: Where) -> str:
        if value not in allowed:
            raise where.error(f"expected one of {', '.join(map(repr, allowed))}, got {value!r}")
        return value

    return check


def _count(value: Any, where: Where) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise where.error(f"expected a whole number >= 1, got {value!r}")
    return value


def _days(value: Any, where: Where) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise where.error(f"expected a number of days >= 0, got {value!r}")
    return float(value)


def _seconds(value: Any, where: Where) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise where.error(f"expected a number of seconds > 0, got {value!r}")
    return float(value)


_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib)?", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "kb": 1000, "kib": 1024, "mb": 1000 * 1000, "mib": 1024 * 1024}


def _size(value: Any, where: Where) -> int:
    """A byte count: a whole number, or `170kb`, `1.5mb`, `64kib` (kb = 1000 bytes, as Vite and
    size-limit print them; kib = 1024)."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = _SIZE.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None or float(match.group(1)) <= 0:
        raise where.error(f"expected a size such as 170kb, 1.5mb or a number of bytes, got {value!r}")
    return int(float(match.group(1)) * _SIZE_UNITS[(match.group(2) or "b").lower()])


def _route(value: Any, where: Where) -> str:
    """A bundle route that `BundleRoute` accepts, so it can build every URL it matches."""
    route = _text(value, where)
    try:
        BundleRoute(route)
    except ConfigError as error:
        raise where.error(str(error)) from None
    return route


def _section(schema: Mapping[str, Checker]) -> Checker:
    """A mapping with only the keys of `schema` (camelCase or dashed), each checked."""

    def check(value: Any, where: Where) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise where.error("expected a mapping")
        return _check_keys(value, schema, where)

    return check


def _mapping_of(item_checker: Checker, expected: str = "a mapping") -> Checker:
    """A mapping of names (bundle ids, env names, variations) to values checked by `item_checker`."""

    def check(value: Any, where: Where) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise where.error(f"expected {expected}")
        checked = {}
        for key, item in value.items():
            name = key_name(key, where)
            checked[name] = item_checker(item, where.child(name))
        return checked

    return check


def _check_keys(
    value: Mapping[str, Any], schema: Mapping[str, Checker], where: Where
) -> dict[str, Any]:
    spellings = {alias: key for key in schema for alias in _spellings(key)}
    checked: dict[str, Any] = {}
    for raw_key, item in value.items():
        key = key_name(raw_key, where)
        canonical = spellings.get(key)
        if canonical is None:
            raise where.child(key).error(f"unknown key (expected one of: {', '.join(schema)})")
        if canonical in checked:
            raise where.child(key).error(f"given twice (also as {canonical!r})")
        checked[canonical] = None if item is None else schema[canonical](item, where.child(key))
    return checked


def _spellings(key: str) -> tuple[str, ...]:
    """`variation-dirs` and `variationDirs`; `serveAs` and `serve-as`."""
    camel = re.sub(r"-([a-z])", lambda m: m.group(1).upper(), key)
    dashed = re.sub(r"([A-Z])", lambda m: "-" + m.group(1).lower(), key)
    return tuple(dict.fromkeys((key, camel, dashed)))


def key_name(key: Any, where: Where) -> str:
    """Mapping keys are strings; YAML integers (`2019:`) read as their text, as in JavaScript."""
    if isinstance(key, str) and key:
        return key
    if isinstance(key, int) and not isinstance(key, bool):
        return str(key)
    raise where.error(f"keys must be non-empty strings, got {key!r} (quote it)")


def reject_absolute(text: str, where: Where) -> None:
    posix = text.replace("\\", "/")
    if posix.startswith("/") or re.match(r"[A-Za-z]:", posix):
        raise where.error(f"{text!r} must be relative to the project root")


# --- schemas --------------------------------------------------------------------------------

# `variations`: name -> nothing, or the list of folders it inherits from
_variation_map = _mapping_of(_parent_folders, "a mapping of variation names to folder lists")

_PIPELINE_BUNDLE_KEYS = (
    "generator", "outlet", "runtime", "sourcemap", "envify", "allBundles", "from",
)
_BUNDLE_SCHEMA: dict[str, Checker] = {
    "manifest": _text,
    "serveAs": _choice("css", "js"),
    "entries": _text_list,
    "outfile": _text,
    "require": _text_list,
    "external": _text_list,
    "ignore": _text_list,
    "exclude": _text_list,
    "expose": _text_mapping,
    "ssr": _section({"module": _path_text, "export": _text}),
    "budget": _size,  # gzip bytes of the bundle's largest tree (`mendel build`)
    **{key: _keep for key in _PIPELINE_BUNDLE_KEYS},
    "uglify": _flag,  # Mendel's name for minifying: an alias of the top-level `minify`
}
_SHARED_SCHEMA: dict[str, Checker] = {
    "bundles": _mapping_of(_section(_BUNDLE_SCHEMA)),
    "environment": _text,
    "hash-format": _choice(*HASH_FORMATS),
    "route-config": _section({"hash": _route, "variation": _keep}),
    "generations": _section({"dir": _path_text, "keep": _count, "max-age-days": _days}),
    "experiments": _keep,  # validated with the variations known (mendel_py.experiments)
    "jsx": _section({"factory": _jsx_name, "fragment": _jsx_name}),
    "minify": _flag,
    "uglify": _flag,  # an alias of `minify`
    "ssr": _section({
        "engine": _choice("quickjs", "v8"), "memory-limit-mb": _count, "timeout": _seconds, "cache-mb": _count,
    }),
}
_CURRENT_PIPELINE_KEYS = (
    "types", "transforms", "outlets", "generators", "postgenerators", "cache-connection",
    "shim", "defaultShim", "ignores", "support", "noout",
)
_CURRENT_SCHEMA: dict[str, Checker] = {
    "base-config": _section({"id": _text, "dir": _path_text, "outdir": _path_text}),
    "variation-config": _section({
        "variation-dirs": _folder_list, "variations": _variation_map, "deliberately-empty": _name_list,
    }),
    "build-dir": _path_text,
    **_SHARED_SCHEMA,
    **{key: _keep for key in _CURRENT_PIPELINE_KEYS},
}
_LEGACY_SCHEMA: dict[str, Checker] = {
    "base": _text,
    "basetree": _path_text,
    "variationsdir": _path_text,
    "variations": _variation_map,
    "deliberately-empty": _name_list,
    "outdir": _path_text,
    "bundlesoutdir": _path_text,
    **_SHARED_SCHEMA,
    "serveroutdir": _keep,
    "bundleName": _keep,
}
_LAYOUTS = {"current": _CURRENT_SCHEMA, "legacy": _LEGACY_SCHEMA}


def _layout_only_keys(layout: str) -> frozenset[str]:
    other = "legacy" if layout == "current" else "current"
    own = set(_LAYOUTS[layout]) - set(_LAYOUTS[other])
    return frozenset(alias for key in own for alias in _spellings(key))


def detect_layout(data: Mapping[str, Any], where: Where) -> str:
    """`current` if any current-layout key is present, `legacy` otherwise (as mendel-config)."""
    current = [k for k in data if k in _layout_only_keys("current")]
    legacy = [k for k in data if k in _layout_only_keys("legacy")]
    if current and legacy:
        raise where.child(legacy[0]).error(
            f"is a legacy-layout key, but the file also uses the current layout ({current[0]!r});"
            " use one layout"
        )
    return "current" if current else "legacy"


def check_top_level(data: Any, layout: str, where: Where) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise where.error("expected a mapping")
    other = "legacy" if layout == "current" else "current"
    for key in data:
        if key in _layout_only_keys(other):
            raise where.child(key).error(
                f"is a {other}-layout key, but the file uses the {layout} layout; use one layout"
            )
    return _check_keys(data, _LAYOUTS[layout], where)

"""`.mendelrc` discovery and parsing into an immutable, validated `MendelConfig`.

The file is YAML, looked up in the given folder and then each parent (`MENDELRC` in the
environment changes the file name, as in mendel-config). Its folder is the project root: every
path in the file is relative to it, must stay inside it, and is normalised to a posix path with no
`./` and no trailing `/` (the root itself is `""`).

Two layouts load; a file may not mix them (the shared keys are `bundles`, `env`, `environment`,
`hash-format` and `route-config`):

- current: `base-config` (`id`, default "base"; `dir`, default the root; `outdir`),
  `variation-config` (`variation-dirs`: a folder or a list, default the root; `variations`),
  `build-dir` (default "build").
- legacy: `base` (base id, default "base"), `basetree` (base folder, default "base"),
  `variationsdir` (default the root), `variations`, `outdir`, `bundlesoutdir`.

Dashed keys may also be written camelCase (`variationDirs`, `serve-as`), as mendel-config undashes
them. Keys that only drive Mendel's Node build pipeline (`types`, `transforms`, `outlets`,
`generators`, `postgenerators`, `cache-connection`, `shim`, `defaultShim`, `ignores`, `support`,
`noout`; legacy `serveroutdir`, `bundleName`) are accepted and ignored, so an existing Mendel
file loads. Any other key is a `ConfigError` naming the file and the dotted key. An empty value
(YAML null) means the key's default.

Top-level `jsx` sets how `mendel build` compiles JSX (`JsxConfig`): `factory` (default
"React.createElement") and `fragment` (default "React.Fragment"), each a name or dotted name
(`h`, `preact.h`); a file's `/** @jsx h */` and `/** @jsxFrag Fragment */` comments override them.

Top-level `hash-format` is "v3", "mendel-v1" or "mendel-v2" (default None: the server's choice);
`route-config.hash` is the bundle URL pattern (default "/mendel/:hash/:bundle"), checked by
`route.BundleRoute` (one `:hash`, one `:bundle`, a fixed first segment; every bundle id must fit).

Bundles (`bundles.<id>`):
  `manifest`  relative to `base-config.outdir` (legacy: `outdir`/`bundlesoutdir`) if given, else to
              the root. Default `<build-dir>/<id>.manifest.json` (legacy:
              `mendel-build/<id>.manifest.json`), or `<id>.manifest.json` in the outdir if given.
  `serveAs`   "css" (served as concatenated CSS) or "js" (the default).
  `entries`   entry files relative to the base folder; `src/base/main.js` written from the root
              becomes `main.js`.
  options     `outfile` (string), `require`, `external`, `ignore`, `exclude` (lists of strings),
              `expose` (mapping of file to public name), and Mendel's pipeline options
              `generator`, `outlet`, `runtime`, `sourcemap`, `envify`, `uglify`, `allBundles`,
              `from` (kept as written). `BundleConfig.options` holds them read-only.

Environment: the env is the `env` argument, else `MENDEL_ENV`, else `NODE_ENV`, else the file's
`environment` key, else "development". `env.<name>` is deep-merged over the file (mappings merge
key by key, anything else replaces); every `env` section is validated, active or not.

Chain rule (as mendel-config): variation `v` listed with folders `[f1, f2]` has the candidates
`<dir>/v, <dir>/f1, <dir>/f2` for its variation dir. With several variation dirs mendel-config
emits one variation per (dir, id), dir by dir; here each id stays one variation, in config order,
whose candidates are those of every dir in dir order, which is the lookup order Mendel's chains
give one variation. `MendelConfig.variations(known_folders)` keeps the candidates that exist as
folders under the root or are in `known_folders`, appends the base folder, and drops a variation
left with only the base. A variation may not be named `base` or like the base id; a folder equal to
the base folder is never a candidate (the base is always appended last).
"""
from __future__ import annotations

import difflib
import hashlib
import json
import os
import posixpath
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple

from functools import cached_property

import yaml

from ..errors import ConfigError
from ..experiments.assignment import Experiment, Experiments, parse_experiments
from ..core.hashcodec import FORMATS as HASH_FORMATS
from ..serving.route import DEFAULT_ROUTE, BundleRoute

CONFIG_FILE_NAME = ".mendelrc"
DEFAULT_ENV = "development"

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


_CURRENT_KEYS: Mapping[str, str] = MappingProxyType({
    "base_dir": "base-config.dir", "variation_dirs": "variation-config.variation-dirs",
    "variations": "variation-config.variations", "empty": "variation-config.deliberately-empty",
})


@dataclass(frozen=True)
class VariationSpec:
    """A configured variation: its candidate chain folders, base not included."""

    id: str
    folders: tuple[str, ...]
    inherits: tuple[str, ...] = field(default=(), compare=False)
    """The inheritance list as written (folder names under the variation dirs)."""
    groups: tuple[tuple[str, tuple[str, ...]], ...] = field(default=(), compare=False)
    """(own id or inherited name, its candidate folders in every variation dir): each entry must
    exist somewhere (§1 chain rule), so a typo is an error instead of base files."""


@dataclass(frozen=True)
class Variation:
    """A usable variation: existing candidate folders, then the base folder."""

    id: str
    chain: tuple[str, ...]


@dataclass(frozen=True)
class BundleConfig:
    """One bundle: where its manifest is, how it is served, and its build options.

    `serve_as` is the one place that says whether a bundle is a stylesheet ("css") or a script
    ("js", the default); its URL suffix and content type follow from it.
    """

    id: str
    manifest: str
    manifest_path: str
    serve_as: str
    entries: tuple[str, ...]
    options: Mapping[str, Any]

    @property
    def is_css(self) -> bool:
        return self.serve_as == "css"

    @property
    def suffix(self) -> str:
        """".css" or ".js": what a bundle URL ending in `:bundle` adds to the bundle id."""
        return "." + self.serve_as


DEFAULT_KEEP = 10
"""The newest generations a store always retains (`generations.keep`)."""
DEFAULT_MAX_AGE_DAYS = 7.0
"""Days a past generation is retained for, beyond those (`generations.max-age-days`)."""


@dataclass(frozen=True)
class GenerationsConfig:
    """`generations:` of `.mendelrc`: where the generation store is and what it retains."""

    dir: str | None = None
    keep: int = DEFAULT_KEEP
    max_age_days: float = DEFAULT_MAX_AGE_DAYS


JSX_NAME = re.compile(r"[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*", re.ASCII)
"""What may name a JSX factory or fragment: an identifier, or identifiers joined by dots."""


@dataclass(frozen=True)
class JsxConfig:
    """`jsx:` of `.mendelrc`: what JSX compiles to (the classic runtime, as esbuild and Babel)."""

    factory: str = "React.createElement"  # called for every element
    fragment: str = "React.Fragment"  # the type of `<>...</>`


@dataclass(frozen=True)
class MendelConfig:
    """A validated `.mendelrc` with its env overrides applied; paths relative to `root`."""

    path: str | None
    root: str
    base_id: str
    base_dir: str
    variation_dirs: tuple[str, ...]
    variation_specs: tuple[VariationSpec, ...]
    bundles: Mapping[str, BundleConfig]
    route: str
    hash_format: str | None
    env: str | None
    generations: GenerationsConfig = GenerationsConfig()
    experiments: tuple[Experiment, ...] = ()
    jsx: JsxConfig = JsxConfig()
    empty_variations: frozenset[str] = frozenset()
    """Variations the config marks deliberately empty (`deliberately-empty`): no folder needed."""
    keys: Mapping[str, str] = field(default_factory=lambda: _CURRENT_KEYS, compare=False)
    """The dotted keys of this file's layout, for error messages."""

    @cached_property
    def config_id(self) -> str:
        """The project's identity for QA tokens: a digest of its base, variations (with their
        folders), bundles and experiment keys; another project gets another id even if it shares
        the secret, and a deploy of the same project keeps it."""
        facts = [
            self.base_id, self.base_dir, [[s.id, list(s.folders)] for s in self.variation_specs],
            sorted(self.bundles), [e.key for e in self.experiments],
        ]
        digest = hashlib.blake2b(json.dumps(facts, sort_keys=True).encode(), digest_size=12)
        return digest.hexdigest()

    @cached_property
    def experiment_set(self) -> Experiments:
        """The experiments, ready to assign units (made once per config)."""
        return Experiments(self.experiments)

    @cached_property
    def bundle_route(self) -> BundleRoute:
        """The bundle route (built, and so checked, when the config was validated)."""
        return BundleRoute(self.route)

    def bundle_path(self, bundle: str, hash: str) -> str:
        """The canonical URL path of `bundle` at `hash`, e.g. `/mendel/<hash>/main.js`."""
        return self.bundle_route.path(bundle, hash, self.bundles[bundle].suffix)

    def variations(self, known_folders: Collection[str] = ()) -> tuple[Variation, ...]:
        """Mendel's chain rule: existing or known candidates, then base; base-only ones dropped.

        A query that never fails; `check_variations` says what §1 makes an error (start-up,
        `mendel build` and `mendel validate` call it first)."""
        return self._usable_variations(frozenset(known_folders))

    def check_variations(
        self, known_folders: Collection[str] = (), bundle_folders: Collection[str] | None = None
    ) -> tuple[Variation, ...]:
        """`variations(known_folders)`, or `VariationProblems` (one line per problem) when a
        variation dir, the base folder, a variation folder or an inherited folder exists neither
        on disk nor in `known_folders`, or (given `bundle_folders`, the folders the manifests
        name) an experiment arm changes no file of any bundle."""
        problems = self.variation_problems(known_folders)
        if bundle_folders is not None and not problems:
            problems = self.experiment_arm_problems(bundle_folders, known_folders)
        if problems:
            raise VariationProblems(problems)
        return self.variations(known_folders)

    def _usable_variations(self, known: frozenset[str]) -> tuple[Variation, ...]:
        usable = []
        for spec in self.variation_specs:
            found = tuple(f for f in spec.folders if f in known or self._folder_exists(f))
            if found:
                usable.append(Variation(spec.id, found + (self.base_dir,)))
        return tuple(usable)

    def variation_problems(self, known_folders: Collection[str] = ()) -> list[ConfigError]:
        """Every folder problem of the variations, one ConfigError each (see `variations`)."""
        known = frozenset(known_folders)

        def exists(folder: str) -> bool:
            return folder in known or self._folder_exists(folder)

        def error(key: str, message: str) -> ConfigError:
            return ConfigError(message, self.path, key)

        problems: list[ConfigError] = []
        if not exists(self.base_dir):
            problems.append(error(self.keys["base_dir"], f"the base folder {self.base_dir or '.'!r} does not exist"
                                  + _did_you_mean(self.base_dir, self._sibling_folders(self.base_dir))))
        missing_dirs = set()
        needs_folders = any(spec.id not in self.empty_variations for spec in self.variation_specs)
        for folder in self.variation_dirs:  # (harmless while no variation needs a folder)
            if folder and needs_folders and not exists(folder) and not any(k.startswith(folder + "/") for k in known):
                missing_dirs.add(folder)
                problems.append(error(self.keys["variation_dirs"], f"the variation folder {folder!r} does not exist"
                                      + _did_you_mean(folder, self._sibling_folders(folder))))
        configured = [spec.id for spec in self.variation_specs]
        for name in sorted(self.empty_variations - set(configured)):
            problems.append(error(self.keys["empty"], f"{name!r} is not a configured variation"
                                  + _did_you_mean(name, configured)))
        on_disk = self._names_in_variation_dirs()
        for spec in self.variation_specs:
            where = f"{self.keys['variations']}.{spec.id}"
            for position, (name, candidates) in enumerate(spec.groups):
                live = [f for f in candidates if not any(f == d or f.startswith(d + "/") for d in missing_dirs)]
                if not live or any(exists(f) for f in live):
                    continue  # (a missing variation dir is reported once, above)
                if position == 0:
                    if spec.id in self.empty_variations:
                        continue
                    problems.append(MissingVariationFolder(
                        f"variation {spec.id!r} has no folder ({', '.join(candidates)} does not exist;"
                        f" create it, or list the variation under {self.keys['empty']})"
                        + _did_you_mean(name, sorted(on_disk - set(configured))),
                        self.path, where, spec.id, candidates,
                    ))
                elif name not in configured:  # (a configured one without folder is reported itself)
                    problems.append(MissingVariationFolder(
                        f"inherits {name!r}, which is no variation folder ({', '.join(candidates)}"
                        " does not exist)" + _did_you_mean(name, [*configured, *sorted(on_disk)]),
                        self.path, where, spec.id, candidates,
                    ))
        return problems

    def experiment_arm_problems(
        self, bundle_folders: Collection[str], known_folders: Collection[str] = ()
    ) -> list[ConfigError]:
        """Experiment arms (of a running experiment, or a stopped one's winner) whose variation
        changes no file of any bundle: their visitors would get control while counted in the arm.
        A deliberately empty variation is exempt (the app serves its difference itself)."""
        folders = set(bundle_folders) - {self.base_dir}
        chains = {v.id: v.chain[:-1] for v in self._usable_variations(frozenset(known_folders))}
        problems = []
        for e in self.experiments:
            if e.status == "off":
                continue
            arms = e.variations if e.status == "running" else (e.variations[e.winner or 0],)
            for arm in arms:
                if arm is None or arm in self.empty_variations:
                    continue
                if not folders.intersection(chains.get(arm, ())):
                    problems.append(ConfigError(
                        f"arm {arm!r} overrides nothing in any bundle (no bundle has a file in"
                        f" {', '.join(chains.get(arm, ())) or 'its folder'}); visitors in it would get"
                        f" control; fix the variation, or list it under {self.keys['empty']}",
                        self.path, f"experiments.{e.key}.variations",
                    ))
        return problems

    def _sibling_folders(self, folder: str) -> list[str]:
        """Folders next to `folder` on disk (what a typo of it may have meant)."""
        parent = posixpath.dirname(folder)
        try:
            with os.scandir(os.path.join(self.root, *parent.split("/")) if parent else self.root) as entries:
                return [posixpath.join(parent, e.name) for e in entries if e.is_dir() and not e.name.startswith(".")]
        except OSError:
            return []

    def _names_in_variation_dirs(self) -> set[str]:
        names: set[str] = set()
        for folder in self.variation_dirs:
            try:
                with os.scandir(os.path.join(self.root, *folder.split("/")) if folder else self.root) as entries:
                    names.update(e.name for e in entries if e.is_dir() and not e.name.startswith("."))
            except OSError:
                pass
        return names

    def _folder_exists(self, folder: str) -> bool:
        return os.path.isdir(os.path.join(self.root, *folder.split("/")))


class MissingVariationFolder(ConfigError):
    """A variation (or a folder it inherits) that exists nowhere: its visitors would get base."""

    fields = ("path", "key", "variation", "folders")

    def __init__(self, message: str, path: str | None, key: str, variation: str, folders: tuple[str, ...]):
        super().__init__(message, path, key)
        self.variation = variation
        self.folders = list(folders)


class VariationProblems(ConfigError):
    """Every variation problem of a config at once, one line each (`problems` holds them)."""

    def __init__(self, problems: list[ConfigError]):
        self.problems = tuple(problems)
        first = problems[0]
        super().__init__("\n".join(str(p) for p in problems))
        self.path, self.key = first.path, first.key
        self.args = ("\n".join(str(p) for p in problems),)

    def __str__(self) -> str:
        return self.args[0]

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape, with every problem's own (`mendel build --json`)."""
        return {**super().to_dict(), "problems": [problem.to_dict() for problem in self.problems]}


def _did_you_mean(name: str, candidates: Collection[str]) -> str:
    """' (did you mean 'x'?)' for the closest of `candidates` (difflib), else ''."""
    close = difflib.get_close_matches(name, [c for c in candidates if c != name], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


# --- discovery and reading ------------------------------------------------------------------


def find_config_file(basedir: str | os.PathLike[str] = ".") -> str | None:
    """The absolute path of the `.mendelrc` in `basedir` or its nearest parent, or None."""
    folder = os.path.abspath(basedir)
    name = _config_file_name()
    while True:
        candidate = os.path.join(folder, name)
        if os.path.isfile(candidate):
            return candidate
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def load_config(basedir: str | os.PathLike[str] = ".", env: str | None = None) -> MendelConfig:
    """Find, read and validate the `.mendelrc` that applies to `basedir`."""
    path = find_config_file(basedir)
    if path is None:
        where = os.path.abspath(basedir)
        raise ConfigError(f"no {_config_file_name()} found in {where} or any parent folder")
    data = _read_yaml(path)
    return _build_config(data, os.path.dirname(path), env, source=path, path=path)


def config_from_dict(
    data: Mapping[str, Any],
    root: str | os.PathLike[str],
    env: str | None = None,
    source: str = "<dict>",
) -> MendelConfig:
    """Validate an already parsed config (either layout); paths are relative to `root`."""
    return _build_config(data, os.path.abspath(root), env, source=source, path=None)


def config_from_file(path: str, root: str | os.PathLike[str], env: str | None = None) -> MendelConfig:
    """Read and validate the `.mendelrc` at `path` with its paths relative to `root` (a copy kept
    elsewhere, e.g. a generation's)."""
    return _build_config(_read_yaml(path), os.path.abspath(root), env, source=path, path=None)


def _config_file_name() -> str:
    return os.environ.get("MENDELRC") or CONFIG_FILE_NAME


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that rejects a key given twice in one mapping, as js-yaml does."""


def _construct_unique_mapping(
    loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False
) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, (str, int, float, bool)):
            continue
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping
)


def _read_yaml(path: str) -> Any:
    """Parse the YAML file; every failure becomes a ConfigError with the file (and line)."""
    try:
        with open(path, encoding="utf-8") as stream:
            return yaml.load(stream, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as error:
        raise ConfigError(_describe_yaml_error(error), path) from None
    except yaml.YAMLError as error:
        raise ConfigError(f"invalid YAML: {error}", path) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"can't read the file: {error}", path) from None


def _describe_yaml_error(error: yaml.MarkedYAMLError) -> str:
    mark = error.problem_mark or error.context_mark
    problem = error.problem or error.context or "syntax error"
    if mark is None:
        return f"invalid YAML: {problem}"
    return f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: {problem}"


# --- value checkers: each takes (value, where) and returns the canonical value --------------


class _Where(NamedTuple):
    """The file and dotted key a value came from, for error messages."""

    source: str
    key: str

    def child(self, name: str) -> _Where:
        return _Where(self.source, f"{self.key}.{name}" if self.key else name)

    def error(self, message: str) -> ConfigError:
        return ConfigError(message, self.source, self.key or None)


_Checker = Callable[[Any, _Where], Any]


def _keep(value: Any, where: _Where) -> Any:
    """Accepted as written (options of Mendel's build pipeline that mendel_py doesn't use)."""
    return value


def _text(value: Any, where: _Where) -> str:
    if not isinstance(value, str) or not value:
        raise where.error("expected a non-empty string")
    return value


def _path_text(value: Any, where: _Where) -> str:
    """A string path; "." and "./" (the root) are allowed, an empty string is too."""
    if not isinstance(value, str):
        raise where.error("expected a path (a string)")
    _reject_absolute(value, where)
    return value


def _text_list(value: Any, where: _Where) -> tuple[str, ...]:
    """A list of strings; nested lists are flattened one level, as mendel-config does."""
    if not isinstance(value, list):
        raise where.error("expected a list of strings")
    flat: list[Any] = []
    for item in value:
        flat.extend(item if isinstance(item, list) else [item])
    if not all(isinstance(item, str) and item for item in flat):
        raise where.error("expected a list of strings")
    return tuple(flat)


def _folder_list(value: Any, where: _Where) -> tuple[str, ...]:
    """One folder or a list of folders."""
    folders = [value] if isinstance(value, str) else value
    if not isinstance(folders, list) or not all(isinstance(f, str) for f in folders):
        raise where.error("expected a folder or a list of folders")
    for folder in folders:
        _reject_absolute(folder, where)
    return tuple(folders)


def _text_mapping(value: Any, where: _Where) -> Mapping[str, str]:
    if not isinstance(value, Mapping):
        raise where.error("expected a mapping of strings to strings")
    pairs = {}
    for key, item in value.items():
        name = _key_name(key, where)
        pairs[name] = _text(item, where.child(name))
    return MappingProxyType(pairs)


def _parent_folders(value: Any, where: _Where) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(f, str) and f for f in value):
        raise where.error("expected a list of folder names")
    for folder in value:
        _reject_absolute(folder, where)
    return tuple(value)


def _name_list(value: Any, where: _Where) -> frozenset[str]:
    """`deliberately-empty`: variation names (one or a list) that need no folder."""
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise where.error("expected a variation name or a list of them")
    return frozenset(names)


def _jsx_name(value: Any, where: _Where) -> str:
    if not isinstance(value, str) or not JSX_NAME.fullmatch(value):
        raise where.error(f"expected a name or a dotted name (React.createElement, h), got {value!r}")
    return value


def _choice(*allowed: str) -> _Checker:
    def check(value: Any, where: _Where) -> str:
        if value not in allowed:
            raise where.error(f"expected one of {', '.join(map(repr, allowed))}, got {value!r}")
        return value

    return check


def _count(value: Any, where: _Where) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise where.error(f"expected a whole number >= 1, got {value!r}")
    return value


def _days(value: Any, where: _Where) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise where.error(f"expected a number of days >= 0, got {value!r}")
    return float(value)


def _route(value: Any, where: _Where) -> str:
    """A bundle route that `BundleRoute` accepts, so it can build every URL it matches."""
    route = _text(value, where)
    try:
        BundleRoute(route)
    except ConfigError as error:
        raise where.error(str(error)) from None
    return route


def _section(schema: Mapping[str, _Checker]) -> _Checker:
    """A mapping with only the keys of `schema` (camelCase or dashed), each checked."""

    def check(value: Any, where: _Where) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise where.error("expected a mapping")
        return _check_keys(value, schema, where)

    return check


def _mapping_of(item_checker: _Checker, expected: str = "a mapping") -> _Checker:
    """A mapping of names (bundle ids, env names, variations) to values checked by `item_checker`."""

    def check(value: Any, where: _Where) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise where.error(f"expected {expected}")
        checked = {}
        for key, item in value.items():
            name = _key_name(key, where)
            checked[name] = item_checker(item, where.child(name))
        return checked

    return check


def _check_keys(
    value: Mapping[str, Any], schema: Mapping[str, _Checker], where: _Where
) -> dict[str, Any]:
    spellings = {alias: key for key in schema for alias in _spellings(key)}
    checked: dict[str, Any] = {}
    for raw_key, item in value.items():
        key = _key_name(raw_key, where)
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


def _key_name(key: Any, where: _Where) -> str:
    """Mapping keys are strings; YAML integers (`2019:`) read as their text, as in JavaScript."""
    if isinstance(key, str) and key:
        return key
    if isinstance(key, int) and not isinstance(key, bool):
        return str(key)
    raise where.error(f"keys must be non-empty strings, got {key!r} (quote it)")


def _reject_absolute(text: str, where: _Where) -> None:
    posix = text.replace("\\", "/")
    if posix.startswith("/") or re.match(r"[A-Za-z]:", posix):
        raise where.error(f"{text!r} must be relative to the project root")


# --- schemas --------------------------------------------------------------------------------

# `variations`: name -> nothing, or the list of folders it inherits from
_variation_map = _mapping_of(_parent_folders, "a mapping of variation names to folder lists")

_PIPELINE_BUNDLE_KEYS = (
    "generator", "outlet", "runtime", "sourcemap", "envify", "uglify", "allBundles", "from",
)
_BUNDLE_SCHEMA: dict[str, _Checker] = {
    "manifest": _text,
    "serveAs": _choice("css", "js"),
    "entries": _text_list,
    "outfile": _text,
    "require": _text_list,
    "external": _text_list,
    "ignore": _text_list,
    "exclude": _text_list,
    "expose": _text_mapping,
    **{key: _keep for key in _PIPELINE_BUNDLE_KEYS},
}
_SHARED_SCHEMA: dict[str, _Checker] = {
    "bundles": _mapping_of(_section(_BUNDLE_SCHEMA)),
    "environment": _text,
    "hash-format": _choice(*HASH_FORMATS),
    "route-config": _section({"hash": _route, "variation": _keep}),
    "generations": _section({"dir": _path_text, "keep": _count, "max-age-days": _days}),
    "experiments": _keep,  # validated with the variations known (mendel_py.experiments)
    "jsx": _section({"factory": _jsx_name, "fragment": _jsx_name}),
}
_CURRENT_PIPELINE_KEYS = (
    "types", "transforms", "outlets", "generators", "postgenerators", "cache-connection",
    "shim", "defaultShim", "ignores", "support", "noout",
)
_CURRENT_SCHEMA: dict[str, _Checker] = {
    "base-config": _section({"id": _text, "dir": _path_text, "outdir": _path_text}),
    "variation-config": _section({
        "variation-dirs": _folder_list, "variations": _variation_map, "deliberately-empty": _name_list,
    }),
    "build-dir": _path_text,
    **_SHARED_SCHEMA,
    **{key: _keep for key in _CURRENT_PIPELINE_KEYS},
}
_LEGACY_SCHEMA: dict[str, _Checker] = {
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


def _detect_layout(data: Mapping[str, Any], where: _Where) -> str:
    """`current` if any current-layout key is present, `legacy` otherwise (as mendel-config)."""
    current = [k for k in data if k in _layout_only_keys("current")]
    legacy = [k for k in data if k in _layout_only_keys("legacy")]
    if current and legacy:
        raise where.child(legacy[0]).error(
            f"is a legacy-layout key, but the file also uses the current layout ({current[0]!r});"
            " use one layout"
        )
    return "current" if current else "legacy"


def _check_top_level(data: Any, layout: str, where: _Where) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise where.error("expected a mapping")
    other = "legacy" if layout == "current" else "current"
    for key in data:
        if key in _layout_only_keys(other):
            raise where.child(key).error(
                f"is a {other}-layout key, but the file uses the {layout} layout; use one layout"
            )
    return _check_keys(data, _LAYOUTS[layout], where)


# --- building the config --------------------------------------------------------------------


def _build_config(
    data: Any, root: str, env: str | None, source: str, path: str | None
) -> MendelConfig:
    top = _Where(source, "")
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise top.error("expected a mapping at the top level")
    body = {key: value for key, value in data.items() if key != "env"}
    layout = _detect_layout(body, top)
    checked = _check_top_level(body, layout, top)
    sections = _env_sections(data.get("env"), layout, top.child("env"))
    env_name = _choose_env(env, checked.get("environment"))
    overrides = sections.get(env_name)
    merged = _deep_merge(checked, overrides) if overrides is not None else checked
    return _assemble(
        _layout_values(merged, layout),
        root=root,
        where=top,
        path=path,
        env=env_name if overrides is not None else None,
    )


def _env_sections(value: Any, layout: str, where: _Where) -> dict[str, dict[str, Any]]:
    """Every `env.<name>` section, validated against the file's layout."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise where.error("expected a mapping of environment names to overrides")
    sections = {}
    for key, section in value.items():
        name = _key_name(key, where)
        overrides = {} if section is None else section
        sections[name] = _check_top_level(overrides, layout, where.child(name))
    return sections


def _choose_env(explicit: str | None, from_file: str | None) -> str:
    """The `env` argument, MENDEL_ENV, NODE_ENV, the file's `environment`, "development"."""
    return (
        explicit
        or os.environ.get("MENDEL_ENV")
        or os.environ.get("NODE_ENV")
        or from_file
        or DEFAULT_ENV
    )


def _deep_merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(merged.get(key), Mapping) and isinstance(value, Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class _LayoutValues(NamedTuple):
    """What either layout says, with the dotted keys to name in errors."""

    base_id: str
    base_dir: str
    base_dir_key: str
    variation_dirs: tuple[str, ...]
    variation_dirs_key: str
    variations: Mapping[str, tuple[str, ...]]
    variations_key: str
    empty: frozenset[str]
    empty_key: str
    bundles: Mapping[str, dict[str, Any]]
    manifest_dir: str | None
    default_manifest_dir: str
    route: str
    hash_format: str | None
    generations: GenerationsConfig
    experiments: Any
    jsx: JsxConfig


def _layout_values(checked: Mapping[str, Any], layout: str) -> _LayoutValues:
    route = (checked.get("route-config") or {}).get("hash") or DEFAULT_ROUTE
    shared = dict(
        bundles=checked.get("bundles") or {},
        route=route,
        hash_format=checked.get("hash-format"),
        generations=_generations(checked.get("generations") or {}),
        experiments=checked.get("experiments"),
        jsx=_jsx(checked.get("jsx") or {}),
    )
    if layout == "current":
        base = checked.get("base-config") or {}
        variation = checked.get("variation-config") or {}
        return _LayoutValues(
            base_id=base.get("id") or "base",
            base_dir=base.get("dir") or "",
            base_dir_key="base-config.dir",
            variation_dirs=variation.get("variation-dirs") or ("",),
            variation_dirs_key="variation-config.variation-dirs",
            variations=variation.get("variations") or {},
            variations_key="variation-config.variations",
            empty=variation.get("deliberately-empty") or frozenset(),
            empty_key="variation-config.deliberately-empty",
            manifest_dir=base.get("outdir"),
            default_manifest_dir=checked.get("build-dir") or "build",
            **shared,
        )
    outdir = [checked[k] for k in ("outdir", "bundlesoutdir") if checked.get(k) is not None]
    return _LayoutValues(
        base_id=checked.get("base") or "base",
        base_dir=checked.get("basetree") or "base",
        base_dir_key="basetree",
        variation_dirs=(checked.get("variationsdir") or "",),
        variation_dirs_key="variationsdir",
        variations=checked.get("variations") or {},
        variations_key="variations",
        empty=checked.get("deliberately-empty") or frozenset(),
        empty_key="deliberately-empty",
        manifest_dir=posixpath.join(*outdir) if outdir else None,
        default_manifest_dir="mendel-build",
        **shared,
    )


def _assemble(
    values: _LayoutValues, root: str, where: _Where, path: str | None, env: str | None
) -> MendelConfig:
    base_dir = _inside_root(where.child(values.base_dir_key), values.base_dir)
    dirs_where = where.child(values.variation_dirs_key)
    variation_dirs = tuple(
        dict.fromkeys(_inside_root(dirs_where, folder) for folder in values.variation_dirs)
    )
    specs = _variation_specs(values, base_dir, variation_dirs, where)
    return MendelConfig(
        path=path,
        root=root,
        base_id=values.base_id,
        base_dir=base_dir,
        variation_dirs=variation_dirs,
        variation_specs=specs,
        bundles=_bundle_configs(values, base_dir, root, where),
        route=values.route,
        hash_format=values.hash_format,
        env=env,
        generations=values.generations,
        experiments=parse_experiments(
            values.experiments, [spec.id for spec in specs], where.source
        ),
        jsx=values.jsx,
        empty_variations=frozenset(values.empty),
        keys=MappingProxyType({
            "base_dir": values.base_dir_key, "variation_dirs": values.variation_dirs_key,
            "variations": values.variations_key, "empty": values.empty_key,
        }),
    )


def _variation_specs(
    values: _LayoutValues, base_dir: str, variation_dirs: tuple[str, ...], where: _Where
) -> tuple[VariationSpec, ...]:
    specs = []
    for name, parents in values.variations.items():
        name_where = where.child(values.variations_key).child(name)
        if name in (values.base_id, "base"):
            raise name_where.error(f"a variation can't be named like the base ({name!r})")
        folders = [
            _inside_root(name_where, folder_dir, folder)
            for folder_dir in variation_dirs
            for folder in (name, *parents)
        ]
        candidates = tuple(f for f in dict.fromkeys(folders) if f != base_dir)
        groups = tuple(
            (entry, tuple(f for f in dict.fromkeys(
                _inside_root(name_where, folder_dir, entry) for folder_dir in variation_dirs) if f != base_dir))
            for entry in dict.fromkeys((name, *parents))
        )
        specs.append(VariationSpec(name, candidates, tuple(parents), groups))
    return tuple(specs)


def _bundle_configs(
    values: _LayoutValues, base_dir: str, root: str, where: _Where
) -> Mapping[str, BundleConfig]:
    bundles = {}
    route = BundleRoute(values.route)
    for bundle_id, options in values.bundles.items():
        bundle_where = where.child("bundles").child(bundle_id)
        written = options.get("manifest")
        manifest = _manifest_text(values, bundle_id, written)
        manifest_where = bundle_where.child("manifest") if written else bundle_where
        relative = _inside_root(manifest_where, values.manifest_dir or "", manifest)
        serve_as = options.get("serveAs") or "js"
        try:
            route.check_bundle(bundle_id, "." + serve_as)
        except ConfigError as error:
            raise bundle_where.error(str(error)) from None
        bundles[bundle_id] = BundleConfig(
            id=bundle_id,
            manifest=manifest,
            manifest_path=os.path.join(root, *relative.split("/")),
            serve_as=serve_as,
            entries=_entries(options.get("entries") or (), base_dir, bundle_where.child("entries")),
            options=_bundle_options(options),
        )
    return MappingProxyType(bundles)


_FIRST_CLASS_KEYS = frozenset({"manifest", "serveAs", "entries"})


def _bundle_options(options: Mapping[str, Any]) -> Mapping[str, Any]:
    """The set keys other than manifest, serveAs and entries, read-only."""
    kept = {k: v for k, v in options.items() if k not in _FIRST_CLASS_KEYS and v is not None}
    return _frozen(kept)


def _manifest_text(values: _LayoutValues, bundle_id: str, written: str | None) -> str:
    """The manifest as written, or the default: `<id>.manifest.json` in the build/out dir."""
    if written is not None:
        return written
    file_name = f"{bundle_id}.manifest.json"
    if values.manifest_dir is not None:
        return file_name
    return posixpath.join(values.default_manifest_dir, file_name)


def _entries(entries: tuple[str, ...], base_dir: str, where: _Where) -> tuple[str, ...]:
    """Entries relative to the base folder (a `<base_dir>/` prefix written from the root goes)."""
    prefix = f"{base_dir}/" if base_dir else ""
    relative = []
    for entry in entries:
        clean = _inside_root(where, entry)
        relative.append(clean[len(prefix):] if prefix and clean.startswith(prefix) else clean)
    return tuple(relative)


def _inside_root(where: _Where, *parts: str) -> str:
    """Join and normalise relative posix parts; a result outside the root is a ConfigError."""
    for part in parts:
        _reject_absolute(part, where)
    joined = posixpath.normpath(posixpath.join(*(p.replace("\\", "/") for p in parts)))
    if joined == ".." or joined.startswith("../"):
        raise where.error(f"{posixpath.join(*parts)!r} is outside the project root")
    return "" if joined == "." else joined


def _frozen(value: Any) -> Any:
    """A read-only deep copy: mappings become MappingProxyType, lists become tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({key: _frozen(item) for key, item in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(item) for item in value)
    return value


def _generations(section: Mapping[str, Any]) -> GenerationsConfig:
    defaults = GenerationsConfig()
    return GenerationsConfig(
        dir=section.get("dir"),
        keep=section.get("keep") or defaults.keep,
        max_age_days=defaults.max_age_days if section.get("max-age-days") is None else section["max-age-days"],
    )


def _jsx(section: Mapping[str, Any]) -> JsxConfig:
    defaults = JsxConfig()
    return JsxConfig(
        factory=section.get("factory") or defaults.factory,
        fragment=section.get("fragment") or defaults.fragment,
    )

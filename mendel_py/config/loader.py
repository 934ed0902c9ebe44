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

Top-level `ssr` sets server-side rendering (`SsrConfig`): `engine` ("quickjs" or "v8"; default
`MENDEL_SSR_ENGINE`, else quickjs), `memory-limit-mb` (per engine context, default 64),
`timeout` (seconds per render, default 1) and `cache-mb` (a worker's cached contexts, default
256). A bundle's `ssr` (`BundleSsr`) names its server `module` (relative to the base folder, like
`entries`) and its `export` (default "render").

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
              `expose` (mapping of file to public name), `budget` (gzip size, `170kb`: checked
              by `mendel build`, an int of bytes here), and Mendel's pipeline options
              `generator`, `outlet`, `runtime`, `sourcemap`, `envify`, `allBundles`,
              `from` (kept as written). `BundleConfig.options` holds them read-only. `uglify`
              (true/false) is an alias of the top-level `minify`.

Top-level `minify` (default true): `mendel build` minifies every module (`--no-minify` overrides
it; `mendel dev` never minifies). Mendel's `uglify`, at the top level or in a bundle, is an alias;
values that disagree are an error.

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

import os
import posixpath
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

import yaml

from ..errors import ConfigError
from .experiments import parse_experiments
from .model import (
    CONFIG_FILE_NAME,
    DEFAULT_ENV,
    BundleConfig,
    BundleSsr,
    GenerationsConfig,
    JsxConfig,
    MendelConfig,
    SsrConfig,
    VariationSpec,
    manifest_file_name,
)
from .route import DEFAULT_ROUTE, BundleRoute
from .schema import Where, check_top_level, detect_layout, key_name, reject_absolute

__all__ = ["config_from_dict", "config_from_file", "find_config_file", "load_config"]


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


# --- building the config --------------------------------------------------------------------


def _build_config(
    data: Any, root: str, env: str | None, source: str, path: str | None
) -> MendelConfig:
    top = Where(source, "")
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise top.error("expected a mapping at the top level")
    body = {key: value for key, value in data.items() if key != "env"}
    layout = detect_layout(body, top)
    checked = check_top_level(body, layout, top)
    sections = _env_sections(data.get("env"), layout, top.child("env"))
    env_name = _choose_env(env, checked.get("environment"))
    overrides = sections.get(env_name)
    merged = _deep_merge(checked, overrides) if overrides is not None else checked
    return _assemble(
        _layout_values(merged, layout, top),
        root=root,
        where=top,
        path=path,
        env=env_name if overrides is not None else None,
    )


def _env_sections(value: Any, layout: str, where: Where) -> dict[str, dict[str, Any]]:
    """Every `env.<name>` section, validated against the file's layout."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise where.error("expected a mapping of environment names to overrides")
    sections = {}
    for key, section in value.items():
        name = key_name(key, where)
        overrides = {} if section is None else section
        sections[name] = check_top_level(overrides, layout, where.child(name))
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
    minify: bool
    ssr: SsrConfig


def _layout_values(checked: Mapping[str, Any], layout: str, where: Where) -> _LayoutValues:
    route = (checked.get("route-config") or {}).get("hash") or DEFAULT_ROUTE
    shared: dict[str, Any] = dict(
        bundles=checked.get("bundles") or {},
        route=route,
        hash_format=checked.get("hash-format"),
        generations=_generations(checked.get("generations") or {}),
        experiments=checked.get("experiments"),
        jsx=_jsx(checked.get("jsx") or {}),
        minify=_minify(checked, where),
        ssr=_ssr(checked.get("ssr") or {}),
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
    values: _LayoutValues, root: str, where: Where, path: str | None, env: str | None
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
        minify=values.minify,
        ssr=values.ssr,
        empty_variations=frozenset(values.empty),
        keys=MappingProxyType({
            "base_dir": values.base_dir_key, "variation_dirs": values.variation_dirs_key,
            "variations": values.variations_key, "empty": values.empty_key,
        }),
    )


def _variation_specs(
    values: _LayoutValues, base_dir: str, variation_dirs: tuple[str, ...], where: Where
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
    values: _LayoutValues, base_dir: str, root: str, where: Where
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
            ssr=_bundle_ssr(options.get("ssr"), base_dir, bundle_where.child("ssr")),
        )
    return MappingProxyType(bundles)


def _bundle_ssr(section: Mapping[str, Any] | None, base_dir: str, where: Where) -> BundleSsr | None:
    """`bundles.<id>.ssr`: `module` is required, relative to the base folder like `entries`."""
    if not section:
        return None
    if not section.get("module"):
        raise where.child("module").error("the server module is required (a file of the bundle)")
    (module,) = _entries((section["module"],), base_dir, where.child("module"))
    return BundleSsr(module=module, export=section.get("export") or "render")


_FIRST_CLASS_KEYS = frozenset({"manifest", "serveAs", "entries", "ssr"})


def _bundle_options(options: Mapping[str, Any]) -> Mapping[str, Any]:
    """The set keys other than manifest, serveAs and entries, read-only."""
    kept = {k: v for k, v in options.items() if k not in _FIRST_CLASS_KEYS and v is not None}
    return _frozen(kept)


def _manifest_text(values: _LayoutValues, bundle_id: str, written: str | None) -> str:
    """The manifest as written, or the default: `<id>.manifest.json` in the build/out dir."""
    if written is not None:
        return written
    file_name = manifest_file_name(bundle_id)
    if values.manifest_dir is not None:
        return file_name
    return posixpath.join(values.default_manifest_dir, file_name)


def _entries(entries: tuple[str, ...], base_dir: str, where: Where) -> tuple[str, ...]:
    """Entries relative to the base folder (a `<base_dir>/` prefix written from the root goes)."""
    prefix = f"{base_dir}/" if base_dir else ""
    relative = []
    for entry in entries:
        clean = _inside_root(where, entry)
        relative.append(clean[len(prefix):] if prefix and clean.startswith(prefix) else clean)
    return tuple(relative)


def _inside_root(where: Where, *parts: str) -> str:
    """Join and normalise relative posix parts; a result outside the root is a ConfigError."""
    for part in parts:
        reject_absolute(part, where)
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


def _minify(checked: Mapping[str, Any], where: Where) -> bool:
    """`minify`, or Mendel's `uglify` (top level or in bundles: one setting for the project)."""
    given = {key: checked[key] for key in ("minify", "uglify") if key in checked}
    for bundle_id, options in (checked.get("bundles") or {}).items():
        if isinstance(options, Mapping) and "uglify" in options:
            given[f"bundles.{bundle_id}.uglify"] = options["uglify"]
    if len(set(given.values())) > 1:
        listed = ", ".join(f"{key}: {str(value).lower()}" for key, value in given.items())
        raise where.error(
            f"`uglify` is an alias of `minify`, one setting for the whole project; these disagree: {listed}"
        )
    return next(iter(given.values()), True)


def _ssr(section: Mapping[str, Any]) -> SsrConfig:
    defaults = SsrConfig()
    return SsrConfig(
        engine=section.get("engine"),
        memory_limit_mb=section.get("memory-limit-mb") or defaults.memory_limit_mb,
        timeout=section.get("timeout") or defaults.timeout,
        cache_mb=section.get("cache-mb") or defaults.cache_mb,
    )


def _jsx(section: Mapping[str, Any]) -> JsxConfig:
    defaults = JsxConfig()
    return JsxConfig(
        factory=section.get("factory") or defaults.factory,
        fragment=section.get("fragment") or defaults.fragment,
    )

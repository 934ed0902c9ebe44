"""The validated `.mendelrc` as data: `MendelConfig` and the parts it is made of (bundles,
variations, generations, JSX), with the checks that need the project's folders on disk
(`MendelConfig.check_variations`). Reading and checking the file is `loader` and `schema`.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import posixpath
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any

from ..errors import ConfigError
from .experiments import Experiment
from .route import BundleRoute

CONFIG_FILE_NAME = ".mendelrc"
DEFAULT_ENV = "development"
HASH_FORMATS = ("v3", "mendel-v1", "mendel-v2")
"""The `hash-format` values, newest first (`mendel_py.core.hashcodec` implements each)."""
MANIFEST_SUFFIX = ".manifest.json"
"""A bundle's manifest is `<bundle id>.manifest.json` unless `.mendelrc` names another file."""


def manifest_file_name(bundle_id: str) -> str:
    """The default file name of `bundle_id`'s manifest."""
    return bundle_id + MANIFEST_SUFFIX


__all__ = [
    "CONFIG_FILE_NAME",
    "DEFAULT_ENV",
    "DEFAULT_KEEP",
    "DEFAULT_MAX_AGE_DAYS",
    "HASH_FORMATS",
    "JSX_NAME",
    "MANIFEST_SUFFIX",
    "BundleConfig",
    "GenerationsConfig",
    "JsxConfig",
    "MendelConfig",
    "Variation",
    "MissingVariationFolder",
    "VariationProblems",
    "VariationSpec",
    "manifest_file_name",
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
class BundleSsr:
    """`bundles.<id>.ssr`: the module (relative to the base folder, part of the bundle) whose export
    `export` renders: a function (props) -> HTML string. It resolves per tree like every file."""

    module: str
    export: str = "render"


SSR_MEMORY_LIMIT_MB = 64
"""Default cap of one server-rendering engine context, in MiB (`ssr.memory-limit-mb`)."""
SSR_TIMEOUT_SECONDS = 1.0
"""Default wall-clock deadline of one server render (`ssr.timeout`)."""
SSR_CACHE_MB = 256
"""Default budget of a worker process's cached engine contexts, in MiB (`ssr.cache-mb`)."""


@dataclass(frozen=True)
class SsrConfig:
    """Top-level `ssr:`: the engine (None: `MENDEL_SSR_ENGINE`, else quickjs), the per-context
    memory cap, the per-render deadline, and the per-process budget of cached contexts."""

    engine: str | None = None
    memory_limit_mb: int = SSR_MEMORY_LIMIT_MB
    timeout: float = SSR_TIMEOUT_SECONDS
    cache_mb: int = SSR_CACHE_MB


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
    ssr: BundleSsr | None = None
    """The bundle's server entry (`bundles.<id>.ssr`), or None: the bundle isn't server-rendered."""

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
    minify: bool = True
    """`minify:` (or Mendel's `uglify:`): whether `mendel build` minifies (`mendel dev` never does)."""
    ssr: SsrConfig = SsrConfig()
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

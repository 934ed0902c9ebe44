"""What a build did: per bundle counts, variation overrides, and (with --check) stale manifests."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class BundleResult:
    """One bundle's manifest: where it goes, its size, and whether the file on disk differs."""

    id: str
    manifest: str  # path relative to the project root
    serve_as: str
    modules: int
    files: int  # data entries: one per module per folder that has it
    changed: bool  # the file on disk was missing or different (written, or stale with --check)


@dataclass(frozen=True)
class BuildReport:
    """The result of `build_manifests`."""

    bundles: tuple[BundleResult, ...]
    variations: tuple[str, ...]  # variation ids that have a folder on disk, in config order
    variation_dirs: tuple[str, ...]  # their folders, in manifest order
    overrides: dict[str, int] = field(default_factory=dict)  # folder -> files it contributes
    files_read: int = 0
    files_scanned: int = 0  # files the tokenizers ran on (the rest came from the cache)
    check: bool = False

    @property
    def changed(self) -> tuple[str, ...]:
        """Manifests that were (or, with check, would be) rewritten."""
        return tuple(bundle.manifest for bundle in self.bundles if bundle.changed)

    @property
    def stale(self) -> tuple[str, ...]:
        """With check: the manifests that differ from what the sources build; else empty."""
        return self.changed if self.check else ()

    @property
    def ok(self) -> bool:
        return not self.stale

    @property
    def module_count(self) -> int:
        return sum(bundle.modules for bundle in self.bundles)

    def summary_lines(self) -> list[str]:
        """Human summary: bundles, modules, variations, files overridden per variation folder."""
        lines = [
            f"{len(self.bundles)} bundle(s), {self.module_count} module(s), "
            f"{len(self.variations)} variation(s), {self.files_read} file(s) read "
            f"({self.files_scanned} scanned, {self.files_read - self.files_scanned} from cache)"
        ]
        for bundle in self.bundles:
            lines.append(f"  {bundle.id}: {bundle.modules} modules, {bundle.files} files -> "
                         f"{bundle.manifest} ({self._state(bundle)})")
        for folder in self.variation_dirs:
            lines.append(f"  {folder}: {self.overrides.get(folder, 0)} file(s) overridden or added")
        if self.stale:
            lines.append("stale manifests (run `mendel build`):")
            lines.extend(f"  {manifest}" for manifest in self.stale)
        return lines

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for `mendel build --json`)."""
        return {
            "ok": self.ok,
            "check": self.check,
            "bundles": [
                {
                    "id": bundle.id,
                    "manifest": bundle.manifest,
                    "serveAs": bundle.serve_as,
                    "modules": bundle.modules,
                    "files": bundle.files,
                    "changed": bundle.changed,
                }
                for bundle in self.bundles
            ],
            "variations": list(self.variations),
            "variationDirs": list(self.variation_dirs),
            "overrides": dict(self.overrides),
            "filesRead": self.files_read,
            "filesScanned": self.files_scanned,
            "stale": list(self.stale),
        }

    def _state(self, bundle: BundleResult) -> str:
        if self.check:
            return "stale" if bundle.changed else "up to date"
        return "written" if bundle.changed else "unchanged"

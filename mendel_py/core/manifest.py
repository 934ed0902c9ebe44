"""Mendel v1 manifests: load, validate once, compile into a walk-ready form.

Every entry's digests are checked against its source here, once: a `sha` of sha1's length must be
the sha1 of the source (other lengths are opaque ids, as Mendel allows) and a `blake3`, when given,
the blake3 of it; a mismatch is a ManifestError naming the file, module and field, so a tampered or
half-edited manifest never serves new bytes under an old hash.

A compiled `Manifest` holds its modules and their data entries (`Entry`): each with the successor
module indices the walk follows (dependency keys in JavaScript's object-key order, `false` dropped)
and its digests as bytes, so a walk touches only integers, tuples and bytes. Every validation error
names the file, the module and the field, e.g. ``main.manifest.json: bundles[12] ("a.js"):
data[1].deps["./b"] -> "b.js" is not in indexes``. The compiled form is kept on disk by the
manifest's digest (`manifest_cache`), so a process parses and checks a manifest's bytes only once.
"""
from __future__ import annotations

import gc
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import islice
from typing import Any, TypeVar

from .._runtime.allocator import return_freed_memory
from .._runtime.atomic import read_bytes
from ..errors import ManifestError
from . import manifest_cache
from .manifest_check import compile_manifest
from .manifest_model import Entry, Manifest, Module, assemble, js_key_order, pack_source

__all__ = [
    "Entry",
    "Manifest",
    "Module",
    "assemble",
    "compile_manifest",
    "js_key_order",
    "load_manifest",
    "pack_source",
]

T = TypeVar("T")


def load_manifest(path: str, bundle: str, display: str | None = None) -> Manifest:
    """Read and compile the manifest at `path`; errors name it as `display` (default: `path`).

    The compiled form is kept on disk by the manifest's digest (`manifest_cache`), so only the
    first load of a manifest's bytes parses and checks them.
    """
    shown = display or path
    keep_compiled = manifest_cache.enabled()
    with _gc_paused():
        if keep_compiled:
            payload = manifest_cache.read(path, _reading(manifest_cache.file_digest, path, bundle, shown))
            if payload is not None and (kept := _from_payload(payload, shown, bundle)) is not None:
                return kept
        raw = _reading(read_bytes, path, bundle, shown)
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
            raise ManifestError(f"invalid JSON{where}: {getattr(exc, 'msg', exc)}", shown) from None
        body = manifest_cache.dumps(_payload(compile_manifest(data, shown, bundle)))
        del data
        if keep_compiled:  # filed under the digest of the bytes just compiled
            manifest_cache.write(path, manifest_cache.manifest_digest(raw), body)
        del raw
        # The manifest kept is made from the compiled form, as a later load makes it: its
        # objects then sit together instead of among the holes the parsed JSON leaves (a
        # 30,000-module manifest kept 215 MiB of the process this way, against 90 MiB).
        manifest = _build(manifest_cache.loads(body), shown, bundle)
        del body
    return_freed_memory()  # what the parse held (the kept manifest is made of new objects)
    return manifest


def _reading(read: Callable[[str], T], path: str, bundle: str, shown: str) -> T:
    """`read(path)`, its failures as ManifestErrors that say what to do."""
    try:
        return read(path)
    except FileNotFoundError:
        raise ManifestError(
            f"no manifest for bundle {bundle!r} yet: run `mendel build` (after every source edit too)",
            shown,
        ) from None
    except OSError as exc:
        raise ManifestError(f"can't read manifest for bundle {bundle!r}: {exc.strerror}", shown) from None


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Building a large manifest makes hundreds of thousands of objects, and each batch of them
    would start a collection that traverses all the others (none is garbage): a quarter of the
    time of a load."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _payload(manifest: Manifest) -> tuple[Any, ...]:
    """A compiled manifest as plain values (what `manifest_cache` keeps), column by column.

    Columns, not a tuple per entry: loading then leaves a few large lists to free, which go back
    to the system whole, instead of 60,000 small tuples whose holes stay in the process (~10 MiB
    at 30,000 modules). What a walk reads comes first: the module numbers, then every entry's
    blake3 and sha. `marshal` makes each object where it first meets it and refers back to it
    after, so these objects are made side by side in memory, as parsing the JSON did; spread
    among the sources and paths, they made a cold walk a third slower.
    """
    modules = manifest.modules
    entries = [entry for module in modules for entry in module.entries]
    return (
        manifest.source_bytes,
        tuple(manifest.indexes.values()),
        [entry.blake3 for entry in entries],
        [entry.sha for entry in entries],
        [[getattr(m, name) for m in modules] for name in ("id", "entry", "expose", "order", "folders")],
        [len(m.entries) for m in modules],
        [[getattr(e, name) for e in entries] for name in Entry.STORED],
    )


def _from_payload(payload: Any, path: str, bundle: str) -> Manifest | None:
    """The manifest `_payload` made (None if the payload is not of that shape)."""
    try:
        return _build(payload, path, bundle)
    except (TypeError, ValueError, IndexError, AttributeError):
        return None


def _build(payload: Any, path: str, bundle: str) -> Manifest:
    source_bytes, numbers, _blake3, _sha, module_columns, counts, entry_columns = payload
    ids = module_columns[0]
    entries = iter([Entry(*fields, ids) for fields in zip(*entry_columns, strict=True)])  # type: ignore[call-arg]
    modules = tuple(
        Module(module_id, numbers[position], entry, expose, order, folders, tuple(islice(entries, count)))
        for position, (module_id, entry, expose, order, folders, count)
        in enumerate(zip(*module_columns, counts, strict=True))
    )
    return assemble(path, bundle, modules, source_bytes)

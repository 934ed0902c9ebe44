"""Compiled manifests on disk: a second load reads them, and nothing about them can serve wrong bytes."""
from __future__ import annotations

import copy
import gc
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import pytest

from factory import SAMPLE_MAIN, manifest
from mendel_py.core import manifest_cache
from mendel_py.core.manifest import Manifest, load_manifest
from mendel_py.errors import ManifestError


def write_manifest(folder: Path, data: dict[str, Any]) -> Path:
    path = folder / "main.manifest.json"
    path.write_text(json.dumps(data))
    return path


def sample() -> dict[str, Any]:
    data = copy.deepcopy(manifest(SAMPLE_MAIN))
    first = data["bundles"][0]["data"][0]
    first["sha"] = first["sha"].upper()  # spelled as the manifest has it, digests unchanged
    first["origin"] = {"tool": "elsewhere", "lines": [1, 2]}  # a field mendel_py doesn't know
    return data


def cached_files(folder: Path) -> list[Path]:
    return sorted((folder / manifest_cache.CACHE_DIR).glob("*.bin"))


def described(compiled: Manifest) -> list[Any]:
    """Everything a loaded manifest exposes, as plain values."""
    return [
        compiled.roots, compiled.branch_points, sorted(compiled.folders), compiled.source_bytes,
        compiled.successors, compiled.sha, compiled.blake3, dict(compiled.indexes),
        [(m.id, m.index, m.entry, m.expose, m.order, m.folders, [dict(e) for e in m.entries])
         for m in compiled.modules],
    ]


def test_the_second_load_reads_the_compiled_form_and_finds_the_same_manifest(tmp_path, monkeypatch) -> None:
    path = write_manifest(tmp_path, sample())
    first = load_manifest(str(path), "main")
    assert len(cached_files(tmp_path)) == 1
    reads = []
    monkeypatch.setattr("mendel_py.core.manifest.json.loads", lambda raw: reads.append(raw))
    second = load_manifest(str(path), "main", display="shown.json")
    assert reads == []  # no JSON parsed
    assert described(second) == described(first)
    assert second.path == "shown.json"
    entry = second.modules[0].entries[0]
    assert entry["sha"] == sample()["bundles"][0]["data"][0]["sha"]
    assert entry["origin"] == {"tool": "elsewhere", "lines": [1, 2]}


def test_a_changed_manifest_is_compiled_and_checked_again(tmp_path) -> None:
    data = sample()
    path = write_manifest(tmp_path, data)
    load_manifest(str(path), "main")
    entry = data["bundles"][1]["data"][0]
    entry["source"] += " alert(1);"  # its sha no longer matches
    write_manifest(tmp_path, data)
    with pytest.raises(ManifestError, match="sha does not match its source"):
        load_manifest(str(path), "main")
    entry["sha"] = hashlib.sha1(entry["source"].encode()).hexdigest()
    write_manifest(tmp_path, data)
    assert "alert(1)" in load_manifest(str(path), "main").modules[1].entries[0]["source"]
    assert len(cached_files(tmp_path)) == 1  # the older compiled form is gone


@pytest.mark.parametrize("damage", ["payload", "truncated", "header"])
def test_a_damaged_compiled_form_is_only_a_slower_load(tmp_path, damage: str, caplog) -> None:
    path = write_manifest(tmp_path, sample())
    expected = described(load_manifest(str(path), "main"))
    (kept,) = cached_files(tmp_path)
    data = bytearray(kept.read_bytes())
    if damage == "payload":
        data[-5] ^= 0xFF
    elif damage == "truncated":
        del data[len(data) // 2:]
    else:
        data[:8] = b"NOTMINE!"
    kept.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="mendel_py.core.manifest_cache"):
        assert described(load_manifest(str(path), "main")) == expected
    if damage != "header":
        assert "ignoring a corrupt compiled manifest" in caplog.text
    assert cached_files(tmp_path)[0].read_bytes() != bytes(data)  # written again


def test_an_unwritable_folder_and_the_setting_off_keep_nothing(tmp_path, monkeypatch) -> None:
    path = write_manifest(tmp_path, sample())
    (tmp_path / manifest_cache.CACHE_DIR).write_text("not a folder")
    load_manifest(str(path), "main")
    (tmp_path / manifest_cache.CACHE_DIR).unlink()
    monkeypatch.setenv(manifest_cache.SETTING, "off")
    load_manifest(str(path), "main")
    assert not (tmp_path / manifest_cache.CACHE_DIR).exists()


def test_the_compiled_form_is_readable_like_the_manifest_and_ignored_by_git(tmp_path) -> None:
    path = write_manifest(tmp_path, sample())
    load_manifest(str(path), "main")
    assert os.stat(cached_files(tmp_path)[0]).st_mode & 0o777 == 0o644
    assert (tmp_path / manifest_cache.CACHE_DIR / ".gitignore").read_text() == "*\n"


def test_entries_are_read_only_mappings_of_the_manifest_fields(tmp_path) -> None:
    data = sample()
    data["bundles"][1]["data"][0]["deps"] = {"10": "lib/util.js", "./a": "lib/util.js", "x": False}
    compiled = load_manifest(str(write_manifest(tmp_path, data)), "main")
    written = data["bundles"][1]["data"][0]
    entry = compiled.modules[1].entries[0]
    assert dict(entry) == {**written, "blake3": entry["blake3"]}
    assert len(entry) == len(written) + 1 and "lazy" not in entry
    assert dict(entry["deps"]) == written["deps"] and list(entry["deps"]) == ["10", "./a", "x"]
    util = compiled.indexes["lib/util.js"]
    assert compiled.successors[1][0] == (util, util)
    with pytest.raises(TypeError):
        entry["deps"]["x"] = "lib/util.js"
    with pytest.raises(KeyError):
        entry["nothing"]


def test_file_digests_are_remembered_only_for_files_not_just_written(tmp_path, monkeypatch) -> None:
    path = tmp_path / "m.json"
    path.write_bytes(b"one")
    hashed = []
    real = manifest_cache.manifest_digest
    monkeypatch.setattr(manifest_cache, "manifest_digest", lambda raw: hashed.append(1) or real(raw))
    assert manifest_cache.file_digest(str(path)) == real(b"one")
    manifest_cache.file_digest(str(path))
    assert len(hashed) == 2  # written a moment ago: a second write could keep its stat
    old = os.stat(path).st_mtime - 60
    os.utime(path, (old, old))
    manifest_cache.file_digest(str(path))
    manifest_cache.file_digest(str(path))
    assert len(hashed) == 4  # changing the mtime changed the ctime: read once more, then kept
    time_ns = manifest_cache.time.time_ns
    monkeypatch.setattr(manifest_cache.time, "time_ns", lambda: time_ns() + 10**10)
    manifest_cache.file_digest(str(path))
    manifest_cache.file_digest(str(path))
    assert len(hashed) == 5
    path.write_bytes(b"two")
    assert manifest_cache.file_digest(str(path)) == real(b"two")


def test_the_generation_id_from_remembered_digests_is_the_published_one(tmp_path) -> None:
    from factory import write_project
    from mendel_py.config import load_config
    from mendel_py.core.generations import generation_id, project_files, project_generation_id

    config = load_config(str(write_project(tmp_path)))
    assert project_generation_id(config) == generation_id(project_files(config))


def test_sources_are_kept_compressed_and_read_back_exactly(tmp_path) -> None:
    data = sample()
    long_source = "".join(f"function f{i}(a, b) {{ return a * {i} + b; }}\n" for i in range(400))
    sources = ["", "var s = 'héllo wörld 𝄞 \u2028';\n", long_source]
    for entry, source in zip((e for m in data["bundles"] for e in m["data"]), sources):
        entry["source"], entry["sha"] = source, hashlib.sha1(source.encode()).hexdigest()
    path = write_manifest(tmp_path, data)
    for compiled in (load_manifest(str(path), "main"), load_manifest(str(path), "main")):  # JSON, kept form
        loaded = [e for m in compiled.modules for e in m.entries][:len(sources)]
        assert [e["source"] for e in loaded] == sources
        assert [e.utf8_source for e in loaded] == [s.encode() for s in sources]
        held = gc.get_referents(loaded[2])  # what the entry itself keeps
        assert not any(isinstance(value, str) and len(value) > 100 for value in held)
        assert sum(len(value) for value in held if isinstance(value, bytes)) < len(long_source) / 4

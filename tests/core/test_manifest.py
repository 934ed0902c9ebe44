"""Manifest loading: every malformed input is a ManifestError naming file, module and field."""
from __future__ import annotations

import copy
import hashlib
import json

import pytest

from factory import SAMPLE_MAIN, manifest
from mendel_py.core.hashcodec import file_blake3
from mendel_py.core.manifest import compile_manifest, load_manifest
from mendel_py.errors import ManifestError


def sample() -> dict:
    return copy.deepcopy(manifest(SAMPLE_MAIN))


def position(data: dict, module_id: str) -> int:
    return data["indexes"][module_id]


def test_compiles_walk_tables() -> None:
    data = sample()
    compiled = compile_manifest(data, "main.manifest.json", "main")
    main = position(data, "main.js")
    header = position(data, "components/header.js")
    util = position(data, "lib/util.js")
    assert compiled.roots == (main,)
    assert compiled.successors[header][0] == (util,)
    assert compiled.successors[header][1] == (position(data, "components/banner.js"), util)
    assert compiled.successors[main][0] == (header, position(data, "components/button.js"))
    assert set(compiled.branch_points) == {header, position(data, "components/button.js"), util}
    assert "src/variations/bucket_D" in compiled.folders
    entry = compiled.modules[main].entries[0]
    assert entry["file"] == "src/base/main.js"
    assert compiled.blake3[main][0] == file_blake3(entry["source"]) == bytes.fromhex(entry["blake3"])
    with pytest.raises(TypeError):
        entry["source"] = "changed"  # read-only


def test_blake3_field_is_checked_when_present() -> None:
    data = sample()
    entry = data["bundles"][0]["data"][0]
    entry["blake3"] = file_blake3(entry["source"]).hex()
    compiled = compile_manifest(data, "m.json", "main")
    assert compiled.blake3[0][0] == file_blake3(entry["source"])


def tamper(field: str):
    def edit(data: dict) -> None:
        entry = data["bundles"][position(data, "components/button.js")]["data"][1]
        if field == "blake3":
            entry["blake3"] = file_blake3(entry["source"]).hex()
        entry["source"] += " alert(1);"
    return edit


@pytest.mark.parametrize("field", ["sha", "blake3"])
def test_a_source_that_no_longer_matches_its_digest_is_refused(field: str) -> None:
    data = sample()
    tamper(field)(data)
    if field == "blake3":  # sha kept consistent so only blake3 can catch it
        entry = data["bundles"][position(data, "components/button.js")]["data"][1]
        entry["sha"] = hashlib.sha1(entry["source"].encode()).hexdigest()
    with pytest.raises(ManifestError) as raised:
        compile_manifest(data, "main.manifest.json", "main")
    error = raised.value
    assert (error.path, error.module, error.field) == ("main.manifest.json", "components/button.js", f"data[1].{field}")
    assert str(error).startswith('main.manifest.json: bundles[1] ("components/button.js"): data[1].')
    assert "does not match its source" in str(error)


def test_sha_of_another_length_is_an_opaque_id_and_case_does_not_matter() -> None:
    data = sample()
    data["bundles"][0]["data"][0]["sha"] = "ba"
    entry = data["bundles"][1]["data"][0]
    entry["sha"] = entry["sha"].upper()
    compile_manifest(data, "m.json", "main")


def test_a_lone_surrogate_in_a_source_is_a_manifest_error() -> None:
    message = mutate(lambda data: data["bundles"][0]["data"][0].update(source="\ud800", sha="ba"))
    assert "data[0].source is not valid Unicode" in message


def mutate(edit) -> str:
    data = sample()
    edit(data)
    with pytest.raises(ManifestError) as raised:
        compile_manifest(data, "main.manifest.json", "main")
    return str(raised.value)


def test_dangling_dep_names_file_module_and_field() -> None:
    def edit(data):
        data["bundles"][position(data, "main.js")]["data"][0]["deps"]["./x"] = "nowhere.js"
    message = mutate(edit)
    index = position(sample(), "main.js")
    assert message == (
        f'main.manifest.json: bundles[{index}] ("main.js"): data[0].deps["./x"] -> "nowhere.js" is not in indexes'
    )


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda d: d.pop("indexes"), '"indexes" must be an object'),
        (lambda d: d.__setitem__("bundles", {}), '"bundles" must be an array'),
        (lambda d: d["indexes"].__setitem__("main.js", 99), 'indexes["main.js"] = 99'),
        (lambda d: d["bundles"][0].__setitem__("data", []), '"data" must be a non-empty array'),
        (lambda d: d["bundles"][0]["variations"].append("x"), '"variations" must be an array of 1'),
        (lambda d: d["bundles"][0]["data"][0].__setitem__("sha", "xyz"), "data[0].sha must be hex"),
        (lambda d: d["bundles"][0]["data"][0].__setitem__("source", None), "data[0].source must be a string"),
        (lambda d: d["bundles"][0]["data"][0].__setitem__("deps", []), "data[0].deps must be an object"),
        (lambda d: d["bundles"][0]["data"][0]["deps"].__setitem__("./n", 3), 'deps["./n"] must be a module id or false'),
        (lambda d: d["bundles"][0]["data"][0].__setitem__("blake3", "zz"), "data[0].blake3 must be 64"),
        (lambda d: d["bundles"][0].__setitem__("entry", "yes"), '"entry" must be true or false'),
        (lambda d: d["bundles"][0].__setitem__("order", "1"), '"order" must be a number'),
        (lambda d: d["bundles"][0].__setitem__("index", 5), '"index" is 5, expected 0'),
        (lambda d: d["bundles"][0]["data"][0].__setitem__("variation", "src/other"), "data[0].variation is"),
        (lambda d: d["bundles"].append(d["bundles"][0]), "indexes has 5 ids but bundles has 6"),
    ],
)
def test_each_malformed_field_is_named(edit, needle: str) -> None:
    message = mutate(edit)
    assert message.startswith("main.manifest.json: ")
    assert needle in message


def test_missing_and_invalid_files(tmp_path) -> None:
    with pytest.raises(ManifestError, match=r"manifests/x.json: no manifest for bundle 'x' yet: run `mendel build`"):
        load_manifest(str(tmp_path / "nope.json"), "x", display="manifests/x.json")
    with pytest.raises(ManifestError, match=r"manifests/x.json: can't read manifest for bundle 'x'"):
        load_manifest(str(tmp_path), "x", display="manifests/x.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"indexes": {},\n "bundles": [}')
    with pytest.raises(ManifestError, match=r"bad.json: invalid JSON at line 2 column 14"):
        load_manifest(str(bad), "main", display="bad.json")
    good = tmp_path / "good.json"
    good.write_text(json.dumps(sample()))
    assert load_manifest(str(good), "main").bundle == "main"

"""The in-memory incremental build: every kind of edit ends byte-identical to a full `mendel build`."""
from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest

from mendel_py.compiler import BuildError, build_manifests, bundle_spec
from mendel_py.compiler.graph import collect_bundle
from mendel_py.compiler.incremental import IncrementalBuild
from mendel_py.compiler.layout import ProjectLayout
from mendel_py.compiler.manifest_writer import manifest_bytes, manifest_document
from mendel_py.compiler.parsecache import ParseCache
from mendel_py.compiler.sources import SourceLoader
from mendel_py.config import load_config

REPO = Path(__file__).resolve().parents[2]


def load_bench_build():  # type: ignore[no-untyped-def]
    name = "bench_build"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / "bench_build.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture()
def project(tmp_path: Path):  # type: ignore[no-untyped-def]
    return load_bench_build().generate_project(str(tmp_path), files=160, variations=3)


def manifests_on_disk(root: str) -> dict[str, bytes]:
    config = load_config(root)
    return {b: Path(c.manifest_path).read_bytes() for b, c in config.bundles.items()}


def assert_matches_full_build(root: str) -> None:
    report = build_manifests(load_config(root), check=True)
    assert report.stale == ()


def started(root: str) -> IncrementalBuild:
    build = IncrementalBuild(load_config(root))
    assert build.update(()).mode == "full"
    assert_matches_full_build(root)
    return build


def edit(path: str, old: str, new: str) -> None:
    text = Path(path).read_text()
    assert old in text
    Path(path).write_text(text.replace(old, new, 1))


def test_chunked_writer_is_json_dumps_byte_for_byte(project) -> None:  # type: ignore[no-untyped-def]
    config = load_config(project.root)
    layout = ProjectLayout.from_config(config)
    loader = SourceLoader(layout.absolute, ParseCache.disabled())
    for bundle in config.bundles.values():
        graph = collect_bundle(bundle_spec(bundle, config), layout, loader)
        text = json.dumps(manifest_document(graph), indent=2, sort_keys=True, ensure_ascii=False)
        memo: dict = {}
        assert manifest_bytes(graph, used=memo) == (text + "\n").encode("utf-8")
        assert len(memo) == len(graph.modules)
        assert manifest_bytes(graph, memo=memo) == (text + "\n").encode("utf-8")


def test_body_edit_patches_one_bundle(project) -> None:  # type: ignore[no-untyped-def]
    build = started(project.root)
    before = manifests_on_disk(project.root)
    path = os.path.join(project.root, "src/base", project.base_modules[3])
    edit(path, "return label + v0;", "return label + v0 + 1;")
    result = build.update([path])
    assert result.mode == "patch" and result.written == ("main",)
    assert_matches_full_build(project.root)
    after = manifests_on_disk(project.root)
    assert after["main"] != before["main"] and after["css"] == before["css"]


def test_changed_require_recollects(project) -> None:  # type: ignore[no-untyped-def]
    build = started(project.root)
    path = os.path.join(project.root, "src/base", project.base_modules[2])
    Path(path).write_text(Path(path).read_text() + "\nvar extra = require('./added_only_here.js');\n")
    Path(path).with_name("added_only_here.js").write_text("module.exports = 42;\n")
    result = build.update([path, str(Path(path).with_name("added_only_here.js"))])
    assert result.mode == "layout"
    assert_matches_full_build(project.root)
    edit(path, "var extra = require('./added_only_here.js');", "var extra = 1;")
    assert build.update([path]).mode == "collect"
    assert_matches_full_build(project.root)


def test_deleted_variation_file_and_new_variation_file(project) -> None:  # type: ignore[no-untyped-def]
    build = started(project.root)
    folder = Path(project.root, "src/variations", project.variations[0])
    overrides = sorted(p for p in folder.rglob("*.js") if Path(project.root, "src/base", p.relative_to(folder)).exists())
    victim = overrides[0]  # the base file takes over
    victim.unlink()
    assert build.update([str(victim)]).mode == "layout"
    assert_matches_full_build(project.root)
    base_file = Path(project.root, "src/base", project.base_modules[4])
    twin = Path(project.root, "src/variations", project.variations[1], project.base_modules[4])
    twin.parent.mkdir(parents=True, exist_ok=True)
    twin.write_text(base_file.read_text().replace("return label + v0;", "return 'variation';"))
    assert build.update([str(twin)]).mode == "layout"
    assert_matches_full_build(project.root)


def test_config_edit_rebuilds_everything(project) -> None:  # type: ignore[no-untyped-def]
    build = started(project.root)
    rc = Path(project.root, ".mendelrc")
    dropped = project.variations[-1]
    rc.write_text(rc.read_text().replace(f"    {dropped}:\n", ""))
    assert build.update([str(rc)]).mode == "full"
    assert_matches_full_build(project.root)
    assert dropped not in json.dumps(json.loads(Path(load_config(project.root).bundles["main"].manifest_path).read_text()))


def test_a_broken_edit_raises_and_changes_nothing(project) -> None:  # type: ignore[no-untyped-def]
    build = started(project.root)
    before = manifests_on_disk(project.root)
    path = os.path.join(project.root, "src/base", project.base_modules[3])
    good = Path(path).read_text()
    Path(path).write_text(good + "\nvar broken = 'unterminated;\n")
    with pytest.raises(BuildError) as caught:
        build.update([path])
    assert caught.value.file == f"src/base/{project.base_modules[3]}"
    assert manifests_on_disk(project.root) == before
    other = os.path.join(project.root, "src/base", project.base_modules[6])
    edit(other, "return label + v0;", "return label + v0 + 2;")
    with pytest.raises(BuildError):  # the broken file is still broken: an edit elsewhere can't hide it
        build.update([other])
    Path(path).write_text(good.replace("return label + v0;", "return label;"))
    assert build.update([path]).written == ("main",)
    assert_matches_full_build(project.root)


def test_temp_files_and_unrelated_files_change_nothing(project) -> None:  # type: ignore[no-untyped-def]
    build = started(project.root)
    gone = os.path.join(project.root, "src/base", "sedX1b2c3")  # created and renamed away already
    notes = Path(project.root, "src/base", "NOTES.md")
    notes.write_text("not a module\n")
    assert build.update([gone]).mode == "none"
    assert build.update([os.path.join(project.root, ".mendel-cache", "parse-v1.json")]).mode == "none"
    result = build.update([str(notes)])
    assert result.written == ()


def test_files_of_a_failed_update_are_all_compared_again(project) -> None:  # type: ignore[no-untyped-def]
    build = started(project.root)
    first, second = sorted(m for m in project.base_modules if "/" in m)[:2]  # parsed in this order
    grows = os.path.join(project.root, "src/base", first)
    breaks = os.path.join(project.root, "src/base", second)
    target = os.path.relpath(os.path.join(project.root, "src/base", project.base_modules[1]), os.path.dirname(grows))
    Path(grows).write_text(Path(grows).read_text() + f"\nvar more = require({json.dumps('./' + target)});\n")
    good = Path(breaks).read_text()
    Path(breaks).write_text(good + "\nvar broken = 'unterminated;\n")
    with pytest.raises(BuildError):
        build.update([grows, breaks])  # saved together: one parses, the next fails
    Path(breaks).write_text(good)
    assert build.update([breaks]).mode == "collect"  # the new require is seen, not patched over
    assert_matches_full_build(project.root)

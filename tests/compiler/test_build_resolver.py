"""How `mendel build` resolves specifiers: Node/browserify rules over the variation overlay."""
from __future__ import annotations

from pathlib import Path

import pytest

from build_support import build, deps_by_folder, make_project, manifest, module
from mendel_py.compiler import BuildError

BASE = "src/base"
VAR_A = "src/variations/var_a"
RC_WITH_EXTERNAL = """\
base-config:
  dir: ./src/base
variation-config:
  variation-dirs: [./src/variations]
bundles:
  main:
    entries: [main.js]
    external: [react, "@corp/ui"]
    manifest: manifests/main.manifest.json
"""


def main_deps(root: Path) -> dict[str, object]:
    return deps_by_folder(manifest(root), "main.js")[BASE]


def test_relative_paths_try_js_json_then_index(tmp_path: Path) -> None:
    make_project(tmp_path, {
        f"{BASE}/main.js": "require('./a'); require('./b'); require('./c'); require('./d'); require('./e.js');",
        f"{BASE}/a.js": "",
        f"{BASE}/b.json": '{"x": 1}',
        f"{BASE}/c/index.js": "",
        f"{BASE}/d/index.json": "[]",
        f"{BASE}/e.js": "",
    })
    build(tmp_path)
    assert main_deps(tmp_path) == {
        "./a": "a.js", "./b": "b.json", "./c": "c/index.js", "./d": "d/index.json", "./e.js": "e.js",
    }


def test_file_beats_folder_and_parent_paths_resolve(tmp_path: Path) -> None:
    make_project(tmp_path, {
        f"{BASE}/main.js": "require('./lib/x'); require('./lib')",
        f"{BASE}/lib/x.js": "require('../util/y'); require('..')",
        f"{BASE}/lib/x/index.js": "",
        f"{BASE}/lib.js": "",
        f"{BASE}/lib/index.js": "",
        f"{BASE}/util/y.js": "",
        f"{BASE}/index.js": "",
    })
    build(tmp_path)
    document = manifest(tmp_path)
    assert main_deps(tmp_path) == {"./lib/x": "lib/x.js", "./lib": "lib.js"}
    assert deps_by_folder(document, "lib/x.js")[BASE] == {"../util/y": "util/y.js", "..": "index.js"}


def test_json_module_source_is_a_commonjs_body(tmp_path: Path) -> None:
    make_project(tmp_path, {
        f"{BASE}/main.js": "require('./data.json')",
        f"{BASE}/data.json": '\ufeff{\n  "a": [1, 2]\n}\n',
    })
    build(tmp_path)
    entry = module(manifest(tmp_path), "data.json")["data"][0]
    assert entry["source"] == 'module.exports = {\n  "a": [1, 2]\n};'
    assert entry["deps"] == {}


def test_node_modules_main_browser_and_index(tmp_path: Path) -> None:
    make_project(tmp_path, {
        f"{BASE}/main.js": "require('with-main'); require('with-browser'); require('plain'); require('plain/extra')",
        "node_modules/with-main/package.json": '{"main": "lib/entry"}',
        "node_modules/with-main/lib/entry.js": "require('./helper')",
        "node_modules/with-main/lib/helper.js": "",
        "node_modules/with-browser/package.json": '{"main": "server.js", "browser": "./client.js"}',
        "node_modules/with-browser/client.js": "",
        "node_modules/with-browser/server.js": "",
        "node_modules/plain/index.js": "",
        "node_modules/plain/extra.js": "",
    })
    build(tmp_path)
    document = manifest(tmp_path)
    assert main_deps(tmp_path) == {
        "with-main": "node_modules/with-main/lib/entry.js",
        "with-browser": "node_modules/with-browser/client.js",
        "plain": "node_modules/plain/index.js",
        "plain/extra": "node_modules/plain/extra.js",
    }
    entry = module(document, "node_modules/with-main/lib/entry.js")
    assert entry["variations"] == [BASE]
    assert entry["data"][0]["file"] == "node_modules/with-main/lib/entry.js"
    assert entry["data"][0]["deps"] == {"./helper": "node_modules/with-main/lib/helper.js"}
    assert "node_modules/with-browser/server.js" not in document["indexes"]


def test_browser_object_form_falls_back_to_main(tmp_path: Path) -> None:
    make_project(tmp_path, {
        f"{BASE}/main.js": "require('pkg')",
        "node_modules/pkg/package.json": '{"main": "main.js", "browser": {"./x.js": false}}',
        "node_modules/pkg/main.js": "",
    })
    build(tmp_path)
    assert main_deps(tmp_path) == {"pkg": "node_modules/pkg/main.js"}


def test_nearest_node_modules_wins_and_scoped_packages(tmp_path: Path) -> None:
    make_project(tmp_path, {
        f"{BASE}/main.js": "require('./deep/file')",
        f"{BASE}/deep/file.js": "require('dup'); require('@scope/pkg')",
        f"{BASE}/node_modules/dup/index.js": "",
        "node_modules/dup/index.js": "",
        "node_modules/@scope/pkg/index.js": "",
    })
    build(tmp_path)
    assert deps_by_folder(manifest(tmp_path), "deep/file.js")[BASE] == {
        "dup": "node_modules/dup/index.js",
        "@scope/pkg": "node_modules/@scope/pkg/index.js",
    }
    document = manifest(tmp_path)
    assert module(document, "node_modules/dup/index.js")["data"][0]["file"] == f"{BASE}/node_modules/dup/index.js"


def test_node_modules_outside_the_project_root_are_not_used(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (tmp_path / "node_modules" / "outside").mkdir(parents=True)
    (tmp_path / "node_modules" / "outside" / "index.js").write_text("")
    make_project(project, {f"{BASE}/main.js": "require('outside')"})
    with pytest.raises(BuildError, match=r'cannot resolve require\("outside"\)'):
        build(project)


def test_externals_and_builtins_are_false(tmp_path: Path) -> None:
    make_project(tmp_path, {
        f"{BASE}/main.js": (
            "require('react'); require('react/jsx-runtime'); require('@corp/ui/button');"
            "require('fs'); require('node:path'); require('events')"
        ),
        "node_modules/events/index.js": "",
    }, RC_WITH_EXTERNAL)
    build(tmp_path)
    assert main_deps(tmp_path) == {
        "react": False, "react/jsx-runtime": False, "@corp/ui/button": False,
        "fs": False, "node:path": False, "events": "node_modules/events/index.js",
    }


def test_an_external_listed_package_is_false_even_if_installed(tmp_path: Path) -> None:
    make_project(tmp_path, {
        f"{BASE}/main.js": "require('react')",
        "node_modules/react/index.js": "",
    }, RC_WITH_EXTERNAL)
    build(tmp_path)
    assert main_deps(tmp_path) == {"react": False}
    assert "node_modules/react/index.js" not in manifest(tmp_path)["indexes"]


@pytest.mark.parametrize(
    ("spec", "shown"),
    [("./missing", 'require("./missing")'), ("left-pad", 'require("left-pad")')],
)
def test_unresolvable_require_names_file_line_and_specifier(tmp_path: Path, spec: str, shown: str) -> None:
    make_project(tmp_path, {
        f"{BASE}/main.js": "require('./a');",
        f"{BASE}/a.js": f"var x = 1;\n\nvar y = require('{spec}');\n",
    })
    with pytest.raises(BuildError) as caught:
        build(tmp_path)
    error = caught.value
    assert (error.file, error.line) == (f"{BASE}/a.js", 3)
    assert f"cannot resolve {shown}" in str(error)
    assert str(error).startswith(f"{BASE}/a.js:3:9: ")


def test_variation_file_resolves_through_its_chain(tmp_path: Path) -> None:
    """A variation file sees its own folder, the folders it inherits from, then base."""
    make_project(tmp_path, {
        f"{BASE}/main.js": "require('./x')",
        f"{BASE}/x.js": "",
        f"{BASE}/shared.js": "",
        "src/variations/var_a/only_a.js": "",
        "src/variations/var_c/x.js": "require('./only_a'); require('./shared')",
    })
    build(tmp_path)
    document = manifest(tmp_path)
    assert deps_by_folder(document, "x.js")["src/variations/var_c"] == {
        "./only_a": "only_a.js", "./shared": "shared.js",
    }
    assert module(document, "only_a.js")["variations"] == [VAR_A]


def test_base_file_does_not_see_variation_only_files(tmp_path: Path) -> None:
    make_project(tmp_path, {
        f"{BASE}/main.js": "require('./only_a')",
        f"{VAR_A}/only_a.js": "",
    })
    with pytest.raises(BuildError, match=r'main.js:1:1: cannot resolve require\("./only_a"\)'):
        build(tmp_path)

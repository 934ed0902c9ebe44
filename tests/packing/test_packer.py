"""Packing trees into JS (own browser-pack style prelude) and CSS bytes."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakes import FakeTree, make_tree
from mendel_py.packing.packer import JS_PRELUDE, _js_literal, _key_literal, pack_css, pack_js, packer_for

NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed")


APP_TREE_SPECS = [
    {"id": "pkg/components/button.js", "source": "module.exports = function () { return 'button:' + require('../lib/util.js').name; };",
     "deps": {"../lib/util.js": "pkg/lib/util.js"}},
    {"id": "pkg/lib/util.js", "source": "exports.name = 'util';", "deps": {}},
    {"id": "pkg/main.js", "entry": True,
     "source": "var button = require('./components/button.js');\nwindow.log.push('main ran ' + button());\n"
               "module.exports = 'main';\n//# sourceMappingURL=src/variations/bucket_A/main.js.map",
     "deps": {"./components/button.js": "pkg/components/button.js", "react": False}},
    {"id": "pkg/lib/shared.js", "expose": "shared", "source": "module.exports = {answer: 42};", "deps": {}},
]


def app_tree() -> FakeTree:
    return make_tree("app", APP_TREE_SPECS)


def defs_of(script: bytes) -> str:
    """The packed module definitions (everything after the prelude)."""
    return script.decode().split(JS_PRELUDE, 1)[1]


def test_js_output_has_no_paths_or_variation_folders() -> None:
    packed = pack_js(app_tree()).decode()
    for needle in ("src/", "bucket_A", "variations", "pkg/", "sourceMappingURL"):
        assert needle not in packed, needle
    # specifiers (what the source itself requires) stay: they are part of the module code
    assert '"./components/button.js":1' in packed


def test_js_renumbers_modules_and_uses_expose_names() -> None:
    defs = defs_of(pack_js(app_tree()))
    assert defs.index("[1,function(require,module,exports){\nmodule.exports = function") >= 0
    assert "[2,function(require,module,exports){\nexports.name" in defs
    assert '[3,function(require,module,exports){\nvar button' in defs
    assert '["shared",function(require,module,exports){\nmodule.exports = {answer: 42};\n},{}]' in defs


def test_js_deps_false_stay_false() -> None:
    defs = defs_of(pack_js(app_tree()))
    assert '{"./components/button.js":1,"react":false}' in defs


def test_js_entries_are_listed_in_order() -> None:
    specs = [
        {"id": "a.js", "entry": True, "source": "1"},
        {"id": "b.js", "entry": True, "order": 0, "source": "2"},
        {"id": "c.js", "source": "3"},
        {"id": "d.js", "entry": True, "source": "4"},
    ]
    script = pack_js(make_tree("x", specs)).decode()
    assert script.endswith('],[2,1,4],typeof require=="function"&&require);\n')


def test_js_is_deterministic_and_sorts_dep_keys() -> None:
    first = pack_js(app_tree())
    second = pack_js(make_tree("app", [dict(s, deps=dict(reversed(list(s.get("deps", {}).items()))))
                                       for s in APP_TREE_SPECS]))
    assert first == second


def test_js_numbers_skip_names_taken_by_exposed_modules() -> None:
    specs = [
        {"id": "a.js", "entry": True, "source": "", "deps": {"x": "b.js"}},
        {"id": "b.js", "expose": "2", "source": ""},
        {"id": "c.js", "source": ""},
    ]
    defs = defs_of(pack_js(make_tree("x", specs)))
    assert '[1,function' in defs and '["2",function' in defs and '[3,function' in defs


def test_js_escapes_script_closing_tags_in_ids() -> None:
    specs = [{"id": "a.js", "expose": "</script><b>", "entry": True, "source": ""}]
    script = pack_js(make_tree("x", specs)).decode()
    assert "</script>" not in script


def test_js_ids_are_fixed_per_manifest_so_pieces_are_shared_by_trees() -> None:
    full = app_tree()
    part = FakeTree("app", "H2", full.manifest, ((1, 0), (3, 0)))  # util and shared only
    defs = defs_of(pack_js(part))
    assert defs.startswith('([[2,function(require,module,exports){\nexports.name')
    assert '["shared",function' in defs and "[1,function" not in defs
    assert defs.endswith("],[],typeof require==\"function\"&&require);\n")  # no entry in it
    whole = pack_js(full)
    assert packer_for(full.manifest) is packer_for(part.manifest)
    pieces = packer_for(full.manifest)._js
    assert pieces[1][0] is not None and pieces[1][0] in whole  # made once, joined into both


def test_prepare_makes_every_piece_and_changes_nothing() -> None:
    lazily = pack_js(app_tree())
    tree = app_tree()
    packer_for(tree.manifest).prepare()
    assert all(piece is not None for pieces in packer_for(tree.manifest)._js for piece in pieces)
    assert pack_js(tree) == lazily


def test_css_concatenates_by_order_then_index() -> None:
    specs = [
        {"id": "late.css", "order": 5, "source": "late{}"},
        {"id": "none.css", "source": "unordered{}"},
        {"id": "early.css", "order": 1, "source": "early{}"},
        {"id": "also_early.css", "order": 1, "source": "early2{}"},
    ]
    assert pack_css(make_tree("css", specs)) == b"early{}\nearly2{}\nlate{}\nunordered{}\n"


def test_css_keeps_utf8() -> None:
    tree = make_tree("css", [{"id": "a.css", "order": 0, "source": 'a::after{content:"é"}'}])
    assert pack_css(tree) == 'a::after{content:"é"}\n'.encode()


# --- executing the prelude in node -------------------------------------------------------------

NODE_HARNESS = r"""
const vm = require('vm');
const fs = require('fs');
const window = {log: []};
const sandbox = {window: window};
sandbox.globalThis = sandbox;
vm.createContext(sandbox);
for (const file of process.argv.slice(2, -1)) vm.runInContext(fs.readFileSync(file, 'utf8'), sandbox);
const probe = new vm.Script(process.argv[process.argv.length - 1]);
let result;
try { result = {value: probe.runInContext(sandbox)}; }
catch (e) { result = {error: String(e.message), code: e.code || null}; }
console.log(JSON.stringify({log: window.log, result: result}));
"""


def run_in_node(tmp_path: Path, bundles: list[bytes], probe: str) -> dict[str, Any]:
    harness = tmp_path / "harness.js"
    harness.write_text(NODE_HARNESS)
    files = []
    for number, bundle in enumerate(bundles):
        path = tmp_path / f"bundle{number}.js"
        path.write_bytes(bundle)
        files.append(str(path))
    done = subprocess.run([NODE, str(harness), *files, probe], capture_output=True, text=True,
                          timeout=60, check=True)
    return json.loads(done.stdout)


@needs_node
def test_node_runs_entry_resolves_requires_and_exposes(tmp_path: Path) -> None:
    out = run_in_node(tmp_path, [pack_js(app_tree())], "require('shared').answer")
    assert out["log"] == ["main ran button:util"]
    assert out["result"] == {"value": 42}


@needs_node
def test_node_numbered_modules_are_not_public(tmp_path: Path) -> None:
    out = run_in_node(tmp_path, [pack_js(app_tree())], "require('nope')")
    assert out["result"] == {"error": "Cannot find module 'nope'", "code": "MODULE_NOT_FOUND"}


@needs_node
def test_node_two_bundles_cooperate(tmp_path: Path) -> None:
    vendor = make_tree("vendor", [
        {"id": "node_modules/react/index.js", "expose": "react", "source": "module.exports = {name: 'react'};"},
    ])
    app = make_tree("app", [
        {"id": "main.js", "entry": True, "deps": {"react": False, "./lib.js": "lib.js"},
         "source": "window.log.push('react=' + require('react').name + ' lib=' + require('./lib.js'));"},
        {"id": "lib.js", "expose": "lib", "source": "module.exports = 'L';"},
    ])
    out = run_in_node(tmp_path, [pack_js(vendor), pack_js(app)],
                      "require('react').name + require('lib')")
    assert out["log"] == ["react=react lib=L"]
    # the later bundle's global require still reaches the earlier bundle's modules
    assert out["result"] == {"value": "reactL"}


@needs_node
def test_node_earlier_bundle_reaches_later_modules(tmp_path: Path) -> None:
    first = make_tree("first", [
        {"id": "f.js", "expose": "first", "deps": {"second": False},
         "source": "module.exports = function () { return require('second'); };"},
    ])
    second = make_tree("second", [{"id": "s.js", "expose": "second", "source": "module.exports = 'S';"}])
    out = run_in_node(tmp_path, [pack_js(first), pack_js(second)], "require('first')()")
    assert out["result"] == {"value": "S"}


@needs_node
def test_node_cycles_and_module_cache(tmp_path: Path) -> None:
    tree = make_tree("cyc", [
        {"id": "a.js", "entry": True, "deps": {"./b": "b.js"},
         "source": "exports.early = 'a'; var b = require('./b'); window.log.push('a sees ' + b.value + ' ' + b.sawA);"},
        {"id": "b.js", "deps": {"./a": "a.js"},
         "source": "var a = require('./a'); exports.sawA = a.early; exports.value = 'b'; window.log.push('b ran');"},
    ])
    out = run_in_node(tmp_path, [pack_js(tree)], "1")
    assert out["log"] == ["b ran", "a sees b a"]


@needs_node
def test_node_missing_external_throws_module_not_found(tmp_path: Path) -> None:
    tree = make_tree("x", [{"id": "a.js", "expose": "a", "deps": {"left-pad": False},
                            "source": "module.exports = function () { return require('left-pad'); };"}])
    out = run_in_node(tmp_path, [pack_js(tree)], "require('a')()")
    assert out["result"] == {"error": "Cannot find module 'left-pad'", "code": "MODULE_NOT_FOUND"}


@given(st.text() | st.text(alphabet="./@~+-_ab1</\"\\\u2028"))
def test_a_specifier_key_is_written_as_its_json_literal(specifier: str) -> None:
    assert _key_literal(specifier) == _js_literal(specifier)

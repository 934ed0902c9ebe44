"""Packages resolve as a browser bundler resolves them, and `process.env.NODE_ENV` is a build-time
constant; React 19 and Preact 10 from npm build unchanged and render as node's own copies do."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from build_support import FLAT_RC, build, deps_by_folder, make_project, manifest, module
from mendel_py.compiler import BuildError
from mendel_py.compiler.incremental import IncrementalBuild
from mendel_py.config import load_config
from mendel_py.core.trees import MendelTrees
from mendel_py.packing.packer import pack_js
from node_support import ensure_npm_package, needs_node_and_npm

REACT = ("react@19.3.1", "react-dom@19.3.1", "scheduler@0.28.0")
PREACT = ("preact@10.29.8", "preact-render-to-string@6.8.2")


def main_deps(root: Path) -> dict[str, object]:
    return deps_by_folder(manifest(root), "main.js")["src"]


def package(name: str, fields: dict[str, object], files: dict[str, str]) -> dict[str, str]:
    out = {f"node_modules/{name}/package.json": json.dumps({"name": name, **fields})}
    out.update({f"node_modules/{name}/{path}": text for path, text in files.items()})
    return out


def test_exports_conditions_in_the_packages_order_browser_first(tmp_path: Path) -> None:
    make_project(tmp_path, {
        "src/main.js": "require('a'); require('b'); require('c'); require('d/server'); require('d/feature/x')",
        **package("a", {"main": "main.js", "exports": {"node": "./node.js", "browser": "./web.js", "default": "./main.js"}},
                  {"main.js": "", "node.js": "", "web.js": ""}),
        # "require" listed before "import": the CommonJS build, for `import` and `require` alike
        **package("b", {"exports": {".": {"types": "./x.d.ts", "require": "./b.cjs", "import": "./b.mjs"}}},
                  {"b.cjs": "", "b.mjs": ""}),
        # nested condition objects, fallback arrays, a condition that leads nowhere is skipped
        **package("c", {"exports": {".": {"browser": {"worker": "./worker.js", "import": ["./gone.js", "./c.mjs"]},
                                          "default": "./c.js"}}},
                  {"c.mjs": "", "c.js": "", "worker.js": ""}),
        **package("d", {"exports": {".": "./index.js", "./server": {"browser": "./server.browser.js",
                                                                     "default": "./server.node.js"},
                                    "./feature/*": "./lib/feature-*.js"}},
                  {"index.js": "", "server.browser.js": "", "server.node.js": "", "lib/feature-x.js": ""}),
    }, FLAT_RC)
    build(tmp_path)
    assert main_deps(tmp_path) == {
        "a": "node_modules/a/web.js",
        "b": "node_modules/b/b.cjs",
        "c": "node_modules/c/c.mjs",
        "d/server": "node_modules/d/server.browser.js",
        "d/feature/x": "node_modules/d/lib/feature-x.js",
    }


def test_package_imports_map_hash_names_with_conditions(tmp_path: Path) -> None:
    make_project(tmp_path, {
        "src/main.js": "require('p')",
        **package("p", {"exports": "./index.js", "imports": {
            "#dep": {"node": "./dep-node.js", "default": "./dep.js"}, "#util/*": "./lib/*.js",
        }}, {"index.js": "require('#dep'); require('#util/a')", "dep.js": "", "dep-node.js": "", "lib/a.js": ""}),
    }, FLAT_RC)
    build(tmp_path)
    assert module(manifest(tmp_path), "node_modules/p/index.js")["data"][0]["deps"] == {
        "#dep": "node_modules/p/dep.js", "#util/a": "node_modules/p/lib/a.js",
    }


def test_a_subpath_exports_does_not_list_is_an_error(tmp_path: Path) -> None:
    make_project(tmp_path, {
        "src/main.js": "\nrequire('d/private.js')",
        **package("d", {"exports": {".": "./index.js"}}, {"index.js": "", "private.js": ""}),
    }, FLAT_RC)
    with pytest.raises(BuildError, match=r"src/main.js:2:1: .*private.js is not exported by node_modules/d/package.json"):
        build(tmp_path)


def test_main_fields_browser_then_module_then_main(tmp_path: Path) -> None:
    make_project(tmp_path, {
        "src/main.js": "require('m'); require('s')",
        **package("m", {"main": "cjs.js", "module": "esm.js"}, {"cjs.js": "", "esm.js": ""}),
        **package("s", {"main": "cjs.js", "module": "esm.js", "browser": "web.js"}, {"cjs.js": "", "esm.js": "", "web.js": ""}),
    }, FLAT_RC)
    build(tmp_path)
    assert main_deps(tmp_path) == {"m": "node_modules/m/esm.js", "s": "node_modules/s/web.js"}


def test_browser_object_maps_files_names_and_false(tmp_path: Path) -> None:
    make_project(tmp_path, {
        "src/main.js": "require('p')",
        **package("p", {"main": "index.js", "browser": {
            "./index.js": "./browser.js", "./lib/node.js": "./lib/web.js", "fs": False, "buffer": "buffer-lite",
            "./lib/skip.js": False,
        }}, {
            "index.js": "",
            "browser.js": "require('./lib/node'); require('./lib/skip.js'); var fs = require('fs'); require('buffer')",
            "lib/node.js": "", "lib/web.js": "", "lib/skip.js": "",
        }),
        **package("buffer-lite", {"main": "index.js"}, {"index.js": ""}),
    }, FLAT_RC)
    build(tmp_path)
    document = manifest(tmp_path)
    assert main_deps(tmp_path) == {"p": "node_modules/p/browser.js"}
    assert module(document, "node_modules/p/browser.js")["data"][0]["deps"] == {
        "./lib/node": "node_modules/p/lib/web.js", "./lib/skip.js": "(empty)", "fs": "(empty)",
        "buffer": "node_modules/buffer-lite/index.js",
    }
    empty = module(document, "(empty)")["data"][0]
    assert (empty["source"], empty["deps"]) == ("", {})
    assert "node_modules/p/lib/node.js" not in document["indexes"]


@pytest.mark.parametrize(
    "text",
    ["module.exports = process.env.NODE_ENV;", "export default process.env.NODE_ENV;\n"],
    ids=["commonjs", "esm"],
)
def test_node_env_is_production_for_build_whatever_env(tmp_path: Path, text: str) -> None:
    rc = FLAT_RC + "env:\n  development:\n    bundles: {}\n"
    make_project(tmp_path, {"src/main.js": text}, rc)
    build(tmp_path)
    source = module(manifest(tmp_path), "main.js")["data"][0]["source"]
    assert '"production"' in source and "process.env" not in source
    from mendel_py.compiler import build_manifests

    build_manifests(load_config(str(tmp_path), env="development"))
    assert '"production"' in module(manifest(tmp_path), "main.js")["data"][0]["source"]


def test_node_env_is_development_under_the_dev_build(tmp_path: Path) -> None:
    make_project(tmp_path, {"src/main.js": "var env = process.env.NODE_ENV;"}, FLAT_RC)
    IncrementalBuild(load_config(str(tmp_path))).rebuild()
    entry = module(manifest(tmp_path), "main.js")["data"][0]
    assert entry["source"] == 'var env = "development";'
    assert json.loads(entry["original"]) == [[10, 23, "process.env.NODE_ENV"]]


def test_a_dead_branch_takes_its_requires_with_it(tmp_path: Path) -> None:
    make_project(tmp_path, {
        "src/main.js": (
            "if (process.env.NODE_ENV === 'production') { module.exports = require('./prod'); }\n"
            "else { module.exports = require('./dev'); }\n"
            "var x = 'development' !== process.env.NODE_ENV ? require('./a') : require('./b');\n"
            "if (process.env.NODE_ENV === 'test' || other) require('./c');\n"
            "process.env.NODE_ENV = 'x';\n"
        ),
        "src/prod.js": "", "src/dev.js": "", "src/a.js": "", "src/b.js": "", "src/c.js": "",
    }, FLAT_RC)
    build(tmp_path)
    assert main_deps(tmp_path) == {"./prod": "prod.js", "./a": "a.js", "./c": "c.js"}
    source = module(manifest(tmp_path), "main.js")["data"][0]["source"]
    assert source.endswith("process.env.NODE_ENV = 'x';\n")  # a write is left alone


def test_an_imported_process_binding_is_not_replaced(tmp_path: Path) -> None:
    make_project(tmp_path, {
        "src/main.js": "import process from './p.js';\nexport default process.env.NODE_ENV;\n",
        "src/p.js": "module.exports = {env: {NODE_ENV: 'mine'}};",
    }, FLAT_RC)
    build(tmp_path)
    assert '"production"' not in module(manifest(tmp_path), "main.js")["data"][0]["source"]


# ---------------------------------------------------------------- real React 19 and Preact 10

# A browser's globals that React's server renderer uses, in a context with nothing of node's:
# no `process`, no `require`, no `module`.
BROWSER_VM = r"""
const vm = require('vm'), fs = require('fs');
const lines = [];
const sandbox = {console: {log: (...a) => lines.push(a.join(' ')), error: (...a) => lines.push('error ' + a.join(' '))},
  TextEncoder, TextDecoder, setTimeout, clearTimeout, queueMicrotask, MessageChannel,
  ReadableStream: globalThis.ReadableStream};
vm.createContext(sandbox);
try { vm.runInContext(fs.readFileSync(process.argv[2], 'utf8'), sandbox); }
catch (e) { lines.push('uncaught ' + e.stack); }
setTimeout(() => { process.stdout.write(lines.join('\n') + '\n'); process.exit(0); }, 100);
"""
APP = {
    "react": (
        "import React from 'react';\n"
        "import { renderToString } from 'react-dom/server';\n"
        "function Counter({ start }) { const [n] = React.useState(start); return React.createElement('b', null, n); }\n"
        "function App({ name, items }) {\n"
        "  return React.createElement('div', { className: 'app', 'data-x': 1 }, 'hi ', name,\n"
        "    React.createElement(Counter, { start: 3 }),\n"
        "    React.createElement('ul', null, items.map((i) => React.createElement('li', { key: i }, i))));\n"
        "}\n"
        "console.log(renderToString(React.createElement(App, { name: 'ann & <bob>', items: ['a', 'b'] })));\n"
    ),
    "preact": (
        "import { h, Fragment } from 'preact';\n"
        "import { useState } from 'preact/hooks';\n"
        "import { renderToString } from 'preact-render-to-string';\n"
        "function Counter({ start }) { const [n] = useState(start); return h('b', null, n); }\n"
        "function App({ name, items }) {\n"
        "  return h('div', { class: 'app', 'data-x': 1 }, 'hi ', name, h(Counter, { start: 3 }),\n"
        "    h(Fragment, null, h('ul', null, items.map((i) => h('li', { key: i }, i)))));\n"
        "}\n"
        "console.log(renderToString(h(App, { name: 'ann & <bob>', items: ['a', 'b'] })));\n"
    ),
}
LIBRARIES = {"react": ("react", "react-dom", "scheduler"), "preact": ("preact", "preact-render-to-string")}


def link_packages(root: Path, modules: Path, names: tuple[str, ...]) -> None:
    (root / "node_modules").mkdir(parents=True, exist_ok=True)
    for name in names:
        os.symlink(modules / name, root / "node_modules" / name)


@needs_node_and_npm
@pytest.mark.parametrize("node_env", ["production", "development"])
@pytest.mark.parametrize("library", ["react", "preact"])
def test_real_library_renders_in_a_bare_context_as_node_renders_it(tmp_path: Path, library: str, node_env: str) -> None:
    """`mendel build` (production) and `mendel dev`'s build (development) alike."""
    for spec in REACT if library == "react" else PREACT:
        modules = ensure_npm_package(spec)
    root = tmp_path / "project"
    make_project(root, {"src/main.js": APP[library]}, FLAT_RC)
    link_packages(root, modules, LIBRARIES[library])
    if node_env == "production":
        build(root)
    else:
        IncrementalBuild(load_config(str(root))).rebuild()
    document = manifest(root)
    ids = set(document["indexes"])
    other = "development" if node_env == "production" else "production"
    assert not any(other in module_id for module_id in ids), ids  # only the builds of this mode
    bundle = tmp_path / "bundle.js"
    bundle.write_bytes(pack_js(MendelTrees(str(root)).find_tree_for_variations("main", [["src"]])))
    assert b"process.env" not in bundle.read_bytes()
    harness = tmp_path / "harness.cjs"
    harness.write_text(BROWSER_VM)
    done = subprocess.run(["node", str(harness), str(bundle)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    # node's own copy of the library, loaded the node way, renders the same program
    native = root / "native.mjs"
    native.write_text(APP[library])
    expected = subprocess.run(
        ["node", str(native)], capture_output=True, text=True, timeout=60,
        env={**os.environ, "NODE_ENV": node_env},
    )
    assert expected.returncode == 0, expected.stderr
    assert done.stdout == expected.stdout
    assert "<div" in done.stdout and "ann &amp; &lt;bob" in done.stdout

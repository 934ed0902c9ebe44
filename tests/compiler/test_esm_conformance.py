"""ES module semantics, checked against node: each program is run natively by node as ES modules
and, built by `mendel build` and packed into one bundle, inside a node `vm` context (as a page
would run it). Both must print the same lines."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from build_support import FLAT_RC as RC
from build_support import build, make_project
from mendel_py.core.trees import MendelTrees
from mendel_py.packing.packer import pack_js
from node_support import VM_HARNESS

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="needs node")


NATIVE_PRELUDE = (
    "const __show = (v) => typeof v === 'string' ? v : JSON.stringify(v);\n"
    "console.log = (...a) => process.stdout.write(a.map(__show).join(' ') + '\\n');\n"
)

CASES: dict[str, dict[str, str]] = {
    "imports of every form": {
        "main.js": "import './side.js';\nimport d, { a, b as c } from './lib.js';\nimport * as ns from './lib.js';\n"
                   "console.log(d, a, c, Object.keys(ns).sort(), ns.a === a);\n",
        "side.js": "console.log('side effect first');\n",
        "lib.js": "export default 'dflt';\nexport const a = 1;\nexport const b = 2;\n",
    },
    "export declarations and defaults": {
        "main.js": "import f, { C, g, x, y, z } from './lib.js';\nimport K from './klass.js';\n"
                   "console.log(f(), new C().n, g(), x, y, z, new K().k);\n",
        "lib.js": "export default function () { return 'anon'; }\nexport class C { constructor() { this.n = 'C'; } }\n"
                  "export function g() { return 'g'; }\nexport let x = 1, { y, z: [z] } = { y: 2, z: [3] };\n",
        "klass.js": "export default class { constructor() { this.k = 'K'; } }\n",
    },
    "aliases and re-exports": {
        "main.js": "import { b, x, n, all } from './hub.js';\nimport * as hub from './hub.js';\n"
                   "console.log(b, x, n.a, all.q, Object.keys(hub).sort());\n",
        "hub.js": "const a = 'A';\nexport { a as b };\nexport * from './star.js';\nexport { q as x } from './star.js';\n"
                  "export * as all from './star.js';\nexport { default as n } from './named.js';\n",
        "star.js": "export const q = 'Q';\nexport const r = 'R';\nexport default 'not re-exported by *';\n",
        "named.js": "export default { a: 'na' };\n",
    },
    "live bindings": {
        "main.js": "import { count, inc } from './counter.js';\nimport * as c from './counter.js';\n"
                   "console.log(count);\ninc();\ninc();\nconsole.log(count, c.count);\n",
        "counter.js": "export let count = 0;\nexport function inc() { count += 1; }\n",
    },
    "cycles: hoisted functions and TDZ": {
        "main.js": "import { a, callB } from './a.js';\nconsole.log(a, callB());\n",
        "a.js": "import { b, early } from './b.js';\nexport const a = 'a sees ' + b;\n"
                "export function callB() { return early; }\nexport function hoisted() { return 'hoisted'; }\n",
        "b.js": "import { hoisted, a } from './a.js';\nlet early;\ntry { early = a; } catch (e) { early = e.name; }\n"
                "export { early };\nexport const b = 'b+' + hoisted();\n",
    },
    "ESM imports CommonJS": {
        "main.js": "import cjs, { named } from './old.cjs';\nimport * as ns from './old.cjs';\n"
                   "console.log(cjs.named, named, ns.default === cjs, typeof cjs.fn);\n",
        "old.cjs": "exports.named = 'from cjs';\nexports.fn = function () {};\n",
    },
    "shadowing and calls": {
        "main.js": "import { v, who } from './lib.js';\nfunction f(v) { return v; }\n"
                   "const g = () => { const v = 'inner'; return v; };\n"
                   "try { throw 'caught'; } catch (v) { console.log(v); }\n"
                   "console.log(f('param'), g(), v, { v }.v, who() === undefined);\n",
        "lib.js": "export const v = 'outer';\nexport function who() { return this; }\n",
    },
    "namespace objects": {
        "main.js": "import * as ns from './lib.js';\n"
                   "console.log(Object.isExtensible(ns), Object.isSealed(ns), Object.prototype.toString.call(ns));\n"
                   "try { ns.extra = 1; } catch (e) { console.log('add', e.name); }\n"
                   "try { ns.a = 2; } catch (e) { console.log('set', e.name); }\n"
                   "try { delete ns.a; } catch (e) { console.log('delete', e.name); }\n"
                   "console.log(Object.keys(ns).sort(), ns.extra, ns.a);\n",
        "lib.js": "export const a = 1;\nexport * from './more.js';\nexport default 'd';\n",
        "more.js": "export const m = 'm';\n",
    },
    "top-level this": {
        "main.js": "console.log(this === undefined, typeof this);\nconst arrow = () => this;\n"
                   "function plain() { return this; }\nclass K { f = this; static s() { return this === K; } }\n"
                   "console.log(arrow() === undefined, plain() === undefined, new K().f instanceof K, K.s());\n"
                   "try { this.x; } catch (e) { console.log(e.name); }\nexport {};\n",
    },
    "imports read in patterns, shadowed names assigned": {
        "main.js": "import { a } from './lib.js';\nlet x;\n[x = a] = [];\n({ k: x = a } = {});\n"
                   "function f(a) { a = 5; return a; }\nfor (const a of [7]) console.log(a);\n"
                   "console.log(x, f(1), a);\n",
        "lib.js": "export const a = 'A';\n",
    },
    "dynamic import": {
        "main.js": "console.log('before');\nimport('./later.js').then((m) => { console.log(m.default, m.x);\n"
                   "  return import('./old.cjs'); }).then((m) => console.log(m.default.y));\nconsole.log('after');\n",
        "later.js": "export default 'lazy default';\nexport const x = 'lazy x';\n",
        "old.cjs": "module.exports = { y: 'cjs via import()' };\n",
    },
}


def run_native(tmp_path: Path, files: dict[str, str]) -> str:
    folder = tmp_path / "native"
    folder.mkdir()
    (folder / "package.json").write_text('{"type": "module"}')
    for name, text in files.items():
        (folder / name).write_text(NATIVE_PRELUDE + text if name == "main.js" else text)
    done = subprocess.run([NODE, str(folder / "main.js")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def run_bundled(tmp_path: Path, files: dict[str, str]) -> str:
    root = tmp_path / "project"
    make_project(root, {f"src/{name}": text for name, text in files.items()}, RC)
    build(root)
    tree = MendelTrees(str(root)).find_tree_for_variations("main", [["src"]])
    bundle = tmp_path / "bundle.js"
    bundle.write_bytes(pack_js(tree))
    harness = tmp_path / "harness.cjs"
    harness.write_text(VM_HARNESS)
    done = subprocess.run([NODE, str(harness), str(bundle)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_bundled_program_prints_what_node_prints(case: str, tmp_path: Path) -> None:
    files = CASES[case]
    native = run_native(tmp_path, files)
    assert native.strip(), "the native run printed nothing"
    assert run_bundled(tmp_path, files) == native


def test_require_of_an_es_module_gets_its_namespace(tmp_path: Path) -> None:
    # node 20 cannot require() an ES module natively, so this one compares with the spec's answer.
    files = {
        "main.js": "const ns = require('./esm.js');\n"
                   "console.log(ns.__esModule, ns.default, ns.x, Object.keys(ns).sort());\n",
        "esm.js": "export default 'd';\nexport const x = 'x';\n",
    }
    printed = run_bundled(tmp_path, files)
    assert printed == f"true d x {json.dumps(['default', 'x'], separators=(',', ':'))}\n"


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("export const a = 1;\nconsole.log(import.meta.url);\n", 2, "`import.meta`"),
        ("import './x.js';\n\nawait null;\n", 3, "top-level `await`"),
        ("export const a = 1;\nfor await (const x of []) {}\n", 2, "top-level `await`"),
        ("import { a } from './x.js';\n\na = 2;\n", 3, "imported binding `a`"),
        ("import { a } from './x.js';\nfunction f() {\n  (a) += 1;\n}\n", 3, "imported binding `a`"),
        ("import * as ns from './x.js';\nexport function f() { ns++; }\n", 2, "imported binding `ns`"),
        ("import d from './x.js';\nfor (d of []) {}\n", 2, "imported binding `d`"),
        ("import { a } from './x.js';\nlet b;\n[b, ...a] = [];\n", 3, "imported binding `a`"),
        ("import { a } from './x.js';\n({ k: a } = {});\n", 2, "imported binding `a`"),
        ("import { a } from './x.js';\nconst o = {};\n({ a = 1 } = o);\n", 3, "imported binding `a`"),
    ],
)
def test_unsupported_module_features_name_file_and_line(tmp_path: Path, text: str, line: int, fragment: str) -> None:
    from mendel_py.compiler.errors import BuildError

    make_project(tmp_path, {"src/main.js": text, "src/x.js": ""}, RC)
    with pytest.raises(BuildError) as caught:
        build(tmp_path)
    assert (caught.value.file, caught.value.line) == ("src/main.js", line)
    assert fragment in caught.value.message


def test_import_only_dependencies_are_lazy_in_the_manifest(tmp_path: Path) -> None:
    files = {
        "src/main.js": "import { a } from './a.js';\nimport('./a.js');\nimport('./panel.js').then((p) => p.show(a));\n",
        "src/a.js": "export const a = 1;\n",
        "src/panel.js": "import { a } from './a.js';\nexport function show(x) { return x + a; }\n",
    }
    make_project(tmp_path, files, RC)
    build(tmp_path)
    document = json.loads((tmp_path / "manifests" / "main.manifest.json").read_text())
    (main,) = document["bundles"][document["indexes"]["main.js"]]["data"]
    assert main["deps"] == {"./a.js": "a.js", "./panel.js": "panel.js"}
    assert main["lazy"] == ["./panel.js"]  # ./a.js is also imported statically
    (panel,) = document["bundles"][document["indexes"]["panel.js"]]["data"]
    assert "lazy" not in panel

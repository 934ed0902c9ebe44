"""TypeScript and TSX, checked against esbuild: a project with enums, generics, parameter
properties, namespaces, `satisfies`, `as`, optional chaining and `import type` (and a variation
that overrides a `.tsx` component and adds a file) is bundled by `mendel build` and by esbuild
for every variation set; both run in a node `vm` context and must print the same lines."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from build_support import build, make_project, manifest, module, write_files
from mendel_py.compiler.errors import BuildError
from mendel_py.compiler.typescript import strip
from mendel_py.core.original import restore
from mendel_py.core.trees import MendelTrees
from mendel_py.packing.packer import pack_js
from node_support import ensure_npm_package, needs_node_and_npm, run_in_vm

ESBUILD_SPEC = "esbuild@0.28.2"

RC = """\
base-config:
  dir: ./src/base
variation-config:
  variation-dirs:
    - ./src/variations
  variations:
    fancy:
    fancier:
      - fancy
bundles:
  main:
    entries:
      - main.ts
    manifest: manifests/main.manifest.json
"""

BASE = {
    "node_modules/react/index.js": (
        "function Fragment() {}\n"
        "function createElement(type, props) {\n"
        "  var children = Array.prototype.slice.call(arguments, 2);\n"
        "  if (typeof type === 'function') return type(Object.assign({ children: children }, props));\n"
        "  return '<' + type + '>' + children.join('') + '</' + type + '>';\n"
        "}\n"
        "module.exports = { createElement: createElement, Fragment: Fragment };\n"
    ),
    "types.ts": (
        "export interface Item { id: number; name: string; price?: number }\n"
        "export type Id = Item['id'];\n"
        "console.log('types.ts is loaded');  // tsc and esbuild drop an import used only for types\n"
    ),
    "shapes.ts": (
        "import type { Item } from './types';\n"
        "export enum Color { Red, Green = 5, Blue, Named = 'named' }\n"
        "export const enum Bits { None = 0, A = 1 << 0, B = 1 << 1, AB = A | B }\n"
        "export abstract class Shape<T extends object = {}> {\n"
        "  static count: number = 0;\n"
        "  protected abstract area(): number;\n"
        "  constructor(public readonly name: string, private meta?: T) { Shape.count++; }\n"
        "  describe(this: Shape<T>): string { return `${this.name}: ${this.area().toFixed(1)}`; }\n"
        "  get info(): T | undefined { return this.meta; }\n"
        "}\n"
        "export class Circle extends Shape<{ r: number }> {\n"
        "  declare kind: 'circle';\n"
        "  constructor(private r: number) { super('circle', { r }); }\n"
        "  protected area(): number { return Math.PI * this.r ** 2; }\n"
        "}\n"
        "export namespace Geometry {\n"
        "  export const unit = 1;\n"
        "  export function scale<T extends { r: number }>(x: T, by: number = unit): number { return x.r * by; }\n"
        "  export interface Point { x: number; y: number }\n"
        "  export namespace Deep { export const depth = 2; }\n"
        "}\n"
        "export function pick<T, K extends keyof T>(value: T, key: K): T[K] { return value[key]; }\n"
        "export function label(item: Item): string { return item.name + (item.price?.toFixed(2) ?? '-'); }\n"
    ),
    "Card.tsx": (
        "import React from 'react';\n"
        "import type { Item } from './types';\n"
        "interface Props { item: Item; highlight?: boolean }\n"
        "export default function Card({ item, highlight = false }: Props): string {\n"
        "  const title = (highlight ? item.name.toUpperCase() : item.name) as string;\n"
        "  return <div className=\"card\"><b>{title}</b>{item.price!}</div> as unknown as string;\n"
        "}\n"
    ),
    "main.ts": (
        "import { Color, Bits, Circle, Shape, Geometry, pick, label } from './shapes';\n"
        "import Card from './Card';\n"
        "import { type Item, type Id } from './types';\n"
        "import * as Types from './types';\n"
        "const items = [\n"
        "  { id: 1, name: 'tea', price: 2.5 },\n"
        "  { id: 2 as Id, name: 'cake' },\n"
        "] satisfies Item[];\n"
        "let t: Types.Item | undefined = items[0];\n"
        "const circle = new Circle(2);\n"
        "console.log(Color.Red, Color.Green, Color.Blue, Color[6], Color.Named, (Color as any)['named']);\n"
        "console.log(Bits.AB, Bits.None, Bits[3]);\n"
        "console.log(circle.describe(), circle.name, Shape.count, JSON.stringify(circle.info));\n"
        "console.log(Geometry.scale(circle.info!, 3), Geometry.unit, Geometry.Deep.depth);\n"
        "console.log(pick(items[0], 'name'), label(items[1]), t?.name, (items[1] as Item).price?.toFixed(1));\n"
        "console.log(Card({ item: items[0]! }));\n"
        "console.log(<T,>(x: T): T => x, typeof Card);\n"
    ),
}

VARIATION = {
    "fancy/Card.tsx": (
        "import React from 'react';\n"
        "import Badge, { type Tone } from './Badge';\n"
        "import type { Item } from './types';\n"
        "type Props = { item: Item; highlight?: boolean };\n"
        "export default function Card(props: Props) {\n"
        "  const tone: Tone = props.highlight ? 'loud' : 'quiet';\n"
        "  return <section>{props.item.name}<Badge tone={tone} n={props.item.id} /></section>;\n"
        "}\n"
    ),
    "fancy/Badge.tsx": (
        "import React from 'react';\n"
        "export type Tone = 'loud' | 'quiet';\n"
        "export enum Size { S = 1, M, L }\n"
        "export default function Badge({ tone, n }: { tone: Tone; n: number }) {\n"
        "  return <i data-tone={tone}>{Size[n] ?? '?'}</i>;\n"
        "}\n"
    ),
    "fancier/shapes.ts": BASE["shapes.ts"].replace("Green = 5", "Green = 50"),
}

SETS = {"base": [], "fancy": ["fancy"], "fancier": ["fancier"]}
FOLDERS = {"base": [], "fancy": ["fancy"], "fancier": ["fancy", "fancier"]}


def write_project(root: Path) -> None:
    files = {f"src/base/{name}": text for name, text in BASE.items() if not name.startswith("node_modules")}
    files.update({f"src/variations/{name}": text for name, text in VARIATION.items()})
    files["node_modules/react/index.js"] = BASE["node_modules/react/index.js"]
    make_project(root, files, RC)


def esbuild_output(tmp_path: Path, variation: str) -> str:
    """esbuild's bundle of the same files: base overlaid by the variation's folders."""
    esbuild = ensure_npm_package(ESBUILD_SPEC) / ".bin" / "esbuild"
    root = tmp_path / f"esbuild-{variation}"
    shutil.rmtree(root, ignore_errors=True)
    files = {name: text for name, text in BASE.items()}
    for folder in FOLDERS[variation]:
        files.update({name.split("/", 1)[1]: text for name, text in VARIATION.items() if name.startswith(folder + "/")})
    write_files(root, files)
    out = tmp_path / f"esbuild-{variation}.js"
    done = subprocess.run(
        [str(esbuild), str(root / "main.ts"), "--bundle", "--format=iife", "--log-level=error", f"--outfile={out}"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return run_in_vm(tmp_path, out.read_bytes(), f"esbuild-{variation}")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ts-project")
    write_project(root)
    build(root)
    return root


@needs_node_and_npm
@pytest.mark.parametrize("variation", list(SETS))
def test_a_typescript_project_runs_as_esbuild_bundles_it(project: Path, tmp_path: Path, variation: str) -> None:
    expected = esbuild_output(tmp_path, variation)
    assert "uncaught" not in expected and expected.count("\n") >= 6, expected
    assert "types.ts is loaded" not in expected
    trees = MendelTrees(str(project))
    _matching, chains = trees.variations_and_chains(SETS[variation])
    tree = trees.find_tree_for_variations("main", chains)
    assert run_in_vm(tmp_path, pack_js(tree), "mendel") == expected
    if variation == "fancier":
        assert "50" in expected.splitlines()[0]


def test_entries_give_the_typescript_back_and_keep_its_lines(project: Path) -> None:
    document = manifest(project)
    for module_id in ("main.ts", "shapes.ts", "Card.tsx"):
        entry = module(document, module_id)["data"][0]
        written = (project / entry["file"]).read_text()
        assert restore(entry["source"], json.loads(entry["original"])) == written
        assert entry["source"].count("\n") == written.count("\n")
    assert "types.ts" not in document["indexes"]  # imported for its types only
    fancy = {entry["variation"]: entry for entry in module(document, "Card.tsx")["data"]}
    assert set(fancy) == {"src/base", "src/variations/fancy"}
    assert "Badge.tsx" in document["indexes"]


def test_types_become_spaces_and_code_keeps_its_columns() -> None:
    text = "let a: number = f<string>(b as any)!;\nclass K { constructor(private x: T) {} }\n"
    javascript, _edits = strip(text, "t.ts")
    assert javascript.splitlines()[0] == "let a         = f        (b       ) ;"
    assert javascript.index("f") == text.index("f") and len(javascript) > len(text)
    assert "this.x=x;" in javascript


def test_extensionless_imports_find_typescript_after_javascript(tmp_path: Path) -> None:
    files = {
        "src/main.js": "require('./a'); require('./b'); require('./c'); require('./d.js');\n",
        "src/a.js": "", "src/a.ts": "", "src/b.tsx": "", "src/c/index.ts": "", "src/d.ts": "",
    }
    rc = "base-config:\n  dir: ./src\nbundles:\n  main:\n    entries:\n      - main.js\n    manifest: manifests/main.manifest.json\n"
    make_project(tmp_path, files, rc)
    build(tmp_path)
    deps = module(manifest(tmp_path), "main.js")["data"][0]["deps"]
    assert deps == {"./a": "a.js", "./b": "b.tsx", "./c": "c/index.ts", "./d.js": "d.ts"}


def test_tsconfig_paths_and_base_url(tmp_path: Path) -> None:
    files = {
        "tsconfig.json": json.dumps({"compilerOptions": {"baseUrl": "src/base", "paths": {"@ui/*": ["ui/*"]}}}),
        "src/base/main.ts": "import { b } from '@ui/button';\nimport c from 'lib/c';\nconsole.log(b, c);\n",
        "src/base/ui/button.ts": "export const b = 1;\n",
        "src/base/lib/c.ts": "export default 2;\n",
        "src/variations/fancy/ui/button.ts": "export const b = 3;\n",
        "src/variations/fancier/.keep": "",
    }
    make_project(tmp_path, files, RC)
    build(tmp_path)
    document = manifest(tmp_path)
    deps = module(document, "main.ts")["data"][0]["deps"]
    assert deps == {"@ui/button": "ui/button.ts", "lib/c": "lib/c.ts"}
    assert module(document, "ui/button.ts")["variations"] == ["src/base", "src/variations/fancy"]


@pytest.mark.parametrize("source, message", [
    ("@dec class A {}\n", "decorators are not supported"),
    ("import fs = require('fs');\n", "import x = require"),
    ("export = 1;\n", "`export =`"),
    ("let x: = 1;\n", "syntax error"),
])
def test_what_is_refused_names_file_and_line(source: str, message: str) -> None:
    with pytest.raises(BuildError) as caught:
        strip("\n" + source, "x.ts")
    assert message in str(caught.value) and caught.value.line == 2


SNIPPETS = {
    "enums and nested namespaces, no semicolons": (
        "export enum E { A = 'a', B = 'b' }\nexport const enum F { X = 2, Y }\n"
        "namespace NS { export enum Z { P } export let q = Z.P\n export namespace In { export const r = q + 1 } }\n"
        "enum H { A = 1 << 3, B = A | 1, C }\n"
        "console.log(E.A, F.Y, F[3], NS.Z.P, NS.Z[0], NS.q, NS.In.r, H.B, H.C, H[10], JSON.stringify(H))\n"
    ),
    "generic calls, methods and parameter properties": (
        "const obj = { m<T>(x: T): T { return x }, n: <T,>(y: T) => y };\n"
        "let v = obj.m<number>(1)!;\nlet w = obj?.n?.<string>('a');\n"
        "class P { constructor(public a = 1, private b?: string) {} }\n"
        "class Q extends P { constructor(readonly c: number) { super(c) } }\n"
        "function over(a: string): string;\nfunction over(a: any) { return a }\n"
        "console.log(v, w, JSON.stringify(new Q(5)), over('o'), <const>['x'])\n"
    ),
}


@needs_node_and_npm
@pytest.mark.parametrize("name", list(SNIPPETS))
def test_snippets_run_as_esbuild_transforms_them(name: str, tmp_path: Path) -> None:
    esbuild = ensure_npm_package(ESBUILD_SPEC) / ".bin" / "esbuild"
    source = tmp_path / "snippet.ts"
    source.write_text(SNIPPETS[name])
    javascript, _edits = strip(SNIPPETS[name], "snippet.ts")
    (tmp_path / "ours.mjs").write_text(javascript)
    subprocess.run([str(esbuild), str(source), "--format=esm", f"--outfile={tmp_path / 'theirs.mjs'}",
                    "--log-level=error"], check=True, timeout=60)
    ours = subprocess.run(["node", str(tmp_path / "ours.mjs")], capture_output=True, text=True, timeout=60)
    theirs = subprocess.run(["node", str(tmp_path / "theirs.mjs")], capture_output=True, text=True, timeout=60)
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == theirs.stdout and ours.stdout.strip()

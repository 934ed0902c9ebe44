"""JSX, checked against esbuild: each program is bundled by `mendel build` and by esbuild (its
default JSX transform, the classic runtime), both run in a node `vm` context with a tiny React
stand-in whose elements print as JSON, and both must print the same lines."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from build_support import build, make_project, manifest, module
from mendel_py.compiler.errors import BuildError
from mendel_py.compiler.jsx import _ENTITIES, jsx_text
from mendel_py.core.trees import MendelTrees
from mendel_py.packing.packer import pack_js
from node_support import ensure_npm_package, needs_node_and_npm, run_in_vm

ESBUILD_SPEC = "esbuild@0.28.2"
pytestmark = needs_node_and_npm

RC = """\
base-config:
  dir: ./src
bundles:
  main:
    entries:
      - {entry}
    manifest: manifests/main.manifest.json
"""
# What every program may use: React (CommonJS, as the real one), a Preact-like `h` (an ES
# module), and `show`, which prints an element tree (a component as <its name>).
LIBRARIES = {
    "node_modules/react/index.js": (
        "function Fragment() {}\n"
        "function createElement(type, props) {\n"
        "  return { type: type, props: props, children: Array.prototype.slice.call(arguments, 2) };\n"
        "}\n"
        "module.exports = { createElement: createElement, Fragment: Fragment };\n"
    ),
    "node_modules/preact/package.json": '{"name": "preact", "main": "preact.js"}',
    "node_modules/preact/preact.js": (
        "export function Frag() {}\n"
        "export function h(type, props, ...children) { return { h: type, props, children }; }\n"
    ),
    "show.js": (
        "module.exports = function show(value) {\n"
        "  console.log(JSON.stringify(value, function (key, v) {\n"
        "    if (typeof v === 'function') return '<' + v.name + '>';\n"
        "    return v === undefined ? '<undefined>' : v;\n"
        "  }));\n"
        "};\n"
    ),
}

CASES: dict[str, dict[str, str]] = {
    "elements and attributes": {
        "main.js": (
            "import React from 'react';\nimport show from './show.js';\n"
            "const p = { id: 'spread', title: 't' };\n"
            "show(<div className=\"a\" tabIndex={2} disabled {...p} aria-label='it\"s' xlink:href=\"#x\" data-n={1 + 1}/>);\n"
            "show(<input value=\"last wins\" {...p} id=\"after spread\" />);\n"
            "show(<br/>);\nshow(<my-element some-attr />);\nshow(<svg:rect svg:fill=\"red\" />);\n"
            "show(<div class=\"no escapes: \\n \\u0041\" for={undefined} />);\n"
            "show(<p\n  a=\"1\"\n  /* a comment */\n  b={2} // and another\n>x</p>);\n"
        ),
    },
    "nested JSX in attributes and expressions": {
        "main.js": (
            "import React from 'react';\nimport show from './show.js';\n"
            "const items = ['a', 'b'];\nconst on = true, off = false;\n"
            "show(<ul title={<b>bold</b>} render={() => <i>{items.length}</i>}>\n"
            "  {items.map((item) => <li key={item}>{item}</li>)}\n"
            "  {on && <span>on</span>}{off && <span>off</span>}\n"
            "  {on ? <em>yes</em> : <em>no</em>}\n"
            "  {...items}\n"
            "</ul>);\n"
            "show(<div>{[<a key=\"1\" />, <a key=\"2\" />]}{null}{undefined}{0}</div>);\n"
        ),
    },
    "fragments": {
        "main.js": (
            "import React from 'react';\nimport show from './show.js';\n"
            "show(<>a<b/>{'c'}</>);\nshow(<><></></>);\nshow(<React.Fragment key=\"k\">x</React.Fragment>);\n"
        ),
    },
    "whitespace and newlines": {
        "main.js": (
            "import React from 'react';\nimport show from './show.js';\n"
            "show(<a>  leading and trailing  </a>);\n"
            "show(<a>\n  first line\n    second line   \n\n   \n  third {'x'} after\n  </a>);\n"
            "show(<a>  starts on the tag line\n  ends on the closing line  </a>);\n"
            "show(<a>\n  <b/> <c/>\n  <d/>{' '}<e/>\n</a>);\n"
            "show(<a>\t tabs\tinside\t \n\t\there</a>);\n"
            "show(<a>\u00a0no-break at the ends\u00a0\n\u00a0and\u00a0here\u00a0</a>);\n"
            "show(<a>\n\n</a>);\nshow(<a> </a>);\nshow(<a>{/* only a comment */}</a>);\n"
            "show(<a>{}</a>);\nshow(<a>x{/* c */}y</a>);\nshow(<a>{/* a */ 'kept' /* b */}</a>);\n"
        ),
    },
    "entities": {
        "main.js": (
            "import React from 'react';\nimport show from './show.js';\n"
            "show(<a b=\"&amp;&lt;&quot;&#65;&#x42;&apos;&nbsp;\" c=\"&amp\" d=\"a\n   b\">"
            "&amp; &amp &nope; &; &#; &#x; &#X41; &#x1F600; &#128512; &copy;&hellip;&check; &amp;amp; "
            "&#0065;&#+66;</a>);\n"
            "show(<a>" + " ".join(f"&{name};" for name in sorted(_ENTITIES)) + "</a>);\n"
            "const bits = 6 & 3, both = bits && 1; // a & b in code, & in comments\n"
            "show(<a title=\"R & D &amp\" in={bits & both}>Tom & Jerry &amp Co; a&b &</a>);\n"
        ),
    },
    "member-expression tags and names that stay strings": {
        "main.js": (
            "import React from 'react';\nimport show from './show.js';\n"
            "const Foo = { Bar: function Bar() {}, baz: { Qux: function Qux() {} } };\n"
            "const lower = { item: function item() {} };\nfunction _Private() {}\nfunction $dollar() {}\n"
            "show([<Foo.Bar />, <Foo.baz.Qux x=\"1\" />, <lower.item />, <_Private />, <$dollar />, <Capital-dash />]);\n"
            "class K { static Inner() {} static make() { const Self = this; return <Self.Inner />; } }\nshow(K.make());\n"
        ),
    },
    "imported components in an ES module": {
        "main.js": (
            "import React from 'react';\nimport show from './show.js';\n"
            "import App from './App';\nshow(App({ label: 'L' }));\n"
        ),
        "App.jsx": (
            "import React, { Fragment } from 'react';\n"
            "import Button, { Icon as Glyph } from './Button';\nimport * as ui from './ui.jsx';\n"
            "export default function App({ label }) {\n"
            "  const local = (Button) => <Button />;  // a parameter shadows the import\n"
            "  return (\n    <Fragment>\n      <Button kind=\"primary\"><Glyph name={label} /></Button>\n"
            "      <ui.Card>{ui.title}</ui.Card>\n      {local(function Shadow() {})}\n    </Fragment>\n  );\n}\n"
        ),
        "Button.jsx": (
            "import React from 'react';\nexport default function Button() {}\n"
            "export function Icon() {}\n"
        ),
        "ui.jsx": "export function Card() {}\nexport const title = <h1>title</h1>;\nimport React from 'react';\n",
    },
    "pragma comments": {
        "main.js": (
            "/** @jsx h */\n/** @jsxFrag Frag */\nimport { h, Frag } from 'preact';\nimport show from './show.js';\n"
            "show(<div a=\"1\"><>x</></div>);\nshow(require('./local.jsx'));\nshow(require('./dotted.jsx'));\n"
        ),
        "local.jsx": (
            "// @jsx make\nfunction make(type, props) { return [type, props, arguments.length]; }\n"
            "module.exports = <p q>t</p>;\n"
        ),
        "dotted.jsx": (
            "/* @jsx lib.make */\n/* @jsxFrag lib.Group */\n/* @jsxRuntime classic */\n"
            "var lib = { Group: 'group', make: function (type) { return { type: type, self: this === lib }; } };\n"
            "module.exports = <>x</>;\n"
        ),
    },
    "CommonJS with require('react')": {
        "main.js": (
            "const React = require('react');\nconst show = require('./show.js');\nconst Item = require('./item.jsx');\n"
            "show(<ul>{[1, 2].map((n) => <Item key={n} n={n} />)}</ul>);\n"
            "if (typeof import('./show.js').then === 'function') show(<a>with import()</a>);\n"
        ),
        "item.jsx": "var React = require('react');\nmodule.exports = function Item(props) { return <li>{props.n}</li>; };\n",
    },
}


def write_program(root: Path, files: dict[str, str], entry: str) -> None:
    make_project(root, {f"src/{name}": text for name, text in {**LIBRARIES, **files}.items()}, RC.format(entry=entry))


def run_mendel(tmp_path: Path, files: dict[str, str], entry: str = "main.js") -> str:
    root = tmp_path / "mendel"
    write_program(root, files, entry)
    build(root)
    tree = MendelTrees(str(root)).find_tree_for_variations("main", [["src"]])
    return run_in_vm(tmp_path, pack_js(tree), "mendel")


def run_esbuild(tmp_path: Path, files: dict[str, str], entry: str = "main.js") -> str:
    esbuild = ensure_npm_package(ESBUILD_SPEC) / ".bin" / "esbuild"
    root = tmp_path / "esbuild"
    write_program(root, files, entry)
    out = tmp_path / "esbuild.out.js"
    done = subprocess.run(
        [str(esbuild), str(root / "src" / entry), "--bundle", "--format=iife", "--keep-names",
         "--loader:.js=jsx", "--log-level=error", f"--outfile={out}"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return run_in_vm(tmp_path, out.read_bytes(), "esbuild")


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_jsx_runs_as_esbuild_compiles_it(case: str, tmp_path: Path) -> None:
    expected = run_esbuild(tmp_path, CASES[case])
    assert expected.count("\n") >= 1 and "uncaught" not in expected, expected
    assert run_mendel(tmp_path, CASES[case]) == expected


def test_a_jsx_entry_and_project_settings(tmp_path: Path) -> None:
    files = {
        "main.jsx": "import { h, Frag } from 'preact';\nimport show from './show.js';\nshow(<><b>x</b></>);\n",
    }
    expected = run_esbuild(tmp_path, {"main.jsx": "/** @jsx h */\n/** @jsxFrag Frag */\n" + files["main.jsx"]}, "main.jsx")
    root = tmp_path / "mendel"
    write_program(root, files, "main.jsx")
    with open(root / ".mendelrc", "a") as rc:
        rc.write("jsx:\n  factory: h\n  fragment: Frag\n")
    build(root)
    tree = MendelTrees(str(root)).find_tree_for_variations("main", [["src"]])
    assert run_in_vm(tmp_path, pack_js(tree), "mendel") == expected
    assert '{"h":"<Frag>"' in expected


def test_jsx_files_resolve_after_js_and_json(tmp_path: Path) -> None:
    files = {
        "src/main.js": "require('./a'); require('./b'); require('./c'); require('./dir');\n",
        "src/a.js": "", "src/a.jsx": "", "src/b.json": "{}", "src/b.jsx": "", "src/c.jsx": "",
        "src/dir/index.jsx": "",
    }
    make_project(tmp_path, files, RC.format(entry="main.js"))
    build(tmp_path)
    (main,) = module(manifest(tmp_path), "main.js")["data"]
    assert main["deps"] == {"./a": "a.js", "./b": "b.json", "./c": "c.jsx", "./dir": "dir/index.jsx"}


def test_jsx_text_rules() -> None:
    assert jsx_text("  a  ") == "  a  "
    assert jsx_text("\n  a  \n  b  \n") == "a b"
    assert jsx_text("  a\n \n\t\n  b  ") == "  a b  "
    assert jsx_text("\n   \n") == ""
    assert jsx_text("&amp;&amp&#60;&#x3C;&lt") == "&&amp<<&lt"


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("const a = <div>\n  <span>\n</div>;\n", 3, "</span> to match opening tag <span>, got </div>"),
        ("const a = <div>\n  <span>\n\nconst b = 1;\n", 1, "syntax error"),
        ("const a = <div>Tom & Jerry & {x}</div>;\nconst b = a & 1 && 2;\nconst c = 'x' +* <b />;\n", 3, "syntax error"),
        ("const a = (\n  <div>\n    text\n  </dvi>\n);\n", 4, "</div>"),
        ("const a = <A.B></A.C>;\n", 1, "</A.B>"),
        ("const a = <></a>;\n", 1, "</>"),
        ("const a = 1;\n\nconst b = <div x={}></div>;\n", 3, "non-empty expression"),
        ("const a = <div>1 > 0</div>;\n", 1, "syntax error"),
        ("/* @jsx 1h */\nconst a = <b/>;\n", 1, "`@jsx` pragma"),
        ("\n/**\n * @jsxRuntime automatic\n */\nconst a = <b/>;\n", 3, "`@jsxRuntime automatic` is not supported"),
    ],
)
def test_malformed_jsx_names_file_and_line(tmp_path: Path, text: str, line: int, fragment: str) -> None:
    make_project(tmp_path, {"src/main.js": "require('./view');\n", "src/view.jsx": text}, RC.format(entry="main.js"))
    with pytest.raises(BuildError) as caught:
        build(tmp_path)
    assert (caught.value.file, caught.value.line) == ("src/view.jsx", line)
    assert fragment in caught.value.message


def test_settings_key_the_parse_cache(tmp_path: Path) -> None:
    files = {"src/main.js": "module.exports = <b />;\n"}
    make_project(tmp_path, files, RC.format(entry="main.js"))
    first = build(tmp_path)
    (entry,) = module(manifest(tmp_path), "main.js")["data"]
    assert entry["source"] == 'module.exports = React.createElement("b", null);\n'
    assert json.loads(entry["original"]) == [[17, 38, "<"], [39, 47, " />"]]
    with open(tmp_path / ".mendelrc", "a") as rc:
        rc.write("jsx:\n  factory: h\n")
    second = build(tmp_path)
    assert first.files_scanned == second.files_scanned == 1  # not the cached React output
    (entry,) = module(manifest(tmp_path), "main.js")["data"]
    assert entry["source"] == 'module.exports = h("b", null);\n'

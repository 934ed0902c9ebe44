"""Server-rendered test projects: React 19 and Preact 10 apps from npm with variations, and a
plain one with no package; node renders the same files natively to compare HTML with.

Each library's project has one bundle `main` with entries `render.js` (the server module:
`render(props)` -> HTML) and `client.js` (hydrates the page's root in a browser), a base and two
variations: `bold` overrides `components/title.js`, `list` overrides `components/items.js`.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from build_support import build, make_project
from node_support import ensure_npm_package

REACT = ("react@19.3.1", "react-dom@19.3.1", "scheduler@0.28.0")
PREACT = ("preact@10.29.8", "preact-render-to-string@6.8.2")
PACKAGES = {"react": ("react", "react-dom", "scheduler"), "preact": ("preact", "preact-render-to-string")}
VARIATION_SETS: tuple[tuple[str, ...], ...] = ((), ("bold",), ("list",), ("bold", "list"))

RC = """\
base-config:
  dir: src/base
variation-config:
  variation-dirs: [src/variations]
  variations:
    bold:
    list:
bundles:
  main:
    entries: [render.js, client.js]
    manifest: manifests/main.manifest.json
    ssr:
      module: render.js
"""

# Props that need escaping in HTML and in the props script, and a non-ASCII name.
TRICKY_PROPS: dict[str, Any] = {
    "title": "Caf\u00e9 <script>alert('x')</script> & \"quotes\" \u2028 \U0001f600",
    "items": [{"id": i, "label": f"item {i} <b>&amp;</b> '\u00fc'"} for i in range(5)],
}


def many_items_props(count: int, seed: int = 0) -> dict[str, Any]:
    """A page of `count` items whose text changes with `seed` (new props every render)."""
    return {"title": f"Page {seed}", "items": [{"id": i, "label": f"item {i}-{seed} & co"} for i in range(count)]}


FILES = {
    "react": {
        "src/base/render.js": (
            "import React from 'react';\n"
            "import { renderToString } from 'react-dom/server';\n"
            "import App from './app.js';\n"
            "export function render(props) { return renderToString(React.createElement(App, props)); }\n"
        ),
        "src/base/client.js": (
            "import React from 'react';\n"
            "import { hydrateRoot, createRoot } from 'react-dom/client';\n"
            "import App from './app.js';\n"
            "if (typeof document !== 'undefined') {\n"
            "  var root = document.querySelector('[data-mendel-root=\"main\"]');\n"
            "  var props = JSON.parse(document.querySelector('[data-mendel-props=\"main\"]').textContent);\n"
            "  window.__hydrationErrors = [];\n"
            "  var report = function (e) { window.__hydrationErrors.push(String(e && e.message || e)); };\n"
            "  if (root.hasAttribute('data-mendel-ssr')) {\n"
            "    hydrateRoot(root, React.createElement(App, props), {onRecoverableError: report});\n"
            "  } else { createRoot(root).render(React.createElement(App, props)); }\n"
            "  window.__hydrated = root.hasAttribute('data-mendel-ssr') ? 'hydrate' : 'render';\n"
            "}\n"
        ),
        "src/base/app.js": (
            "import React from 'react';\n"
            "import Title from './components/title.js';\n"
            "import Items from './components/items.js';\n"
            "var renders = 0;\n"
            "export default function App(props) {\n"
            "  renders++;\n"
            "  var [clicks, setClicks] = React.useState(0);\n"
            "  return React.createElement('main', {className: 'app', 'data-renders': renders},\n"
            "    React.createElement(Title, {text: props.title}),\n"
            "    React.createElement('button', {id: 'clicker', onClick: function () { setClicks(clicks + 1); }},\n"
            "      'clicked ', clicks),\n"
            "    React.createElement(Items, {items: props.items}));\n"
            "}\n"
        ),
        "src/base/components/title.js": (
            "import React from 'react';\n"
            "export default function Title(p) { return React.createElement('h1', {title: p.text}, p.text); }\n"
        ),
        "src/base/components/items.js": (
            "import React from 'react';\n"
            "export default function Items(p) {\n"
            "  return React.createElement('ul', null, p.items.map(function (i) {\n"
            "    return React.createElement('li', {key: i.id, 'data-id': i.id}, i.label); }));\n"
            "}\n"
        ),
        "src/variations/bold/components/title.js": (
            "import React from 'react';\n"
            "export default function Title(p) {\n"
            "  return React.createElement('h1', {className: 'bold'}, React.createElement('strong', null, p.text)); }\n"
        ),
        "src/variations/list/components/items.js": (
            "import React from 'react';\n"
            "export default function Items(p) {\n"
            "  return React.createElement('ol', {className: 'numbered'}, p.items.map(function (i) {\n"
            "    return React.createElement('li', {key: i.id}, React.createElement('span', null, i.id), ' ', i.label);\n"
            "  }));\n"
            "}\n"
        ),
    },
    "preact": {
        "src/base/render.js": (
            "import { h } from 'preact';\n"
            "import { renderToString } from 'preact-render-to-string';\n"
            "import App from './app.js';\n"
            "export function render(props) { return renderToString(h(App, props)); }\n"
        ),
        "src/base/client.js": (
            "import { h, hydrate, render } from 'preact';\n"
            "import App from './app.js';\n"
            "if (typeof document !== 'undefined') {\n"
            "  var root = document.querySelector('[data-mendel-root=\"main\"]');\n"
            "  var props = JSON.parse(document.querySelector('[data-mendel-props=\"main\"]').textContent);\n"
            "  window.__hydrationErrors = [];\n"
            "  if (root.hasAttribute('data-mendel-ssr')) { hydrate(h(App, props), root); }\n"
            "  else { render(h(App, props), root); }\n"
            "  window.__hydrated = root.hasAttribute('data-mendel-ssr') ? 'hydrate' : 'render';\n"
            "}\n"
        ),
        "src/base/app.js": (
            "import { h } from 'preact';\n"
            "import { useState } from 'preact/hooks';\n"
            "import Title from './components/title.js';\n"
            "import Items from './components/items.js';\n"
            "var renders = 0;\n"
            "export default function App(props) {\n"
            "  renders++;\n"
            "  var [clicks, setClicks] = useState(0);\n"
            "  return h('main', {class: 'app', 'data-renders': renders},\n"
            "    h(Title, {text: props.title}),\n"
            "    h('button', {id: 'clicker', onClick: function () { setClicks(clicks + 1); }}, 'clicked ', clicks),\n"
            "    h(Items, {items: props.items}));\n"
            "}\n"
        ),
        "src/base/components/title.js": (
            "import { h } from 'preact';\n"
            "export default function Title(p) { return h('h1', {title: p.text}, p.text); }\n"
        ),
        "src/base/components/items.js": (
            "import { h } from 'preact';\n"
            "export default function Items(p) {\n"
            "  return h('ul', null, p.items.map(function (i) { return h('li', {key: i.id, 'data-id': i.id}, i.label); }));\n"
            "}\n"
        ),
        "src/variations/bold/components/title.js": (
            "import { h } from 'preact';\n"
            "export default function Title(p) { return h('h1', {class: 'bold'}, h('strong', null, p.text)); }\n"
        ),
        "src/variations/list/components/items.js": (
            "import { h } from 'preact';\n"
            "export default function Items(p) {\n"
            "  return h('ol', {class: 'numbered'}, p.items.map(function (i) {\n"
            "    return h('li', {key: i.id}, h('span', null, i.id), ' ', i.label); }));\n"
            "}\n"
        ),
    },
}


def node_modules_for(library: str) -> Path:
    """The shared `node_modules` with the library's packages installed."""
    modules = None
    for spec in REACT if library == "react" else PREACT:
        modules = ensure_npm_package(spec)
    assert modules is not None
    return modules


def make_ssr_project(root: Path, library: str) -> Path:
    """Write and build the library's project under `root` (its packages linked in)."""
    modules = node_modules_for(library)
    make_project(root, FILES[library], RC)
    link_packages(root, modules, PACKAGES[library])
    build(root)
    return root


def link_packages(root: Path, modules: Path, names: tuple[str, ...]) -> None:
    (root / "node_modules").mkdir(parents=True, exist_ok=True)
    for name in names:
        target = root / "node_modules" / name
        if not target.exists():
            os.symlink(modules / name, target)


NODE_RENDER = r"""
import { pathToFileURL } from 'node:url';
import { readFileSync } from 'node:fs';
const [dir, propsFile] = process.argv.slice(2);
const props = JSON.parse(readFileSync(propsFile, 'utf8'));
const mod = await import(pathToFileURL(dir + '/render.js').href);
process.stdout.write(mod.render(props));
"""


def node_render(project: Path, variations: tuple[str, ...], props: Any, work: Path) -> str:
    """What node renders from the project's own files: base, with each variation's files laid
    over it (in config order: the first variation wins a file both override), as ES modules with
    node's own copies of the packages."""
    tree = work / ("native-" + ("-".join(variations) or "base"))
    if tree.exists():
        shutil.rmtree(tree)
    shutil.copytree(project / "src" / "base", tree)
    for name in reversed([v for v in ("bold", "list") if v in variations]):
        shutil.copytree(project / "src" / "variations" / name, tree, dirs_exist_ok=True)
    (tree / "package.json").write_text(json.dumps({"type": "module"}))
    os.symlink(project / "node_modules", tree / "node_modules")
    props_file = work / "props.json"
    props_file.write_text(json.dumps(props), encoding="utf-8")
    script = work / "node_render.mjs"
    script.write_text(NODE_RENDER)
    done = subprocess.run(
        ["node", str(script), str(tree), str(props_file)], capture_output=True, timeout=120,
        env={**os.environ, "NODE_ENV": "production"},
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode("utf-8")

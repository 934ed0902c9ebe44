"""Source maps: exact positions (checked in node by the `source-map` package), nothing leaked."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.test import Client

from build_support import FLAT_RC, build, make_project
from e2e_support import build_example_project
from lazy_project import write_lazy_project
from mendel_py.cli.main import cli
from mendel_py.core.trees import MendelTrees
from mendel_py.errors import ManifestError
from mendel_py.packing.sourcemap import _vlq, source_map
from mendel_py.serving.wsgi import MendelMiddleware
from node_support import ensure_npm_package, needs_node_and_npm

SOURCE_MAP_SPEC = "source-map@0.7.4"
CHECKER = Path(__file__).resolve().parents[1] / "helpers" / "js" / "check_sourcemap.js"
needs_node = needs_node_and_npm


def ensure_source_map_package() -> Path:
    """The source-map consumer's `node_modules`."""
    return ensure_npm_package(SOURCE_MAP_SPEC)


def hash_of(trees: MendelTrees, bundle: str, names: list[str]) -> str:
    _matching, chains = trees.variations_and_chains(names)
    return trees.find_tree_for_variations(bundle, chains).hash


ESM_PROLOGUE = '"use strict";Object.defineProperty(exports,"__esModule"'


def test_vlq_matches_the_published_encoding() -> None:
    assert [_vlq(n) for n in (0, 1, -1, 15, 16, -16, 123, 1000)] == ["A", "C", "D", "e", "gB", "hB", "2H", "w+B"]


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_example_project(tmp_path_factory.mktemp("shop-maps"))


def test_production_bundles_point_at_no_map_and_maps_are_not_served(shop: Path) -> None:
    middleware = MendelMiddleware(lambda e, s: [], str(shop))
    url = middleware.url_for_hash("main", hash_of(middleware.trees, "main", ["bucket_A"]))
    client = Client(middleware)
    body = client.get(url).get_data()
    assert b"sourceMappingURL" not in body and b"examples/" not in body and b"bucket_A" not in body
    response = client.get(url + ".map")
    assert response.status_code == 404 and response.headers["Cache-Control"] == "no-store"


def development_client(project: Path, **options: object) -> tuple[MendelMiddleware, Client]:
    middleware = MendelMiddleware(lambda e, s: [], str(project), development=True, **options)
    return middleware, Client(middleware)


def test_development_bundle_carries_its_map_url_and_the_map_is_served(shop: Path) -> None:
    middleware, client = development_client(shop)
    url = middleware.url_for_hash("main", hash_of(middleware.trees, "main", ["bucket_A"]))
    body = client.get(url).get_data(as_text=True)
    assert body.endswith("\n//# sourceMappingURL=main.js.map\n")
    assert b"examples/" not in body.encode() and "bucket_A" not in body
    response = client.get(url + ".map")
    assert response.status_code == 200 and response.mimetype == "application/json"
    source_map = json.loads(response.get_data())
    assert source_map["file"] == "main.js"
    assert any("variations/bucket_A" in source for source in source_map["sources"])
    for source, content in zip(source_map["sources"], source_map["sourcesContent"]):
        assert (shop / source).read_text() == content  # ES modules too: the file, not its compiled form
    assert ESM_PROLOGUE in body  # (which is what the bundle runs)
    production_etag = Client(MendelMiddleware(lambda e, s: [], str(shop))).get(url).headers["ETag"]
    assert client.get(url).headers["ETag"] != production_etag  # other bytes, other ETag


def test_development_maps_refuse_stylesheets_and_odd_spellings(shop: Path) -> None:
    middleware, client = development_client(shop)
    css = middleware.url_for_hash("css", hash_of(middleware.trees, "css", []))
    assert "NOMAP" in client.get(css + ".map").get_data(as_text=True)
    main = middleware.url_for_hash("main", hash_of(middleware.trees, "main", []))
    assert client.get(main + ".map?x=1").status_code == 404
    assert client.get(main.replace("main.js", "nope.js") + ".map").status_code == 404


@needs_node
@pytest.mark.parametrize("variations", [[], ["bucket_A"], ["bucket_D", "feature_C"]])
def test_every_token_maps_exactly_in_a_real_consumer(shop: Path, tmp_path: Path, variations: list[str]) -> None:
    modules = ensure_source_map_package()
    middleware, client = development_client(shop)
    url = middleware.url_for_hash("main", hash_of(middleware.trees, "main", variations))
    (tmp_path / "main.js").write_bytes(client.get(url).get_data())
    (tmp_path / "main.js.map").write_bytes(client.get(url + ".map").get_data())
    report = check_in_node(modules, tmp_path / "main.js", tmp_path / "main.js.map")
    assert report["wrong"] == [] and report["checked"] > 100 and report["identifiers"] > 100
    # what an ES module loses to compiling is its import and export syntax, nothing else, and
    # JSX (feature_C's recommended.jsx) its punctuation, text and closing tag; `mendel build`
    # minifies, which drops comments (and nothing else: every token of code stays mapped)
    for source, tokens in report["unmapped"].items():
        tokens = outside_comments((shop / source).read_text(), tokens)
        if not tokens:
            continue
        if source.endswith(".jsx"):
            assert [token for _line, _column, token in tokens] == [
                "<", "=", "=", ">", "Recommended", "for", "you", ":", "{", "}", "<", "/", "aside", ">",
            ]
            continue
        lines = (shop / source).read_text().split("\n")
        assert all(re.match(r"(import|export)\b", lines[line - 1]) for line, _column, _token in tokens), source
    assert "examples/shop/src/base/main.js" in report["unmapped"]


def outside_comments(text: str, tokens: list[list]) -> list[list]:
    """The (line, column, token) entries that are not inside a `//` or `/* */` comment of `text`
    (strings and template literals skipped; enough for the example's sources)."""
    spans = []
    for match in re.finditer(r"//[^\n]*|/\*[\s\S]*?\*/|\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\.)*`", text):
        if match.group().startswith("/"):
            spans.append(match.span())
    starts = [0, *(m.end() for m in re.finditer("\n", text))]
    def offset(line: int, column: int) -> int:
        return starts[line - 1] + column
    return [t for t in tokens if not any(a <= offset(t[0], t[1]) < b for a, b in spans)]


def check_in_node(modules: Path, script: Path, source_map: Path) -> dict:
    done = subprocess.run(
        ["node", str(CHECKER), str(modules), str(script), str(source_map)],
        check=True, capture_output=True, text=True, timeout=60,
    )
    return json.loads(done.stdout)


@needs_node
def test_cli_writes_the_map_of_a_bundle_and_of_a_lazy_chunk(tmp_path: Path) -> None:
    modules = ensure_source_map_package()
    (tmp_path / "project").mkdir()
    project = write_lazy_project(tmp_path / "project")
    middleware, client = development_client(project)
    hash = hash_of(middleware.trees, "main", [])
    url = middleware.url_for_hash("main", hash)
    chunk_relative = json.loads(
        client.get(url).get_data(as_text=True).split("&&require,", 1)[1].rsplit(");", 1)[0]
    )
    [(chunk_id, (relative, _integrity))] = chunk_relative.items()
    runner = CliRunner()
    for chunk, name in ((None, "main.js"), (int(chunk_id), relative)):
        output = tmp_path / f"{name}.map"
        args = ["sourcemap", "--basedir", str(project), "--bundle", "main", hash, "-o", str(output)]
        result = runner.invoke(cli, args + (["--chunk", str(chunk)] if chunk is not None else []))
        assert result.exit_code == 0, result.output
        script_url = url if chunk is None else url.replace("main.js", relative)
        script = tmp_path / name
        script.write_bytes(client.get(script_url).get_data())
        served = client.get(script_url + ".map").get_data()
        assert json.loads(output.read_bytes()) == json.loads(served)
        report = check_in_node(modules, script, output)
        assert report["wrong"] == [] and report["checked"] > 10
        expected = {"src/base/deep.js"} if chunk is not None else {"src/base/main.js", "src/base/util.js"}
        assert set(report["sources"]) >= expected
    missing = runner.invoke(cli, ["sourcemap", "--basedir", str(project), "--bundle", "main", hash, "--chunk", "999"])
    assert missing.exit_code == 1 and "no lazy chunk 999" in missing.output


# An ES module with imports, exports and rewritten references on line 1 and later lines, a
# multi-line import, non-ASCII text before tokens, a shorthand property, both kinds of default
# export, a re-export, and `import()`; and a CommonJS file with `import()`.
ESM_FILES = {
    "src/main.js": (
        "import { a as b, f } from './lib.js'; export const x = f(b) + 1, y = { b }; console.log(x, y.b, f(b));\n"
        "import dflt, * as ns from './lib.js'; const party = '\U0001f389'; console.log(party, ns.a, f(party));\n"
        "/* \u00fcn\u00efc\u00f6d\u00e9 \u2713 */ export default function () { return dflt + ns.a + b; }\n"
        "export function later(n) {\n"
        "  const v = '\u00e9' + n; return f(v) + dflt + c;\n"
        "}\n"
        "import {\n"
        "  c,\n"
        "  a,\n"
        "} from './lib.js';\n"
        "export { c as renamed, a };\n"
        "export * from './lib.js';\n"
        "console.log(require('./second.js').default, require('./old.js'));\n"
    ),
    "src/lib.js": "export const a = 1;\nexport function f(n) { return n; }\nexport let c = 2;\nexport default 'd';\n",
    "src/second.js": (
        "import { f as g } from './lib.js';\n"
        "export default g(3) + 1;  import('./lazy.js').then((m) => g(m.z));\n"
    ),
    "src/lazy.js": "export const z = 'lazy';\n",
    "src/old.js": "var lib = require('./lib.js');\nmodule.exports = import('./lazy.js').then(function (m) { return lib.f(m); });\n",
}
# What compiling drops: import statements, `export {...}` / `export * from` statements, and the
# `export` / `export default` keywords before a declaration or value.
_DROPPED_SYNTAX = re.compile(
    r"import\s*[\w$*\s{},]*?\s*from\s*'[^']*'\s*;"
    r"|export\s*\{[^}]*\}\s*;|export\s*\*\s*from\s*'[^']*'\s*;"
    r"|export\s+default\b|export\b"
)
_TOKEN = re.compile(r"[\w$]+|\S", re.ASCII)  # as the checker splits a line


def dropped_tokens(text: str) -> list[list]:
    """[line, column, token] of each token inside the syntax the compiler drops (lines from 1)."""
    found = []
    for syntax in _DROPPED_SYNTAX.finditer(text):
        for token in _TOKEN.finditer(text, syntax.start(), syntax.end()):
            line = text.count("\n", 0, token.start())
            found.append([line + 1, utf16_length(text[text.rfind("\n", 0, token.start()) + 1:token.start()]), token.group()])
    return found


def utf16_length(text: str) -> int:
    """A source map column: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def from_utf16_column(row: str, column: int) -> str:
    """`row` from a source map column on."""
    return row.encode("utf-16-le")[2 * column:].decode("utf-16-le")


def served_bundle_and_map(tmp_path: Path, files: dict[str, str]) -> tuple[bytes, bytes]:
    """Build a one-folder project of `files`; its main bundle and map as development serves
    them, also written to `tmp_path` as main.js and main.js.map."""
    project = tmp_path / "project"
    make_project(project, files, FLAT_RC)
    build(project)
    middleware, client = development_client(project)
    url = middleware.url_for_hash("main", hash_of(middleware.trees, "main", []))
    script, served_map = client.get(url).get_data(), client.get(url + ".map").get_data()
    (tmp_path / "main.js").write_bytes(script)
    (tmp_path / "main.js.map").write_bytes(served_map)
    return script, served_map


@needs_node
def test_es_modules_map_to_the_files_as_written(tmp_path: Path) -> None:
    modules = ensure_source_map_package()
    script, served_map = served_bundle_and_map(tmp_path, ESM_FILES)
    assert b"__mendel_m0" in script  # the bundle runs the compiled modules
    source_map = json.loads(served_map)
    for source, content in zip(source_map["sources"], source_map["sourcesContent"]):
        assert content == ESM_FILES[source]
    report = check_in_node(modules, tmp_path / "main.js", tmp_path / "main.js.map")
    assert report["wrong"] == []
    # every token outside the dropped syntax maps (to itself, or as the name it had), no other
    for source in source_map["sources"]:
        assert report["unmapped"].get(source, []) == dropped_tokens(ESM_FILES[source]), source
    texts = [ESM_FILES[source] for source in source_map["sources"]]
    assert len(texts) == 4  # (lazy.js is a chunk's)
    assert report["checked"] == sum(len(_TOKEN.findall(text)) - len(dropped_tokens(text)) for text in texts)
    assert report["identifiers"] > 80
    # rewritten references carry the names they replaced (and `import(` its keyword)
    assert {"b", "f", "dflt", "ns", "c", "g", "import"} <= set(source_map["names"])


def test_a_malformed_original_is_refused_naming_file_module_and_field(tmp_path: Path) -> None:
    make_project(tmp_path, ESM_FILES, FLAT_RC)
    build(tmp_path)
    path = tmp_path / "manifests" / "main.manifest.json"
    document = json.loads(path.read_text())
    position = document["indexes"]["second.js"]
    entry = document["bundles"][position]["data"][0]
    edits = json.loads(entry["original"])
    edits[1][1] = len(entry["source"]) + 1
    entry["original"] = json.dumps(edits)
    path.write_text(json.dumps(document))
    result = CliRunner().invoke(cli, ["validate", "--basedir", str(tmp_path), "--json"])
    assert result.exit_code == 1
    [problem] = json.loads(result.stdout)["problems"]
    assert problem["module"] == "second.js" and problem["field"] == "data[0].original"
    assert problem["message"].startswith(f'manifests/main.manifest.json: bundles[{position}] ("second.js"): data[0].original [1]')
    trees = MendelTrees(str(tmp_path))  # serving doesn't read it; a map does, and names it
    with pytest.raises(ManifestError, match=r"data\[0\]\.original"):
        source_map(trees.find_tree_for_variations("main", [["src"]]), "main.js")


# Statements for generated ES modules (and, without the first group, CommonJS files with
# `import()`): every kind of edit the compiler makes, on shared and separate lines.
_MODULE_STATEMENTS = [
    "import d, { a as b, f } from './lib.js';", "import * as ns from './lib.js';",
    "import {\n  c,\n  e as h,\n} from './lib.js';", "export const x = f(b) + 1, y = { b };",
    "export default function () { return d + ns.a; }", "export default b + c;",
    "export function later(n) { const v = '\u00e9\U0001f600' + n; return f(v, h) + d; }",
    "export { b as renamed, c };", "export * from './lib.js';", "export class K { m() { return ns; } }",
]
_PLAIN_STATEMENTS = [
    "console.log('\u2713');", "var q = 1; /* \u00fcn\u00efc\u00f6d\u00e9 */ q += 2;",
    "import('./lazy.js').then((m) => m.z);", "function g(b) { return b + 1; }", "", "console.log(this);",
]


def _check_compiled(text: str, module: bool) -> None:
    from mendel_py.compiler.esm import compile_commonjs, compile_module
    from mendel_py.compiler.jsdeps import scan
    from mendel_py.core.original import restore, spans
    from mendel_py.packing.sourcemap import _edited_segments

    body = text.encode("utf-8")
    found = scan(body, "x.js")
    compiled = compile_module(body, found, "x.js") if module else compile_commonjs(body, found, "x.js")
    assert restore(compiled.source, compiled.original) == text
    assert sum(span.end - span.start for span in spans(compiled.source, compiled.original)) == len(compiled.source)
    generated, original = compiled.source.split("\n"), text.split("\n")
    assert len(generated) == len(original)  # lines are kept
    mapped = set()
    for line, segments in enumerate(_edited_segments(compiled.source, compiled.original, text)):
        for segment in segments:
            if len(segment) == 1:
                continue
            column, at_line, at_column, name = segment
            token = _TOKEN.match(from_utf16_column(generated[line], column)).group()
            expected = name if name is not None else token
            assert from_utf16_column(original[at_line], at_column).startswith(expected), (segment, token)
            mapped.add((at_line, at_column))
    kept = {
        (line, utf16_length(row[:token.start()])) for line, row in enumerate(original) for token in _TOKEN.finditer(row)
    } - {(line - 1, column) for line, column, _token in dropped_tokens(text)}
    assert kept == mapped  # every token but the dropped syntax, each once


@given(st.lists(st.sampled_from(_MODULE_STATEMENTS + _PLAIN_STATEMENTS), min_size=1, max_size=8, unique=True),
       st.lists(st.sampled_from(["\n", " ", "\n\n"]), min_size=8, max_size=8))
@settings(max_examples=60, deadline=None)
def test_compiled_modules_map_every_kept_token_to_itself(statements: list[str], separators: list[str]) -> None:
    if sum(s.startswith("export default") for s in statements) > 1:
        statements = [s for s in statements if not s.startswith("export default")]
    # (a declaration ending in `}` ends its line: the parser wants no statement after it)
    text = "".join(s + (sep if not s.endswith("}") else "\n") for s, sep in zip(statements, separators))
    if not any(s in _MODULE_STATEMENTS for s in statements):
        text = "export {};\n" + text
    _check_compiled(text, module=True)


@pytest.mark.parametrize("statements", [_PLAIN_STATEMENTS, _PLAIN_STATEMENTS[::-1]])
def test_commonjs_with_dynamic_imports_maps_every_token_to_itself(statements: list[str]) -> None:
    _check_compiled("\n".join(statements) + "\n", module=False)


def test_the_parse_cache_keeps_the_edits_with_the_compiled_source(tmp_path: Path) -> None:
    make_project(tmp_path, ESM_FILES, FLAT_RC)
    cold = build(tmp_path)
    path = tmp_path / "manifests" / "main.manifest.json"
    written = path.read_bytes()
    path.unlink()
    warm = build(tmp_path)
    assert cold.files_scanned == 5 and warm.files_scanned == 0
    assert path.read_bytes() == written
    document = json.loads(written)
    with_original = {bundle["id"] for bundle in document["bundles"] if "original" in bundle["data"][0]}
    assert with_original == {"main.js", "lib.js", "second.js", "lazy.js", "old.js"}  # old.js: import()


# JSX in an ES module (the factory and a component read through import bindings) and in CommonJS.
JSX_FILES = {
    "src/main.js": (
        "import React from 'react';\n"
        "import Button, { Icon } from './Button.jsx';\n"
        "export function App({ items, label }) {\n"
        "  return <div className=\"app\" aria-label={label} hidden>\n"
        "    Hello &amp; welcome, {label}!\n"
        "    <Button kind=\"primary\" {...items}><Icon name=\"x\" /></Button>\n"
        "    {items.map((item) => <li key={item}>{item}</li>)}\n"
        "    <>frag</>\n"
        "  </div>;\n"
        "}\n"
        "console.log(App({ items: [], label: 'l' }), require('./old.jsx'));\n"
    ),
    "src/Button.jsx": "export default function Button() {}\nexport function Icon() {}\n",
    "src/old.jsx": "var React = require('react');\nmodule.exports = function Old() { return <p>old {1}</p>; };\n",
    "src/node_modules/react/index.js": "exports.createElement = function () {};\n",
}


@needs_node
def test_jsx_maps_every_kept_token_to_itself(tmp_path: Path) -> None:
    modules = ensure_source_map_package()
    script, _map = served_bundle_and_map(tmp_path, JSX_FILES)
    assert b"__mendel_m0.default.createElement(__mendel_m1.default," in script
    assert b'React.createElement("p", null, "old ", 1)' in script
    report = check_in_node(modules, tmp_path / "main.js", tmp_path / "main.js.map")
    assert report["wrong"] == [] and report["identifiers"] > 40
    unmapped_words = {
        source: [(line, token) for line, _column, token in tokens if re.fullmatch(r"\w+", token)]
        for source, tokens in report["unmapped"].items()
    }
    # what compiling loses: import/export syntax, JSX text and closing tags; names and
    # expressions all map (`Button`, `Icon` and `React`'s reads as the names they replaced)
    assert unmapped_words == {
        "src/main.js": [
            (1, "import"), (1, "React"), (1, "from"), (1, "react"),
            (2, "import"), (2, "Button"), (2, "Icon"), (2, "from"), (2, "Button"), (2, "jsx"),
            (3, "export"), (5, "Hello"), (5, "amp"), (5, "welcome"), (6, "Button"), (7, "li"),
            (8, "frag"), (9, "div"),
        ],
        "src/Button.jsx": [(1, "export"), (1, "default"), (2, "export")],
        "src/old.jsx": [(2, "old"), (2, "p")],
    }


def test_development_switched_on_after_start_has_its_own_etags_and_bytes(shop: Path, tmp_path: Path) -> None:
    middleware = MendelMiddleware(lambda e, s: [], str(shop), store_dir=str(tmp_path / "store"))
    client = Client(middleware)
    url = middleware.url_for_hash("main", hash_of(middleware.trees, "main", ["bucket_A"]))
    production = client.get(url)
    middleware.development = True  # as `mendel dev` does with the app's own middleware
    development = client.get(url)
    assert development.get_data(as_text=True).endswith("\n//# sourceMappingURL=main.js.map\n")
    assert development.headers["ETag"] != production.headers["ETag"]
    assert not production.get_data(as_text=True).endswith(".map\n")

"""Minified production builds: real npm packages and generated programs behave the same after
minification (node runs both), every served bundle passes `node --check`, the settings that turn
it on and off, the parse cache, and source maps through TypeScript and minification."""
from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from build_support import FLAT_RC, build, make_project, manifest, module
from e2e_support import build_example_project
from mendel_py.cli.main import cli
from mendel_py.compiler.minify import batch, js, minify_css, minify_js
from mendel_py.compiler.parsecache import FORMAT_VERSION
from mendel_py.config import load_config
from mendel_py.core.original import restore
from mendel_py.core.trees import MendelTrees
from mendel_py.errors import ConfigError
from mendel_py.packing.packer import pack_js
from mendel_py.serving.wsgi import MendelMiddleware
from node_support import VM_HARNESS, ensure_npm_package, needs_node_and_npm

CHECKER = Path(__file__).resolve().parents[1] / "helpers" / "js" / "check_sourcemap.js"

# Pinned packages, a file of each, and what node does with it (printed as JSON, then compared).
PACKAGES = {
    "lodash@4.17.21": ("lodash/lodash.js", "[m.chunk([1,2,3,4,5],2), m.template('hi <%= name %>!')({name:'x'}), "
                       "m.camelCase('Foo Bar'), m.merge({a:{b:1}},{a:{c:2}}), m.uniqBy([2.1,1.2,2.3],Math.floor), "
                       "m.sortBy([{a:3},{a:1}],'a'), m.isEqual({a:[1]},{a:[1]}), Object.keys(m).length, "
                       "m.range(0,20,3), m.escape('<a>'), m.get({a:{b:[5]}},'a.b[0]'), m.debounce.name]"),
    "underscore@1.13.7": ("underscore/underscore.js", "[m.map([1,2,3], x=>x*2), m.template('<%- a %>')({a:'<b>'}), "
                          "m.groupBy([1.3,2.1,2.4],Math.floor), m.uniq([1,1,2]), Object.keys(m).length]"),
    "react@19.3.1": ("react/cjs/react.development.js", "(() => { const e = m.createElement('div', {id: 'x'}, 'a', "
                     "m.createElement('b')); return [e.type, e.props, Object.keys(m).sort(), typeof m.useState]; })()"),
    "preact@10.29.8": ("preact/dist/preact.js", "[m.h('div', {id: 'x'}, 'a').props, Object.keys(m).sort()]"),
    # esprima parses lodash: the whole syntax tree, with ranges and locations, must be the same
    "esprima@4.0.1": ("esprima/dist/esprima.js",
                      "m.parseScript(require('fs').readFileSync(process.env.SAMPLE, 'utf8'), {range: true, loc: true})"),
}
RUN = """
const m = require(require('path').resolve(process.argv[2]));
const out = JSON.stringify(%s);
console.log(out.length, require('crypto').createHash('sha1').update(out).digest('hex'));
"""


def node(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    done = subprocess.run(["node", *args], capture_output=True, text=True, timeout=120, env=env, cwd=cwd)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@needs_node_and_npm
@pytest.mark.parametrize("spec", list(PACKAGES))
def test_real_packages_behave_the_same_minified(spec: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    modules = ensure_npm_package(spec)
    relative, expression = PACKAGES[spec]
    text = (modules / relative).read_text(encoding="utf-8")
    minified, edits = minify_js(text)
    assert restore(minified, edits) == text  # the edits give the file back, for source maps
    in_c, in_python = spliced_both_ways(text, monkeypatch)  # (C and Python splice alike)
    assert in_c == in_python
    assert len(minified) < len(text) * (0.8 if "preact" not in spec else 1.0)
    (tmp_path / "original.js").write_text(text, encoding="utf-8")
    (tmp_path / "minified.js").write_text(minified, encoding="utf-8")
    (tmp_path / "run.js").write_text(RUN % expression)
    node("--check", str(tmp_path / "minified.js"))
    env = {"SAMPLE": str(ensure_npm_package("lodash@4.17.21") / "lodash" / "lodash.js"), "PATH": "/usr/bin:/bin"}
    env["PATH"] = shutil.which("node").rsplit("/", 1)[0] + ":" + env["PATH"]  # type: ignore[union-attr]
    expected = node(str(tmp_path / "run.js"), str(tmp_path / "original.js"), env=env)
    assert node(str(tmp_path / "run.js"), str(tmp_path / "minified.js"), env=env) == expected


# ------------------------------------------------------------- generated programs

NAMES = ["a", "b", "e", "t", "n", "value", "item", "total"]


def program(rng: random.Random, depth: int = 0) -> str:
    """A random program over a few names (some as short as the mangler's), with shadowing,
    closures, blocks, destructuring, loops, catch clauses and statements without semicolons."""
    lines = []
    declared: list[str] = []
    for _ in range(rng.randint(2, 6)):
        name = rng.choice(NAMES)
        use = rng.choice(declared) if declared else "1"
        choice = rng.randrange(9)
        if choice == 0:
            lines.append(f"var {name} = {use} + {rng.randint(0, 9)}")
        elif choice == 1 and name not in declared:
            lines.append(f"let {name} = [{use}, '{name}']\nlog({name})")
        elif choice == 2 and depth < 2:
            inner = program(rng, depth + 1)
            lines.append(f"function f{depth}{len(lines)}({name}, ...rest) {{\n{inner}\nreturn {name} }}\n"
                         f"log(f{depth}{len(lines)}({use}, 2).toString(), f{depth}{len(lines)}.name)")
            continue
        elif choice == 3:
            lines.append(f"{{ let {name} = {use}; log(typeof {name}, {name}) }}")
            continue
        elif choice == 4:
            lines.append(f"for (let {name} = 0; {name} < 2; {name}++) log({name}, {use})")
            continue
        elif choice == 5:
            lines.append(f"try {{ throw {use} }} catch ({name}) {{ log('caught', {name}) }}")
            continue
        elif choice == 6 and name not in declared:
            lines.append(f"const {{ {name}, ...others{len(lines)} }} = {{ {name}: {use}, q: 2 }}\n"
                         f"log({{ {name} }}, others{len(lines)})")
        elif choice == 7 and depth < 2:
            lines.append(f"var g{len(lines)} = ({name} = {use}) => ({name} * 2)\nlog(g{len(lines)}(), g{len(lines)}.name)")
            continue
        else:
            lines.append(f"log({use})\n[{use}].forEach(function ({name}) {{ log({name}) }})")
            continue
        declared.append(name)
    return "\n".join(lines)


FUZZ_HARNESS = r"""
const vm = require('vm'), fs = require('fs');
const programs = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const out = programs.map((source) => {
  const lines = [];
  const log = (...a) => lines.push(a.map((v) => JSON.stringify(v)).join(' '));
  try { vm.runInNewContext('(function (log) {' + source + '\n})', {})(log); }
  catch (e) { lines.push('uncaught ' + e.name); }
  return lines;
});
console.log(JSON.stringify(out));
"""


@needs_node_and_npm
def test_generated_programs_behave_the_same_minified(tmp_path: Path) -> None:
    sources = [program(random.Random(seed)) for seed in range(300)]
    minified = []
    for source in sources:
        output, edits = minify_js(source)
        assert restore(output, edits) == source
        minified.append(output)
    assert sum(map(len, minified)) < 0.8 * sum(map(len, sources))
    harness = tmp_path / "fuzz.js"
    harness.write_text(FUZZ_HARNESS)
    (tmp_path / "a.json").write_text(json.dumps(sources))
    (tmp_path / "b.json").write_text(json.dumps(minified))
    expected = json.loads(node(str(harness), str(tmp_path / "a.json")))
    assert sum(1 for lines in expected if lines and not lines[-1].startswith("uncaught")) > 100  # (the rest throw: the same error is expected)
    got = json.loads(node(str(harness), str(tmp_path / "b.json")))
    for source, short, want, have in zip(sources, minified, expected, got):
        assert have == want, (source, short)


@pytest.mark.parametrize("source, expected", [
    ("var a = 1\n++a\nreturn\na", "var a=1;++a;return;a"),  # the line breaks ASI relied on become `;`
    ("x = a +\n+b - -c\ny = 1 .toString()", "x=a+ +b- -c;y=1 .toString()"),
    ("function f(longName) { return longName }", "function f(e){return e}"),
    ("const Button = () => 1; const long = 2; log(Button.name, long)", "const Button=()=>1;const e=2;log(Button.name,e)"),
    ("var str = `a  ${ x  +  1 }  b`; /* gone */ /*! kept */", "var e=`a  ${x+1}  b`;/*! kept */"),
    ("var o = { key }; var { key: k, other } = o", "var o={key};var{key:k,other:e}=o"),  # one-letter names stay
    # `true` -> `!0`, `false` -> `!1`, except where a unary expression can't stand
    ("x = true === !false ? [true] : { true: false }", "x=!0===!!1?[!0]:{true:!1}"),
    ("a = true.toString() + true ** 2 + 2 ** false + (true).x + o.true", "a=true.toString()+true**2+2**false+(!0).x+o.true"),
])
def test_minified_forms(source: str, expected: str) -> None:
    output, edits = minify_js(source)
    assert output == expected
    assert restore(output, edits) == source


def test_eval_and_with_keep_every_name_but_globals_are_never_renamed() -> None:
    assert minify_js("function f(longName) { return eval('longName') }")[0] == "function f(longName){return eval('longName')}"
    assert minify_js("function f(longName) { with (o) { return longName } }")[0] == "function f(longName){with(o){return longName}}"
    # an indirect eval sees no locals
    assert minify_js("function f(longName) { return window.eval('x') + longName }")[0] == "function f(e){return window.eval('x')+e}"
    output = minify_js("var local = document.title; function g(e) { return window.e + e + local }")[0]
    assert "document.title" in output and "window.e" in output
    assert "require(" in minify_js("var dep = require('./x'); module.exports = dep; exports.y = 1")[0]


def test_css_is_minified() -> None:
    assert minify_css("a  { color : red ; }\n/* note */\nb > c { margin: 0 0 }\n/*! legal */") == (
        "a{color:red}b>c{margin:0 0}/*! legal */"
    )


# ------------------------------------------------------------------------ settings

SOURCES = {
    "src/main.js": "// the entry\nvar helper = require('./helper');\nmodule.exports = helper(  1  );\n",
    "src/helper.js": "module.exports = function (value) {\n  return value + 1;\n};\n",
    "src/styles.css": "/* styles */\nbody {  margin : 0 ; }\n",
}
RC_WITH_CSS = FLAT_RC + "  css:\n    entries:\n      - styles.css\n    serveAs: css\n    manifest: manifests/css.manifest.json\n"


def built_source(root: Path, module_id: str, bundle: str = "main") -> str:
    return module(manifest(root, bundle), module_id)["data"][0]["source"]


@pytest.mark.parametrize("extra, args, minified", [
    ("", [], True),
    ("", ["--no-minify"], False),
    ("minify: false\n", [], False),
    ("uglify: false\n", [], False),
    ("minify: true\n", ["--no-minify"], False),
])
def test_mendel_build_minifies_unless_told_not_to(tmp_path: Path, extra: str, args: list[str], minified: bool) -> None:
    make_project(tmp_path, SOURCES, RC_WITH_CSS + extra)
    result = CliRunner().invoke(cli, ["build", "--basedir", str(tmp_path), "-q", *args])
    assert result.exit_code == 0, result.output
    main = built_source(tmp_path, "main.js")
    css = built_source(tmp_path, "styles.css", "css")
    if minified:
        assert main == "var e=require('./helper');module.exports=e(1);" and css == "body{margin:0}"
    else:
        assert main == SOURCES["src/main.js"] and "/* styles */" in css


def test_uglify_is_an_alias_and_disagreeing_settings_are_an_error(tmp_path: Path) -> None:
    rc = RC_WITH_CSS.replace("    manifest: manifests/main.manifest.json\n", "    manifest: manifests/main.manifest.json\n    uglify: false\n", 1)
    make_project(tmp_path, SOURCES, rc)
    assert load_config(str(tmp_path)).minify is False
    (tmp_path / ".mendelrc").write_text(rc + "minify: true\n")
    with pytest.raises(ConfigError, match="`uglify` is an alias of `minify`"):
        load_config(str(tmp_path))
    (tmp_path / ".mendelrc").write_text(RC_WITH_CSS + "uglify: 1\n")
    with pytest.raises(ConfigError, match="true or false"):
        load_config(str(tmp_path))


def test_a_no_change_rebuild_minifies_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_project(tmp_path, SOURCES, RC_WITH_CSS)
    calls: list[str] = []
    real = js._minify  # (what both `minify_js` and `minify_js_original` run)

    def counting(source: str, tree: object = None, captures: object = None) -> object:
        calls.append(source)
        return real(source, tree, captures)  # type: ignore[arg-type]

    monkeypatch.setattr(js, "_minify", counting)
    build(tmp_path, minify=True)
    assert len(calls) == 2
    first = (tmp_path / "manifests" / "main.manifest.json").read_bytes()
    report = build(tmp_path, minify=True)
    assert len(calls) == 2 and report.files_scanned == 0  # all from the parse cache
    assert (tmp_path / "manifests" / "main.manifest.json").read_bytes() == first
    build(tmp_path)  # unminified (as `mendel dev` builds): a cache file of its own
    assert built_source(tmp_path, "main.js") == SOURCES["src/main.js"]
    build(tmp_path, minify=True)  # so the minified entries are still there
    assert len(calls) == 2 and (tmp_path / "manifests" / "main.manifest.json").read_bytes() == first
    assert sorted(path.name for path in (tmp_path / ".mendel-cache").glob("parse-*.json")) == [
        f"parse-v{FORMAT_VERSION}-min.json", f"parse-v{FORMAT_VERSION}.json",
    ]


def test_many_files_are_minified_in_worker_processes_alike(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {f"src/m{index}.js": f"var value{index} = {index};\nmodule.exports = value{index} + 1;\n" for index in range(40)}
    files["src/main.js"] = "".join(f"require('./m{index}');\n" for index in range(40))
    make_project(tmp_path, files, FLAT_RC)
    build(tmp_path, minify=True, use_cache=False)
    in_process = (tmp_path / "manifests" / "main.manifest.json").read_bytes()
    monkeypatch.setattr(batch, "POOL_THRESHOLD", 10)
    monkeypatch.setattr(batch, "_CHUNK", 8)
    monkeypatch.setattr(batch, "_idle_cores", lambda: 2)
    # (threads other tests of this process left, such as the SSR watchdog, would keep the pool off)
    monkeypatch.setattr(batch.threading, "active_count", lambda: 1)
    pools: list[object] = []

    class Recorded(batch.ProcessPoolExecutor):  # type: ignore[misc]
        def __init__(self, *args: object, **kwargs: object) -> None:
            pools.append(self)
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(batch, "ProcessPoolExecutor", Recorded)
    (tmp_path / "manifests" / "main.manifest.json").unlink()
    build(tmp_path, minify=True, use_cache=False)
    assert (tmp_path / "manifests" / "main.manifest.json").read_bytes() == in_process
    assert len(pools) == 1  # (so the workers did it)
    assert "var e=0;module.exports=e+1;" in in_process.decode()


# ------------------------------------------------------- bundles and source maps


def trees_and_sets(root: Path, sets: list[list[str]]) -> list[tuple[str, object]]:
    trees = MendelTrees(str(root))
    out = []
    for names in sets:
        _matching, chains = trees.variations_and_chains(names)
        out.append((",".join(names) or "base", trees.find_tree_for_variations("main", chains)))
    return out


def run_bundle(tmp_path: Path, bundle: bytes, name: str) -> str:
    (tmp_path / f"{name}.js").write_bytes(bundle)
    (tmp_path / "harness.cjs").write_text(VM_HARNESS)
    node("--check", str(tmp_path / f"{name}.js"))
    return node(str(tmp_path / "harness.cjs"), str(tmp_path / f"{name}.js"))


@needs_node_and_npm
def test_minified_typescript_bundles_run_as_unminified_ones(tmp_path: Path) -> None:
    from test_typescript import SETS, write_project

    plain, small = tmp_path / "plain", tmp_path / "small"
    for root, minify in ((plain, False), (small, True)):
        root.mkdir()
        write_project(root)
        build(root, minify=minify)
    for (name, tree), (_name, minified_tree) in zip(
        trees_and_sets(plain, list(SETS.values())), trees_and_sets(small, list(SETS.values()))
    ):
        expected = run_bundle(tmp_path, pack_js(tree), f"plain-{name}")  # type: ignore[arg-type]
        assert "uncaught" not in expected and expected.count("\n") > 5
        bundle = pack_js(minified_tree)  # type: ignore[arg-type]
        assert len(bundle) < 0.8 * len(pack_js(tree))  # type: ignore[arg-type]  (the ES module prologue stays)
        assert run_bundle(tmp_path, bundle, f"small-{name}") == expected


@needs_node_and_npm
def test_every_served_bundle_of_the_example_passes_node_check(tmp_path: Path) -> None:
    shop = build_example_project(tmp_path)  # `mendel build`: minified
    middleware = MendelMiddleware(lambda e, s: [], str(shop))
    trees = middleware.trees
    checked = 0
    for names in ([], ["bucket_A"], ["bucket_B"], ["bucket_D"], ["feature_C"], ["bucket_D", "feature_C"]):
        _matching, chains = trees.variations_and_chains(names)
        tree = trees.find_tree_for_variations("main", chains)
        body = middleware_get(middleware, middleware.url_for_hash("main", tree.hash))
        (tmp_path / "bundle.js").write_bytes(body)
        node("--check", str(tmp_path / "bundle.js"))
        assert b"\n    " not in body  # minified: no indentation left
        checked += 1
    assert checked == 6


def middleware_get(middleware: MendelMiddleware, url: str) -> bytes:
    from werkzeug.test import Client

    response = Client(middleware).get(url)
    assert response.status_code == 200
    return response.get_data()


@needs_node_and_npm
def test_source_maps_of_minified_typescript_map_names_and_strings_exactly(tmp_path: Path) -> None:
    from test_typescript import write_project

    write_project(tmp_path)
    result = CliRunner().invoke(cli, ["build", "--basedir", str(tmp_path), "-q"])  # minified
    assert result.exit_code == 0, result.output
    assert "\n  " not in built_source(tmp_path, "shapes.ts")
    middleware = MendelMiddleware(lambda e, s: [], str(tmp_path), development=True)
    trees = middleware.trees
    _matching, chains = trees.variations_and_chains(["fancy"])
    tree_hash = trees.find_tree_for_variations("main", chains).hash
    url = middleware.url_for_hash("main", tree_hash)
    (tmp_path / "main.js").write_bytes(middleware_get(middleware, url))
    (tmp_path / "main.js.map").write_bytes(middleware_get(middleware, url + ".map"))
    # `mendel sourcemap` writes the same mappings for an error tracker
    written = CliRunner().invoke(cli, ["sourcemap", "--basedir", str(tmp_path), "--bundle", "main", tree_hash,
                                       "-o", str(tmp_path / "cli.map")])
    assert written.exit_code == 0, written.output
    served = json.loads((tmp_path / "main.js.map").read_text())
    from_cli = json.loads((tmp_path / "cli.map").read_text())
    assert (from_cli["mappings"], from_cli["sources"]) == (served["mappings"], served["sources"])
    modules = ensure_npm_package("source-map@0.7.4")
    report = json.loads(node(str(CHECKER), str(modules), str(tmp_path / "main.js"), str(tmp_path / "main.js.map")))
    assert report["wrong"] == [] and report["checked"] > 300 and report["identifiers"] > 100
    unmapped = {(source, line, column) for source, tokens in report["unmapped"].items() for line, column, _ in tokens}
    sources = {source.rsplit("/", 1)[-1]: source for source in report["sources"]}
    for file, token in [
        ("shapes.ts", "Circle"), ("shapes.ts", "'named'"), ("shapes.ts", "scale"), ("shapes.ts", "Shape.count++"),
        ("main.ts", "'tea'"), ("main.ts", "circle.describe"), ("main.ts", "Geometry.scale"),
        ("Card.tsx", "<section>"), ("Badge.tsx", "data-tone"), ("Badge.tsx", "'?'"),
    ]:
        text = (tmp_path / sources[file]).read_text()
        offset = text.index(token)
        line = text.count("\n", 0, offset) + 1
        column = offset - (text.rfind("\n", 0, offset) + 1)
        if token.startswith("<"):
            column += 1  # the tag's name: its `<` is JSX punctuation, compiled away
        assert (sources[file], line, column) not in unmapped, (file, token)


def test_spaces_next_to_strings_and_kept_comments_go_as_between_their_own_bytes() -> None:
    source = 'a = "x" + /r/ ; /*! keep */ b ( `t${ c }` ) ; d = 1 .toString ( ) - -e'
    assert minify_js(source)[0] == 'a="x"+/r/;/*! keep */b(`t${c}`);d=1 .toString()- -e'


@needs_node_and_npm
def test_booleans_compressed_keep_what_a_program_prints() -> None:
    source = (
        "var t = true, f = false; function g(x) { return typeof x + (x === true) + (x == false) }\n"
        "console.log(t, f, !true, -true, true + 1, true ** 2, 2 ** true, true.toString(), (false).valueOf(),\n"
        "  `${true}${false}`, [true, false].join(), g(true), g(false), true ? 1 : 2, false || 'x', 'x' in { x: true },\n"
        "  typeof true, void true, true instanceof Object, JSON.stringify({ true: true, false: false }))"
    )
    output, edits = minify_js(source)
    assert "!0" in output and "!1" in output and restore(output, edits) == source
    assert node("-e", output) == node("-e", source)


def test_the_splice_accelerator_is_built() -> None:
    # `pip install -e .` compiles it; the tests below compare it with the Python splice
    assert js.ACCELERATED


SPLICE_SAMPLES = [
    "var é = \"ünï\"; // cömment\nfunction f(ä, b) { let { ä: x, y } = b; return ä + x + y + `t${ä}` }\n",
    "var a = 1\na\n++b\nvar o = {é, k: true ? false : true}\n/*! keep */ x = -1 - -y, z = a+ +b\n",
    "if (a) b = 2 /* two\nlines */\nelse c()\nconst g = () => 1\r\nlet h = 2\r\n\t\f\vreturn\n",
    "  \n// only a comment, at the ends\n  x  ",
    "a = /re gex/g ; b = 'str ing' ;\n`tpl ${ 'in' + `ner ${ x }` } end`\n/* @license MIT */ y = 1 .x - - - z",
    "",
    "   ",
    "x",
]


def spliced_both_ways(source: str, monkeypatch: pytest.MonkeyPatch) -> tuple[object, object]:
    in_c = (js.minify_js(source), js.minify_js_original(source))
    with monkeypatch.context() as patch:
        patch.setattr(js, "_splice_c", None)
        in_python = (js.minify_js(source), js.minify_js_original(source))
    return in_c, in_python


@pytest.mark.parametrize("source", SPLICE_SAMPLES)
def test_the_splice_in_c_is_the_splice_in_python(source: str, monkeypatch: pytest.MonkeyPatch) -> None:
    in_c, in_python = spliced_both_ways(source, monkeypatch)
    assert in_c == in_python
    (output, edits), _encoded = in_c  # type: ignore[misc]
    assert restore(output, edits) == source


def test_the_splice_in_c_is_the_splice_in_python_on_generated_programs(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(7)
    for seed in range(200):
        source = program(random.Random(seed))
        # the same program with other whitespace and comments between its tokens, some non-ASCII
        noisy = "".join(
            piece + rng.choice(["", " ", "  ", "\n", " /* é\n */ ", "// ü\n", "\t"]) if piece == " " else piece
            for piece in source.replace(" ", "\0 \0").split("\0")
        )
        for text in (source, noisy):
            in_c, in_python = spliced_both_ways(text, monkeypatch)
            assert in_c == in_python, text


def test_the_splice_refuses_overlapping_edits() -> None:
    if not js.ACCELERATED:
        pytest.skip("the C splice is not built")
    with pytest.raises(ValueError, match="sorted"):
        js._splice_c(b"a  b", [], [], [(0, 2, "x"), (1, 2, "y")], bytes(65536), lambda position: False)
    with pytest.raises(ValueError, match="outside"):
        js._splice_c(b"a", [(0, 5)], [], [], bytes(65536), lambda position: False)


def test_the_captures_of_the_dependency_scan_minify_as_the_minifiers_own_query() -> None:
    from mendel_py.compiler.jsdeps import scan

    sources = [program(random.Random(seed)) for seed in range(100)] + SPLICE_SAMPLES[:3] + [
        "var a = require('./a'), b = require(`./b`);\nimport('./c').then(function (m) { return m })\n"
        "require(`${require('./d')}`)\n",
    ]
    for source in sources:
        alone = scan(source.encode("utf-8"), "x.js")
        found = scan(source.encode("utf-8"), "x.js", js.QUERY)
        assert (found.requires, found.lazy, found.jsx) == (alone.requires, alone.lazy, alone.jsx)
        assert alone.captures is None and found.captures is not None
        assert js.minify_js_original(source, found.tree, found.captures) == js.minify_js_original(source)
    # an ES module is compiled before it is minified: the scan doesn't run the minifier's patterns
    assert scan(b"import a from './a'; export default a", "x.js", js.QUERY).captures is None

"""Benchmark `mendel build`: files/second for a cold build and for a rebuild with nothing changed.

    .venv/bin/python benchmarks/bench_build.py [--files 2000] [--variations 10] [--runs 5] [--no-esbuild]

Generates a project in a temporary folder (base sources in nested folders, JSON files, a few
node_modules packages, externals, a CSS bundle, and variation folders that override files, add
or drop dependencies and add variation-only files), then times `build_manifests`:

- cold: no parse cache and no manifests on disk (everything tokenized and written);
- no-change rebuild: cache and manifests present, nothing edited.

Each both unminified (what `mendel dev` and `--no-minify` build) and minified (what `mendel
build` does by default). Then the production bundle of the base tree (`main`: both entries) is
packed from the minified and the unminified manifests and compared, gzip -9, with
`esbuild --bundle --minify --tree-shaking=false` of the same files (esbuild from npm, installed
into `benchmarks/.node`; skipped with `--no-esbuild` or without npm). esbuild's own minifier is
also timed on the same modules, one process for the whole batch (`esbuild a.js b.js ... --minify
--outdir`), for the comparison of minifiers, and on a few real npm packages (hand-written code,
where the generated project's repetition doesn't flatter gzip) both minifiers' gzip sizes are
compared file by file. Targets: minified gzip at most 1.15x esbuild's; a
cold minified build at most 2x the unminified one; a no-change rebuild minifies nothing.

Prints the median of `--runs` runs of each (the four builds interleaved run by run), and the
cold builds' CPU time (this process's), which a busy machine disturbs less than wall time.
`generate_project` is also used by the tests.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

BASE_DIR = "src/base"
VARIATIONS_ROOT = "src/variations"
EXTERNALS = ("react", "react-dom")
PACKAGES = ("left-pad", "tiny-emitter", "qs-lite")
_DIRS = ("components", "components/forms", "components/media", "pages", "pages/account",
         "stores", "lib", "lib/net", "utils", "widgets")
_WORDS = ("account", "avatar", "banner", "button", "card", "cart", "chart", "dialog", "feed",
          "grid", "header", "icon", "input", "item", "layout", "list", "menu", "modal", "nav",
          "panel", "player", "price", "profile", "rating", "search", "slider", "tab", "table",
          "toast", "tooltip", "upload", "user", "video", "widget")


@dataclass
class GeneratedProject:
    """What was generated: the root and the variation ids (config order)."""

    root: str
    variations: list[str]
    base_modules: list[str] = field(default_factory=list)
    file_count: int = 0


def generate_project(dest: str, files: int = 2000, variations: int = 10, seed: int = 1) -> GeneratedProject:
    """Write a deterministic project of about `files` source files into `dest`."""
    rng = random.Random(seed)
    project = GeneratedProject(dest, [f"exp_{index:02d}" for index in range(variations)])
    per_variation = max(2, files // 40)
    js_count = max(10, files - variations * per_variation - 60)
    modules = _module_ids(rng, js_count)
    project.base_modules = modules
    _write_base(rng, dest, modules)
    _write_styles(dest)
    _write_packages(dest)
    for variation in project.variations:
        _write_variation(rng, dest, variation, modules, per_variation)
    _write_mendelrc(dest, project.variations)
    project.file_count = sum(len(names) for _, _, names in os.walk(dest))
    return project


def _module_ids(rng: random.Random, count: int) -> list[str]:
    ids: set[str] = {"main.js", "admin.js"}
    while len(ids) < count:
        ids.add(f"{rng.choice(_DIRS)}/{rng.choice(_WORDS)}_{rng.randrange(10_000)}.js")
    ordered = sorted(ids - {"main.js", "admin.js"})
    rng.shuffle(ordered)
    return ["main.js", "admin.js", *ordered]


def _relative(from_id: str, to_id: str) -> str:
    path = os.path.relpath(to_id, os.path.dirname(from_id) or ".").replace(os.sep, "/")
    path = path if path.startswith(".") else f"./{path}"
    return path[:-3] if path.endswith(".js") and len(to_id) % 2 else path


def _targets(rng: random.Random, rank: int, modules: list[str]) -> list[str]:
    """Mostly downward dependencies; every module but the entries has a parent above it."""
    count = len(modules)
    chosen = {modules[child] for child in range(rank * 3 + 2, min(rank * 3 + 5, count))}
    for _ in range(rng.randint(0, 3)):
        if rank + 1 < count:
            chosen.add(modules[min(count - 1, rank + 1 + int(rng.expovariate(1 / 40)))])
    chosen.discard(modules[rank])
    return sorted(chosen)


def _js_source(rng: random.Random, module_id: str, requires: list[str], extra: str = "") -> str:
    lines = [f"/* {module_id}: generated for the build benchmark. require('not-a-dep') */", "'use strict';"]
    for index, spec in enumerate(requires):
        lines.append(f"var dep{index} = require({json.dumps(spec)});")
    lines += [
        "var pattern = /require\\(\"[a-z]+\"\\)/g;  // a regex, not a require",
        f"var label = `item ${{'{module_id}'}} #${{1 + 2}}`;",
        "function ratio(a, b) { return (a + 1) / (b + 1) / 2; }",
        "var text = \"require('nope') is only text\";",
    ]
    body = "\n".join(f"    var v{i} = ratio({i}, {rng.randrange(100)}) + dep{i % max(1, len(requires))};"
                     if requires else f"    var v{i} = ratio({i}, 3);" for i in range(rng.randint(8, 24)))
    lines += ["function render(props) {", body, "    return label + v0;", "}", extra,
              "module.exports = { render: render, pattern: pattern, text: text };", ""]
    return "\n".join(lines)


def _write(root: str, path: str, text: str) -> None:
    full = os.path.join(root, *path.split("/"))
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w", encoding="utf-8") as handle:
        handle.write(text)


def _write_base(rng: random.Random, root: str, modules: list[str]) -> None:
    for rank, module_id in enumerate(modules):
        requires = [_relative(module_id, target) for target in _targets(rng, rank, modules)]
        if rank % 17 == 0:
            requires.append(rng.choice(EXTERNALS))
        if rank % 29 == 0:
            requires.append(rng.choice(PACKAGES))
        if rank % 31 == 0:
            requires.append(_relative(module_id, "data/strings.json"))
        _write(root, f"{BASE_DIR}/{module_id}", _js_source(rng, module_id, requires))
    _write(root, f"{BASE_DIR}/data/strings.json", json.dumps({"hello": "world", "n": 1}, indent=2) + "\n")


def _write_styles(root: str) -> None:
    names = [f"styles/part_{index:02d}.css" for index in range(40)]
    imports = "".join(f'@import "./{os.path.basename(name)}";\n' for name in names)
    _write(root, f"{BASE_DIR}/styles/main.css", imports + "body { margin: 0; }\n")
    for index, name in enumerate(names):
        _write(root, f"{BASE_DIR}/{name}", f"/* part {index} */\n.part-{index} {{ color: #{index:06x}; }}\n")


def _write_packages(root: str) -> None:
    for index, name in enumerate(PACKAGES):
        folder = f"node_modules/{name}"
        if index == 0:
            _write(root, f"{folder}/package.json", json.dumps({"name": name, "main": "lib/index.js"}))
            _write(root, f"{folder}/lib/index.js", "module.exports = require('./pad');\n")
            _write(root, f"{folder}/lib/pad.js", "module.exports = function (s) { return ' ' + s; };\n")
        elif index == 1:
            _write(root, f"{folder}/package.json",
                   json.dumps({"name": name, "main": "server.js", "browser": "browser.js"}))
            _write(root, f"{folder}/browser.js", "module.exports = function Emitter() {};\n")
            _write(root, f"{folder}/server.js", "module.exports = require('events');\n")
        else:
            _write(root, f"{folder}/index.js", "module.exports = { parse: function (s) { return s; } };\n")


def _write_variation(rng: random.Random, root: str, variation: str, modules: list[str], count: int) -> None:
    """Override `count` files: some keep their deps, some drop one, some add a variation-only file."""
    folder = f"{VARIATIONS_ROOT}/{variation}"
    chosen = rng.sample(modules[2:], count - count // 4) + ["main.js"]
    for position, module_id in enumerate(chosen):
        rank = modules.index(module_id)
        targets = _targets(random.Random(rank), rank, modules)
        if position % 3 == 1 and targets:
            targets = targets[1:]
        requires = [_relative(module_id, target) for target in targets]
        if position % 3 == 2:
            extra_id = f"{os.path.dirname(module_id) or 'lib'}/{variation}_only_{position}.js"
            requires.append(_relative(module_id, extra_id))
            _write(root, f"{folder}/{extra_id}", _js_source(rng, extra_id, []))
        _write(root, f"{folder}/{module_id}", _js_source(rng, module_id, requires, f"// {variation}"))
    _write(root, f"{folder}/styles/part_{rng.randrange(40):02d}.css", f".{variation} {{ color: red; }}\n")


def _write_mendelrc(root: str, variations: list[str]) -> None:
    lines = [
        "base-config:", "  id: base", f"  dir: ./{BASE_DIR}",
        "variation-config:", "  variation-dirs:", f"    - ./{VARIATIONS_ROOT}", "  variations:",
    ]
    for index, variation in enumerate(variations):
        if index % 3 == 2:
            lines += [f"    {variation}:", f"      - {variations[index - 1]}"]
        else:
            lines.append(f"    {variation}:")
    lines += [
        "bundles:",
        "  main:", "    entries:", "      - main.js", "      - admin.js",
        "    external:", *[f"      - {name}" for name in EXTERNALS],
        "    manifest: manifests/main.manifest.json",
        "  css:", "    entries:", "      - styles/main.css", "    serveAs: css",
        "    manifest: manifests/css.manifest.json",
    ]
    _write(root, ".mendelrc", "\n".join(lines) + "\n")


# ------------------------------------------------------------------------------ timing


ESBUILD_SPEC = "esbuild@0.28.2"
NODE_PREFIX = os.path.join(os.path.dirname(os.path.abspath(__file__)), ".node")


def _time_build(root: str, minify: bool = False) -> tuple[float, int]:
    from mendel_py.compiler import build_manifests
    from mendel_py.config import load_config

    started = time.perf_counter()
    report = build_manifests(load_config(root), minify=minify)
    return time.perf_counter() - started, report.files_read


def _cold_run(root: str, minify: bool = False) -> tuple[float, int]:
    shutil.rmtree(os.path.join(root, ".mendel-cache"), ignore_errors=True)
    shutil.rmtree(os.path.join(root, "manifests"), ignore_errors=True)
    return _time_build(root, minify)


def _base_bundle(root: str) -> bytes:
    from mendel_py.core.trees import MendelTrees
    from mendel_py.packing.packer import pack_js

    trees = MendelTrees(root)
    _matching, chains = trees.variations_and_chains([])
    return pack_js(trees.find_tree_for_variations("main", chains))


def _gzip(data: bytes) -> int:
    return len(gzip.compress(data, 9, mtime=0))


def ensure_esbuild() -> str | None:
    """esbuild's binary from npm (pinned), installed once into benchmarks/.node; None without npm."""
    binary = os.path.join(NODE_PREFIX, "node_modules", ".bin", "esbuild")
    installed = os.path.join(NODE_PREFIX, "node_modules", "esbuild", "package.json")
    wanted = ESBUILD_SPEC.rsplit("@", 1)[1]
    if os.path.exists(installed):
        with open(installed, encoding="utf-8") as handle:
            if json.load(handle)["version"] == wanted:
                return binary
    if shutil.which("npm") is None:
        return None
    subprocess.run(["npm", "install", "--prefix", NODE_PREFIX, ESBUILD_SPEC, "--no-audit", "--no-fund",
                    "--loglevel=error"], check=True, stdout=subprocess.DEVNULL, timeout=300)
    return binary


def _esbuild_bundle(esbuild: str, root: str) -> bytes:
    """esbuild's minified bundle of the base tree's two entries, externals as the bundle's."""
    base = os.path.join(root, *BASE_DIR.split("/"))
    done = subprocess.run(
        [esbuild, "--bundle", "--minify", "--tree-shaking=false", "--format=iife", "--log-level=error",
         *[f"--external:{name}" for name in EXTERNALS], "--sourcefile=entries.js"],
        input=b"require('./main.js'); require('./admin.js');", capture_output=True, check=True, timeout=300,
        cwd=base,  # stdin's imports resolve from the working folder
    )
    return done.stdout


def _esbuild_minify_batch(esbuild: str, root: str, dest: str) -> float:
    """Seconds for esbuild to minify every module of the base folder in one process."""
    base = os.path.join(root, *BASE_DIR.split("/"))
    files = [os.path.join(folder, name) for folder, _, names in os.walk(base) for name in names if name.endswith(".js")]
    started = time.perf_counter()
    subprocess.run([esbuild, *files, "--minify", "--log-level=error", f"--outdir={dest}", "--sourcemap"],
                   check=True, timeout=300)
    return time.perf_counter() - started


REAL_PACKAGES = {"lodash@4.17.21": "lodash/lodash.js", "underscore@1.13.7": "underscore/underscore.js",
                 "esprima@4.0.1": "esprima/dist/esprima.js"}


def _real_packages(esbuild: str) -> list[tuple[str, int, int, int]]:
    """Hand-written code: (file, gzip of the file, of mendel_py's minified form, of esbuild's
    `--minify`) for a few pinned npm packages (installed into benchmarks/.node if missing)."""
    from mendel_py.compiler.minify import minify_js

    modules = os.path.join(NODE_PREFIX, "node_modules")
    rows = []
    for spec, relative in REAL_PACKAGES.items():
        path = os.path.join(modules, *relative.split("/"))
        if not os.path.exists(path):
            subprocess.run(["npm", "install", "--prefix", NODE_PREFIX, spec, "--no-audit", "--no-fund",
                            "--loglevel=error"], check=True, stdout=subprocess.DEVNULL, timeout=300)
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        command = [esbuild, path, "--minify", "--log-level=error"]
        theirs = subprocess.run(command, capture_output=True, check=True).stdout
        rows.append((relative, _gzip(text.encode()), _gzip(minify_js(text)[0].encode()), _gzip(theirs)))
    return rows


def _count_minifications(root: str) -> int:
    """How many modules a build minifies (counted by wrapping the minifier), for a rebuild."""
    from mendel_py.compiler.minify import js

    calls = 0
    original = js._minify  # (what every minification runs)

    def counting(source: str, tree: object = None, captures: object = None) -> tuple[str, int, bytes, str] | None:
        nonlocal calls
        calls += 1
        return original(source, tree, captures)  # type: ignore[arg-type]

    js._minify = counting  # type: ignore[assignment]
    try:
        _time_build(root, minify=True)
    finally:
        js._minify = original
    return calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--variations", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-esbuild", action="store_true", help="skip the comparison with esbuild")
    args = parser.parse_args(argv)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with tempfile.TemporaryDirectory(prefix="mendel-bench-build-") as root:
        project = generate_project(root, args.files, args.variations)
        cold, warm, cold_min, warm_min, cpu, cpu_min = [], [], [], [], [], []
        for _ in range(args.runs):  # interleaved, so both see the same load of a shared machine
            started = time.process_time()
            cold.append(_cold_run(root))
            cpu.append(time.process_time() - started)
            warm.append(_time_build(root))
            plain_bundle = _base_bundle(root)
            started = time.process_time()
            cold_min.append(_cold_run(root, minify=True))
            cpu_min.append(time.process_time() - started)
            warm_min.append(_time_build(root, minify=True))
            minified_bundle = _base_bundle(root)
        rebuild_minifications = _count_minifications(root)
        esbuild = None if args.no_esbuild else ensure_esbuild()
        esbuild_bundle = _esbuild_bundle(esbuild, root) if esbuild else None
        esbuild_batch = None
        real = _real_packages(esbuild) if esbuild else []
        if esbuild:
            with tempfile.TemporaryDirectory(prefix="mendel-bench-esbuild-") as dest:
                esbuild_batch = statistics.median(_esbuild_minify_batch(esbuild, root, dest) for _ in range(args.runs))
    files = cold[0][1]
    cold_median = statistics.median(seconds for seconds, _ in cold)
    warm_median = statistics.median(seconds for seconds, _ in warm)
    cold_min_median = statistics.median(seconds for seconds, _ in cold_min)
    warm_min_median = statistics.median(seconds for seconds, _ in warm_min)
    print(f"project: {project.file_count} files on disk, {files} source files in the bundles, "
          f"{args.variations} variations")
    print(f"cold build:                 {cold_median * 1000:8.1f} ms  {files / cold_median:10.0f} files/s")
    print(f"no-change rebuild:          {warm_median * 1000:8.1f} ms  {files / warm_median:10.0f} files/s")
    print(f"cold build, minified:       {cold_min_median * 1000:8.1f} ms  {files / cold_min_median:10.0f} files/s"
          f"  ({cold_min_median / cold_median:.2f}x unminified; target <= 2x)")
    cpu_median, cpu_min_median = statistics.median(cpu), statistics.median(cpu_min)
    print(f"cold build CPU time:        unminified {cpu_median * 1000:8.1f} ms   "
          f"minified {cpu_min_median * 1000:8.1f} ms"
          f"  ({cpu_min_median / cpu_median:.2f}x; steadier than wall time on a busy machine)")
    print(f"no-change rebuild, minified:{warm_min_median * 1000:8.1f} ms  {files / warm_min_median:10.0f} files/s"
          f"  ({rebuild_minifications} modules minified; target 0)")
    plain, minified = _gzip(plain_bundle), _gzip(minified_bundle)
    print(f"base bundle gzip -9:        unminified {plain:9d} B   minified {minified:9d} B "
          f"(raw {len(plain_bundle)} / {len(minified_bundle)} B)")
    if esbuild_bundle is not None:
        reference = _gzip(esbuild_bundle)
        print(f"esbuild --bundle --minify --tree-shaking=false: {reference:9d} B gzip "
              f"(raw {len(esbuild_bundle)} B): minified {minified / reference:.3f}x, unminified "
              f"{plain / reference:.3f}x (target <= 1.15x)")
    if esbuild_batch is not None:
        print(f"esbuild minifying the base folder's modules in one process: {esbuild_batch * 1000:8.1f} ms")
    for relative, original, ours, theirs in real:
        print(f"{relative:28s} gzip: file {original:7d} B  minified {ours:7d} B  esbuild --minify {theirs:7d} B"
              f"  ({ours / theirs:.3f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

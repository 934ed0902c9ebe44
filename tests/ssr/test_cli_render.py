"""`mendel render`: the HTML and one newline; a fault exits 1 with one `Error:` line."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from build_support import build, make_project

RC = """\
base-config:
  dir: src/base
variation-config:
  variation-dirs: [src/variations]
  variations:
    blue:
ssr:
  timeout: 1
  memory-limit-mb: 16
bundles:
  main:
    entries: [render.js]
    manifest: manifests/main.manifest.json
    ssr:
      module: render.js
      export: page
"""
RENDER = """\
var title = require('./title.js');
exports.page = function (props) {
  if (props.mode === 'loop') { for (;;) {} }
  if (props.mode === 'alloc') { var a = []; for (;;) a.push(new Array(1000).fill(1)); }
  if (props.mode === 'deep') { var f = function (n) { return f(n + 1) + 1; }; f(0); }
  if (props.mode === 'throw') { title.fail(); }
  return '<p>' + title.text + ' ' + String(props.name).replace(/</g, '&lt;') + '</p>';
};
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli-render")
    make_project(root, {
        "src/base/render.js": RENDER,
        "src/base/title.js": "exports.text = 'base';\nexports.fail = function () { throw new Error('no'); };\n",
        "src/variations/blue/title.js": "exports.text = 'blue';\nexports.fail = function () {\n  throw new RangeError('blue no');\n};\n",
    }, RC)
    build(root)
    return root


def mendel_render(project: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "mendel_py", "render", "main", "--basedir", str(project), *args],
        capture_output=True, timeout=120,
    )


@pytest.mark.parametrize("engine", ["quickjs", "v8"])
def test_prints_exactly_the_html_and_one_newline(project: Path, engine: str) -> None:
    done = mendel_render(project, "--variations", "blue", "--props", '{"name": "<caf\u00e9>"}', "--engine", engine)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "<p>blue &lt;caf\u00e9></p>\n".encode()
    base = mendel_render(project, "--variations", "", "--props", '{"name": "x"}', "--engine", engine)
    assert base.stdout == b"<p>base x</p>\n"


def test_props_from_a_file(project: Path, tmp_path: Path) -> None:
    props = tmp_path / "props.json"
    props.write_text(json.dumps({"name": "from file"}))
    assert mendel_render(project, "--props", f"@{props}").stdout == b"<p>base from file</p>\n"


@pytest.mark.parametrize("engine", ["quickjs", "v8"])
@pytest.mark.parametrize("mode, reason", [("loop", "timeout"), ("alloc", "memory"), ("deep", "error"), ("throw", "error")])
def test_a_fault_exits_1_with_one_error_line_naming_the_reason(project: Path, engine: str, mode: str, reason: str) -> None:
    done = mendel_render(project, "--variations", "blue", "--props", json.dumps({"name": "x", "mode": mode}),
                         "--engine", engine)
    assert done.returncode == 1
    assert done.stdout == b""
    lines = done.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: render failed ({reason}): "), lines
    assert "Traceback" not in done.stderr.decode()
    if mode == "throw":
        assert lines[0].endswith("RangeError: blue no at src/variations/blue/title.js:3")


def test_bad_props_and_an_unknown_bundle_are_one_line_too(project: Path, tmp_path: Path) -> None:
    for args in (["--props", "{nope"], ["--props", f"@{tmp_path / 'missing.json'}"]):
        done = mendel_render(project, *args)
        assert done.returncode == 1 and done.stderr.decode().count("\n") == 1, done.stderr
    done = subprocess.run([sys.executable, "-m", "mendel_py", "render", "nope", "--basedir", str(project)],
                          capture_output=True, timeout=60)
    assert done.returncode == 1 and done.stderr.decode().startswith("Error: ")

"""Build errors a person can act on: `file:line:column`, the message, a code frame (line before,
line, line after, a caret under the column), references quoted as written, the `node_modules`
folders searched, and the same text in the CLI and the dev loop's overlay."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from build_support import FLAT_RC, build, make_project
from mendel_py.cli.main import cli
from mendel_py.compiler import BuildError
from mendel_py.compiler.errors import FRAME_WIDTH, code_frame
from mendel_py.compiler.incremental import IncrementalBuild
from mendel_py.config import load_config


def test_frame_shows_the_lines_around_and_a_caret_under_the_column() -> None:
    text = "one\ntwo = three;\nfour\nfive\n"
    assert code_frame(text, 2, 7) == "  1 | one\n> 2 | two = three;\n    |       ^\n  3 | four"
    assert code_frame(text, 1, 1) == "> 1 | one\n    | ^\n  2 | two = three;"
    assert code_frame("a\n\tb(x)\n", 2, 3) == "  1 | a\n> 2 | \tb(x)\n    | \t ^"  # a tab stays a tab
    assert code_frame(text, 9, 1) == ""


def test_a_long_line_is_cut_around_the_column() -> None:
    line = "x" * 5000 + "BAD" + "y" * 5000
    frame = code_frame(line, 1, 5001).splitlines()
    assert len(frame[0]) < FRAME_WIDTH + 20 and "BAD" in frame[0]
    assert frame[0].index("BAD") == frame[1].index("^")


def error_of(tmp_path: Path, files: dict[str, str]) -> BuildError:
    make_project(tmp_path, files, FLAT_RC)
    with pytest.raises(BuildError) as caught:
        build(tmp_path)
    return caught.value


def test_an_es_import_is_reported_as_an_import_with_its_frame(tmp_path: Path) -> None:
    error = error_of(tmp_path, {"src/main.js": "import a from './a.js';\nimport b from './nope';\nb(a);\n", "src/a.js": ""})
    assert str(error) == 'src/main.js:2:15: cannot resolve import "./nope"'
    assert error.describe() == (
        'src/main.js:2:15: cannot resolve import "./nope"\n'
        "  1 | import a from './a.js';\n"
        "> 2 | import b from './nope';\n"
        "    |               ^\n"
        "  3 | b(a);"
    )


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("const m = import('./nope');\n", 'import("./nope")'),
        ("export { x } from './nope';\n", 'import "./nope"'),
        ("var x = require('./nope');\n", 'require("./nope")'),
    ],
)
def test_each_kind_of_reference_is_quoted_as_written(tmp_path: Path, text: str, shown: str) -> None:
    assert f"cannot resolve {shown}" in str(error_of(tmp_path, {"src/main.js": text}))


def test_a_missing_package_names_the_node_modules_folders_searched(tmp_path: Path) -> None:
    error = error_of(tmp_path, {"src/main.js": "require('./lib/a');", "src/lib/a.js": "\nimport 'left-pad';\n"})
    assert str(error).startswith('src/lib/a.js:2:8: cannot resolve import "left-pad" (not in any node_modules; searched ')
    assert "src/lib/node_modules, src/node_modules, node_modules;" in str(error)


def test_a_stylesheet_reference_has_its_frame_too(tmp_path: Path) -> None:
    rc = FLAT_RC.replace("main.js", "main.css") + "    serveAs: css\n"
    error = error_of(tmp_path, {"src/main.css": "a {}\n.x { background: url(./gone.png) }\n"} | {".mendelrc": rc})
    assert error.describe().startswith('src/main.css:2:22: cannot resolve url("./gone.png"): no such file\n')
    assert "    |                      ^" in error.describe()


def test_the_cli_prints_the_frame(tmp_path: Path) -> None:
    make_project(tmp_path, {"src/main.js": "var a = 1;\nvar b = 'open;\nvar c;\n"}, FLAT_RC)
    result = CliRunner().invoke(cli, ["build", "--basedir", str(tmp_path)])
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: src/main.js:2:9: unterminated string literal\n"
        "  1 | var a = 1;\n"
        "> 2 | var b = 'open;\n"
        "    |         ^\n"
        "  3 | var c;\n"
    )


def test_the_dev_build_gives_the_overlay_the_same_text(tmp_path: Path) -> None:
    make_project(tmp_path, {"src/main.js": "var a = 1;\n"}, FLAT_RC)
    build_ = IncrementalBuild(load_config(str(tmp_path)))
    build_.rebuild()
    (tmp_path / "src" / "main.js").write_text("var a = 1;\nvar b = 'open;\n")
    with pytest.raises(BuildError) as caught:
        build_.update([str(tmp_path / "src" / "main.js")])
    cli_error = error_of(tmp_path / "again", {"src/main.js": "var a = 1;\nvar b = 'open;\n"})
    assert caught.value.describe() == cli_error.describe().replace("again/", "")
    assert "> 2 | var b = 'open;" in caught.value.describe()

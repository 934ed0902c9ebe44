"""Size budgets (`budget: 170kb`, `mendel build [--strict]`), `mendel inspect --treemap` and the
QA page's treemap of this browser's tree."""
from __future__ import annotations

import gzip
import json
import random
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner
from werkzeug.test import Client

from build_support import DEFAULT_RC, make_project
from mendel_py.cli.main import cli
from mendel_py.config import load_config
from mendel_py.core.trees import MendelTrees
from mendel_py.errors import ConfigError
from mendel_py.packing.packer import pack_js
from mendel_py.packing.treemap import squarify
from mendel_py.serving.wsgi import MendelMiddleware

SVG = "{http://www.w3.org/2000/svg}"
BASE = "src/base"


def noise(count: int, seed: int) -> str:
    """`count` characters gzip can't shrink much."""
    generator = random.Random(seed)
    return "".join(generator.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(count))


def project(root: Path, budget: str) -> None:
    for name in ("var_a", "var_b", "var_c"):
        (root / "src" / "variations" / name).mkdir(parents=True, exist_ok=True)
    rc = DEFAULT_RC.replace(
        "    manifest: manifests/main.manifest.json", f"    manifest: manifests/main.manifest.json\n    budget: {budget}"
    )
    make_project(root, {
        f"{BASE}/main.js": "require('./big');",
        f"{BASE}/big.js": f"module.exports = '{noise(2000, 1)}';",
        "src/variations/var_b/big.js": f"module.exports = '{noise(6000, 2)}';",  # var_b is the largest
    }, rc)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(("text", "expected"), [("170kb", 170_000), ("64KiB", 65_536), ("1.5mb", 1_500_000), (1234, 1234)])
def test_budget_sizes_parse(tmp_path: Path, text: object, expected: int) -> None:
    project(tmp_path, str(text))
    assert load_config(str(tmp_path)).bundles["main"].options["budget"] == expected


def test_a_budget_that_is_no_size_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"bundles.main.budget: expected a size such as 170kb"):
        project(tmp_path, "lots")


def test_build_reports_sizes_and_warns_over_budget_and_fails_with_strict(tmp_path: Path) -> None:
    project(tmp_path, "3kb")
    code, out, err = run("build", "--basedir", str(tmp_path), "--json")
    assert code == 0, out + err
    sizes = json.loads(out)["sizes"][0]
    trees = MendelTrees(str(tmp_path))
    base = pack_js(trees.find_tree_for_variations("main", [[BASE]]))
    largest = pack_js(trees.find_tree_for_variations("main", [["src/variations/var_b", BASE]]))
    assert sizes["base"] == {"raw": len(base), "gzip": len(gzip.compress(base, 9, mtime=0))}
    assert sizes["largest"]["variations"] == ["var_b"] and sizes["largest"]["raw"] == len(largest)
    assert sizes["budget"] == 3000 and sizes["over_budget"] is True
    assert "Warning: over budget" in err
    code, out, err = run("build", "--basedir", str(tmp_path))
    assert "main: " in out and "largest" in out and "with var_b" in out and "OVER BUDGET" in out
    code, out, err = run("build", "--basedir", str(tmp_path), "--strict")
    assert code == 1 and "over budget (gzip of the largest tree): main" in err


def test_under_budget_passes_strict(tmp_path: Path) -> None:
    project(tmp_path, "170kb")
    code, out, err = run("build", "--basedir", str(tmp_path), "--strict")
    assert code == 0, out + err
    assert "budget 170.0 kB gzip" in out and "OVER" not in out


def test_squarify_tiles_the_box_exactly() -> None:
    sizes = sorted((random.Random(3).randint(1, 1000) for _ in range(40)), reverse=True)
    rects = squarify(sizes, (0, 0, 960, 600))
    assert len(rects) == len(sizes)
    assert sum(w * h for _, _, w, h in rects) == pytest.approx(960 * 600)
    for (x, y, w, h), size in zip(rects, sizes, strict=True):
        assert w * h == pytest.approx(size / sum(sizes) * 960 * 600)
        assert x >= -1e-6 and y >= -1e-6 and x + w <= 960 + 1e-6 and y + h <= 600 + 1e-6
    for i, a in enumerate(rects):  # no two overlap
        for b in rects[i + 1 :]:
            overlap_w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
            overlap_h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
            assert overlap_w <= 1e-6 or overlap_h <= 1e-6


def rect_titles(svg: str) -> dict[str, float]:
    """{module id: rectangle area} of a treemap."""
    root = ET.fromstring(svg)
    found = {}
    for group in root.iter(f"{SVG}g"):
        title = group.find(f"{SVG}title").text  # type: ignore[union-attr]
        rect = group.find(f"{SVG}rect")
        assert rect is not None and title is not None
        found[title.split(" ")[0]] = float(rect.get("width", 0)) * float(rect.get("height", 0))
    return found


def test_inspect_treemap_writes_the_trees_modules_by_size(tmp_path: Path) -> None:
    project(tmp_path, "170kb")
    assert run("build", "--basedir", str(tmp_path))[0] == 0
    code, base_svg, err = run("inspect", "--basedir", str(tmp_path), "--treemap", "main")
    assert code == 0, err
    code, var_svg, err = run("inspect", "--basedir", str(tmp_path), "--treemap", "main", "--variations", "var_b")
    base, varied = rect_titles(base_svg), rect_titles(var_svg)
    assert set(base) == set(varied) == {"main.js", "big.js"}
    assert base["big.js"] > base["main.js"] and varied["big.js"] > base["big.js"]
    assert "src/variations/var_b" in var_svg and "[var_b, base]" in var_svg
    assert run("inspect", "--basedir", str(tmp_path), "--treemap", "nope")[0] != 0


def test_qa_page_links_the_treemap_of_this_browsers_tree(tmp_path: Path) -> None:
    project(tmp_path, "170kb")
    assert run("build", "--basedir", str(tmp_path))[0] == 0

    def page(environ, start_response):  # type: ignore[no-untyped-def]
        start_response("200 OK", [])
        return [b""]

    browser = Client(MendelMiddleware(page, str(tmp_path), development=True))
    html = browser.get("/_mendel/").text
    assert 'href="treemap/main"' in html
    svg = browser.get("/_mendel/treemap/main")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert set(rect_titles(svg.text)) == {"main.js", "big.js"}
    assert browser.get("/_mendel/treemap/nope").status_code == 404
    closed = Client(MendelMiddleware(page, str(tmp_path)))  # no QA access: the app answers
    assert closed.get("/_mendel/treemap/main").data == b""

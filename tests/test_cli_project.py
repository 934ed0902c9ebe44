"""`mendel` against the example project with its sources: staleness, missing folders, settings."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from e2e_support import build_example_project
from mendel_py import MendelTrees
from mendel_py.cli import cli


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_example_project(tmp_path_factory.mktemp("shop"))


@pytest.fixture
def shop(built: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(built, tmp_path / "shop"))


def validate(shop: Path) -> tuple[int, dict]:
    result = CliRunner().invoke(cli, ["validate", "--basedir", str(shop), "--json"])
    return result.exit_code, json.loads(result.stdout)


def test_validate_compares_the_manifests_with_the_sources(shop: Path) -> None:
    assert validate(shop) == (0, {"ok": True, "bundles": ["main", "css"], "problems": [], "sources_checked": True})
    main_js = shop / "examples/shop/src/base/main.js"
    main_js.write_text(main_js.read_text() + "\n// edited\n")
    code, report = validate(shop)
    assert code == 1
    [problem] = report["problems"]
    assert problem["type"] == "StaleManifest" and problem["path"] == "manifests/main.manifest.json"
    assert "run `mendel build`" in problem["message"]


def test_validate_reports_a_variation_without_a_folder(shop: Path, caplog: pytest.LogCaptureFixture) -> None:
    rc = shop / ".mendelrc"
    rc.write_text(rc.read_text().replace("    feature_C:\n", "    feature_C:\n    ghost:\n"))
    with caplog.at_level("WARNING", logger="mendel_py.trees"):
        MendelTrees(str(shop), follow_current=False)  # the edited .mendelrc, not the published one
    assert "variation 'ghost' has no folder" in caplog.text  # a server says so when it starts
    code, report = validate(shop)
    assert code == 1
    [problem] = report["problems"]
    assert problem["type"] == "MissingVariationFolder" and problem["variation"] == "ghost"
    assert problem["folders"] == ["examples/shop/src/variations/ghost"]


def test_version() -> None:
    from importlib.metadata import version

    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"mendel {version('mendel_py')}"


def test_build_shares_the_settings_and_error_shape(shop: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    check = runner.invoke(cli, ["build", "--check", "--json"], env={"MENDEL_BASEDIR": str(shop)})
    assert check.exit_code == 0, check.output
    assert json.loads(check.stdout)["stale"] == []
    (shop / ".mendelrc").write_text("surprise: 1\n")
    failed = runner.invoke(cli, ["build", "--basedir", str(shop), "--json"])
    assert failed.exit_code == 1
    error = json.loads(failed.stdout)["error"]
    assert error["type"] == "ConfigError" and error["key"] == "surprise"
    assert failed.stderr.startswith("Error: ") and len(failed.stderr.strip().splitlines()) == 1
    help_text = runner.invoke(cli, ["build", "--help"]).stdout
    assert "MENDEL_BASEDIR" in help_text and "MENDEL_ENV" in help_text

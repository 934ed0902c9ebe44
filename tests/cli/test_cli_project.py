"""`mendel` against the example project with its sources: staleness, missing folders, settings."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from e2e_support import build_example_project
from mendel_py import MendelTrees
from mendel_py.cli.main import cli
from mendel_py.config.model import VariationProblems


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


def edit_rc(shop: Path, old: str, new: str) -> None:
    rc = shop / ".mendelrc"
    text = rc.read_text()
    assert old in text
    rc.write_text(text.replace(old, new))


def build(shop: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["build", "--basedir", str(shop)])
    return result.exit_code, result.stderr


MISCONFIGURATIONS = {
    # (old text, new text, what the one line says)
    "ghost variation": ("    feature_C:\n", "    feature_C:\n    ghost_test:\n",
                        "variation 'ghost_test' has no folder"),
    "typo in variation-dirs": ("./examples/shop/src/variations", "./examples/shop/src/variatons",
                               "'examples/shop/src/variatons' does not exist (did you mean 'examples/shop/src/variations'?)"),
    "typo in inheritance": ("      - bucket_A\n", "      - bucket_AA\n",
                            "inherits 'bucket_AA', which is no variation folder"),
    "wrong base folder": ("dir: ./examples/shop/src/base", "dir: ./examples/shop/src/bsae",
                          "the base folder 'examples/shop/src/bsae' does not exist (did you mean 'examples/shop/src/base'?)"),
    "arm that overrides nothing": ("    variations: [control, feature_C]\n", "    variations: [control, feature_C, bucket_E]\n"
                                   "    weights: [0.4, 0.3, 0.3]\n", "arm 'bucket_E' overrides nothing in any bundle"),
}


@pytest.mark.parametrize("case", sorted(MISCONFIGURATIONS))
def test_every_misconfiguration_stops_build_validate_and_start_up(shop: Path, case: str) -> None:
    old, new, said = MISCONFIGURATIONS[case]
    if case == "arm that overrides nothing":  # a variation with a folder, but no file any bundle uses
        edit_rc(shop, "    feature_C:\n", "    feature_C:\n    bucket_E:\n")
        (shop / "examples/shop/src/variations/bucket_E/templates").mkdir(parents=True)
        (shop / "examples/shop/src/variations/bucket_E/templates/index.html").write_text("{# only a template #}\n")
        old = old.replace("weights: [0.5, 0.5]", "")
        edit_rc(shop, "    weights: [0.5, 0.5]\n", "")
    edit_rc(shop, old, new)
    before = (shop / "manifests/main.manifest.json").read_bytes()
    code, stderr = build(shop)
    assert code == 1 and said in stderr, stderr
    assert stderr.startswith("Error: ") and len(stderr.strip().splitlines()) == 1
    assert (shop / "manifests/main.manifest.json").read_bytes() == before  # nothing written
    code, report = validate(shop)
    assert code == 1
    messages = [problem["message"] for problem in report["problems"]]
    assert len(messages) == 1 and said in messages[0], messages  # once, not twice
    with pytest.raises(VariationProblems, match=re.escape(said)):
        # a server of these files (with a store it serves CURRENT, which the build did not move)
        MendelTrees(str(shop), generations="off")


def test_validate_prints_each_problem_once(shop: Path) -> None:
    edit_rc(shop, "    feature_C:\n", "    feature_C:\n    ghost_test:\n")
    edit_rc(shop, "      - bucket_A\n", "      - bucket_AA\n")
    result = CliRunner().invoke(cli, ["validate", "--basedir", str(shop)])
    assert result.exit_code == 1
    everything = result.stdout + result.stderr
    lines = everything.splitlines()
    assert sum("ghost_test" in line for line in lines) == 1, everything
    assert sum("bucket_AA" in line for line in lines) == 1, everything
    assert "2 problem(s) found" in result.stdout
    code, report = validate(shop)
    [inherit, ghost] = report["problems"]
    assert ghost["type"] == "MissingVariationFolder" and ghost["variation"] == "ghost_test"
    assert ghost["folders"] == ["examples/shop/src/variations/ghost_test"]
    assert ghost["key"] == "variation-config.variations.ghost_test"
    assert "did you mean 'bucket_A'?" in inherit["message"]


def test_a_deliberately_empty_variation_needs_no_folder(shop: Path) -> None:
    edit_rc(shop, "    feature_C:\n", "    feature_C:\n    ghost_test:\n  deliberately-empty: [ghost_test]\n")
    assert build(shop)[0] == 0
    assert validate(shop)[0] == 0, validate(shop)
    trees = MendelTrees(str(shop))
    assert trees.variations_and_chains(["ghost_test"])[0] == ["base"]  # nothing to serve: base
    edit_rc(shop, "deliberately-empty: [ghost_test]", "deliberately-empty: [ghost_tset]")
    code, stderr = build(shop)
    assert code == 1 and "'ghost_tset' is not a configured variation (did you mean 'ghost_test'?)" in stderr


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


def test_a_running_server_refuses_a_config_with_a_ghost_variation(shop: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A bad deploy never replaces a good one: the reload is refused, the old generation serves."""
    trees = MendelTrees(str(shop), generations="off")
    before = [v.id for v in trees.variations]
    edit_rc(shop, "    feature_C:\n", "    feature_C:\n    ghost_test:\n")
    with caplog.at_level("ERROR", logger="mendel_py.core.trees"):
        assert trees.reload_if_changed() is None
    assert "new generation refused" in caplog.text and "ghost_test" in caplog.text
    assert [v.id for v in trees.variations] == before
    assert trees.find_tree_for_variations("main", trees.variations_and_chains(["bucket_A"])[1]).file_count

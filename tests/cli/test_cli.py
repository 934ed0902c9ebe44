"""The offline `mendel` command: every subcommand in human and --json form, and its exit codes."""
from __future__ import annotations

import base64
import hashlib
import json
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from factory import write_project
from mendel_py.cli.main import cli
from mendel_py.cli.support import format_table

REPO = Path(__file__).resolve().parents[2]

RC = """\
base-config:
  id: base
  dir: ./src/base
variation-config:
  variation-dirs:
    - ./src/variations
  variations:
    bucket_A:
    feature_B:
    bucket_D:
      - bucket_A
route-config:
  hash: /mendel/:hash/:bundle
bundles:
  main:
    manifest: manifests/main.manifest.json
  css:
    manifest: manifests/css.manifest.json
    serveAs: css
"""

# Walk order of main: main.js, button.js (2 entries), banner.js (3 entries).
MAIN = {
    "main.js": {"entry": True, "base": {"deps": {"./button.js": "button.js", "./banner.js": "banner.js",
                                                 "react": False}}},
    "button.js": {"base": {}, "bucket_A": {}},
    "banner.js": {"base": {}, "feature_B": {}, "bucket_D": {}},
}
CSS = {
    "styles/main.css": {"entry": True, "order": 0, "base": {"source": "body { margin: 0 }"}},
    "styles/theme.css": {"entry": True, "order": 1, "base": {"source": ".a { color: blue }"},
                         "bucket_A": {"source": ".a { color: red }"}},
}

V1_VECTOR = "bWVuZGVsAQAC_wIACwymnXS-hyyRSwbove5neRfo6fI"  # v1, branches [0, 2], 2 files
V2_EMPTY = "bWVuZGVsAv8AANo5o-5ea0sNMlW_75VgGJCv2AcJ"  # v2, no branches, no files
NOT_MENDEL = "dGVzdF9fAQAC_wIACwymnXS-hyyRSwbove5neRfo6fI"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path, RC, {"main": MAIN, "css": CSS})


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def run(runner: CliRunner, project: Path | None, *args: str, **kwargs: Any) -> Result:
    """Invoke `mendel <command> [--basedir project] args...`."""
    command, *rest = args
    basedir = ["--basedir", str(project)] if project is not None else []
    return runner.invoke(cli, [command, *basedir, *rest], **kwargs)


def run_json(runner: CliRunner, project: Path, *args: str) -> dict[str, Any]:
    result = run(runner, project, *args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def manifest_data(project: Path, bundle: str) -> dict[str, Any]:
    return json.loads((project / "manifests" / f"{bundle}.manifest.json").read_text())


def entry_sha(project: Path, bundle: str, module: str, folder: str) -> bytes:
    data = manifest_data(project, bundle)
    module_data = data["bundles"][data["indexes"][module]]
    return bytes.fromhex(module_data["data"][module_data["variations"].index(folder)]["sha"])


def mendel_v1_hash(branches: list[int], shas: list[bytes]) -> str:
    """Mendel v1 hash as mendel-core 3.x writes it (SPEC §4)."""
    raw = b"mendel\x01" + bytes(branches) + b"\xff" + struct.pack("<H", len(shas))
    raw += hashlib.sha1(b"".join(shas)).digest()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def table_rows(output: str, header_start: str) -> list[str]:
    """The header line starting with `header_start` and the rows under its dashed rule."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = [lines[start]]
    for line in lines[start + 2:]:
        if not line.strip():
            break
        rows.append(line)
    return rows


def column_start(header: str, name: str) -> int:
    return header.index(name)


# --------------------------------------------------------------------------- inspect


def test_inspect_json_counts_branch_points_and_permutations(runner: CliRunner, project: Path) -> None:
    report = run_json(runner, project, "inspect")
    bundles = {bundle["id"]: bundle for bundle in report["bundles"]}
    main, css = bundles["main"], bundles["css"]
    assert (main["modules"], main["files"], main["serve_as"]) == (3, 6, "js")
    assert (css["modules"], css["files"], css["serve_as"]) == (2, 3, "css")
    assert main["manifest"] == "manifests/main.manifest.json"
    assert {(p["module"], p["entries"]) for p in main["branch_points"]} == {("button.js", 2), ("banner.js", 3)}
    # button x banner = 2 x 3 = 6 combinations, but bucket_D's banner always comes with bucket_A's button.
    assert main["permutations"] == {
        "count": 5, "exact": True, "subsets": 8, "failed_subsets": 0, "relevant_variations": 3,
    }
    # Only bucket_A and bucket_D (which inherits bucket_A) reach a css folder.
    assert css["permutations"]["count"] == 2 and css["permutations"]["relevant_variations"] == 2
    sources = [entry["source"] for module in manifest_data(project, "main")["bundles"] for entry in module["data"]]
    assert main["source_bytes"] == sum(len(source.encode()) for source in sources)
    assert report["totals"]["source_bytes"] == main["source_bytes"] + css["source_bytes"]
    assert report["variations"] == [
        {"id": "bucket_A", "chain": ["src/variations/bucket_A", "src/base"]},
        {"id": "feature_B", "chain": ["src/variations/feature_B", "src/base"]},
        {"id": "bucket_D", "chain": ["src/variations/bucket_D", "src/variations/bucket_A", "src/base"]},
    ]
    assert report["hash_format"] == "v3"


def test_inspect_human_output_is_an_aligned_plain_table(runner: CliRunner, project: Path) -> None:
    result = run(runner, project, "inspect")
    assert result.exit_code == 0, result.stderr
    assert "\x1b[" not in result.stdout
    header, *rows = table_rows(result.stdout, "BUNDLE  ")
    assert [row.split()[0] for row in rows] == ["main", "css"]
    for name in ("MANIFEST", "MODULES", "PERMUTATIONS"):
        column = column_start(header, name)
        assert all(row[column - 2:column] == "  " and row[column] != " " for row in rows), name
    assert "src/variations/bucket_D > src/variations/bucket_A > src/base" in result.stdout
    assert "2 bundles, 5 modules, 9 files" in result.stdout


def test_inspect_labels_an_upper_bound_beyond_sixteen_variations(runner: CliRunner, tmp_path: Path) -> None:
    names = [f"v{i:02}" for i in range(17)]
    rc = RC.split("variations:\n")[0] + "variations:\n" + "".join(f"    {name}:\n" for name in names)
    rc += "route-config:\n  hash: /mendel/:hash/:bundle\nbundles:\n  main:\n    manifest: manifests/main.manifest.json\n"
    modules: dict[str, Any] = {f"m{name}.js": {"entry": True, "base": {}, name: {}} for name in names}
    project = write_project(tmp_path, rc, {"main": modules})
    report = run_json(runner, project, "inspect")
    assert report["bundles"][0]["permutations"] == {"count": 2**17, "exact": False, "relevant_variations": 17}
    human = run(runner, project, "inspect").stdout
    assert f"<= {2**17} (upper bound)" in human


def test_inspect_and_validate_the_shared_sample_project(runner: CliRunner, sample_project: Path) -> None:
    assert run(runner, sample_project, "validate").exit_code == 0
    report = run_json(runner, sample_project, "inspect")
    assert [bundle["id"] for bundle in report["bundles"]] == ["main", "css"]
    assert [variation["id"] for variation in report["variations"]] == ["bucket_A", "feature_B", "partner_C", "bucket_D"]
    for bundle in report["bundles"]:
        bound = 1
        for point in bundle["branch_points"]:
            bound *= point["entries"]
        assert 1 <= bundle["permutations"]["count"] <= bound


# --------------------------------------------------------------------------- validate


def test_validate_ok(runner: CliRunner, project: Path) -> None:
    result = run(runner, project, "validate")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("OK")
    assert "main" in result.stdout and "css" in result.stdout
    assert run_json(runner, project, "validate") == {
        "ok": True, "bundles": ["main", "css"], "problems": [], "sources_checked": False,
    }


def test_validate_lists_every_broken_manifest(runner: CliRunner, project: Path) -> None:
    main = manifest_data(project, "main")
    main["bundles"][main["indexes"]["main.js"]]["data"][0]["deps"]["./button.js"] = "missing.js"
    (project / "manifests" / "main.manifest.json").write_text(json.dumps(main))
    (project / "manifests" / "css.manifest.json").write_text("{ not json")

    result = run(runner, project, "validate")
    assert result.exit_code == 1
    assert "2 problem(s) found" in result.stdout
    assert '"missing.js" is not in indexes' in result.stdout
    assert "css.manifest.json: invalid JSON" in result.stdout
    assert result.stderr.strip() == "Error: 2 problem(s) found"

    report = json.loads(run(runner, project, "validate", "--json").stdout)
    assert report["ok"] is False
    assert [(p["type"], p["bundle"]) for p in report["problems"]] == [
        ("ManifestError", "main"), ("ManifestError", "css"),
    ]
    assert report["problems"][0]["module"] == "main.js"


def test_validate_refuses_a_tampered_manifest(runner: CliRunner, project: Path) -> None:
    main = manifest_data(project, "main")
    main["bundles"][main["indexes"]["button.js"]]["data"][1]["source"] = "module.exports = 'evil';"
    (project / "manifests" / "main.manifest.json").write_text(json.dumps(main))
    report = json.loads(run(runner, project, "validate", "--json").stdout)
    assert report["ok"] is False
    [problem] = report["problems"]
    assert problem["type"] == "ManifestError"
    assert (problem["module"], problem["field"], problem["bundle"]) == ("button.js", "data[1].sha", "main")
    assert problem["path"] == "manifests/main.manifest.json"
    assert "does not match its source" in problem["message"]


def test_validate_reports_a_config_error(runner: CliRunner, project: Path) -> None:
    (project / ".mendelrc").write_text(RC + "surprise: 1\n")
    result = run(runner, project, "validate")
    assert result.exit_code == 1
    assert "surprise" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    report = json.loads(run(runner, project, "validate", "--json").stdout)
    assert report["problems"][0]["type"] == "ConfigError"


def test_validate_reports_an_unresolvable_branch_point(runner: CliRunner, tmp_path: Path) -> None:
    modules = {"main.js": {"entry": True, "base": {"deps": {"./x": "x.js"}}}, "x.js": {"bucket_A": {}, "feature_B": {}}}
    # bucket_D has no folder in these manifests: a config problem that would come first
    rc = RC.replace("    bucket_D:\n      - bucket_A\n", "")
    project = write_project(tmp_path, rc, {"main": modules, "css": CSS})
    report = json.loads(run(runner, project, "validate", "--json").stdout)
    assert report["ok"] is False
    walk_errors = [p for p in report["problems"] if p["type"] == "WalkError"]
    assert walk_errors and all(p["module"] == "x.js" for p in walk_errors)
    assert [] in [p["variations"] for p in walk_errors]  # base alone can't pick x.js


# --------------------------------------------------------------------------- resolve


def test_resolve_json_files_conflicts_and_url(runner: CliRunner, project: Path) -> None:
    report = run_json(runner, project, "resolve", "--bundle", "main", "--variations", "bucket_D,feature_B")
    assert report["variations"]["matching"] == ["feature_B", "bucket_D", "base"]
    (tree,) = report["bundles"]
    files = {f["module"]: (f["file"], f["variation"]) for f in tree["files"]}
    assert files == {
        "banner.js": ("src/variations/feature_B/banner.js", "src/variations/feature_B"),
        "button.js": ("src/variations/bucket_A/button.js", "src/variations/bucket_A"),
        "main.js": ("src/base/main.js", "src/base"),
    }
    assert (tree["conflicts"], tree["conflict_list"]) == (1, ["banner.js"])
    assert tree["url"] == f"/mendel/{tree['hash']}/main.js"
    assert tree["file_count"] == 3


def test_resolve_all_bundles_uses_css_suffix(runner: CliRunner, project: Path) -> None:
    report = run_json(runner, project, "resolve", "--variations", "bucket_A")
    urls = {tree["bundle"]: tree["url"] for tree in report["bundles"]}
    assert urls["main"].endswith(".js") and urls["css"].endswith(".css")
    assert urls["css"] == f"/mendel/{report['bundles'][1]['hash']}/css.css"


def test_resolve_hash_format_matches_mendel_v1(runner: CliRunner, project: Path) -> None:
    report = run_json(runner, project, "resolve", "--bundle", "main", "--hash-format", "mendel-v1")
    shas = [entry_sha(project, "main", module, "src/base") for module in ("main.js", "button.js", "banner.js")]
    assert report["bundles"][0]["hash"] == mendel_v1_hash([0, 0], shas)


def test_resolve_human_output(runner: CliRunner, project: Path) -> None:
    result = run(runner, project, "resolve", "--bundle", "main", "--bundle", "css", "--variations", "feature_B,nope")
    assert result.exit_code == 0
    assert "Warning: unknown variations ignored: nope" in result.stderr
    assert "Variations  feature_B, base" in result.stdout
    header, *rows = table_rows(result.stdout, "MODULE  ")
    assert "banner.js  src/variations/feature_B/banner.js  src/variations/feature_B" in "\n".join(rows)
    assert result.stdout.count("URL") == 2


def test_resolve_unknown_bundle_exits_1(runner: CliRunner, project: Path) -> None:
    result = run(runner, project, "resolve", "--bundle", "nope")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: unknown bundle 'nope'")
    assert len(result.stderr.strip().splitlines()) == 1
    as_json = run(runner, project, "resolve", "--bundle", "nope", "--json")
    assert json.loads(as_json.stdout)["error"]["type"] == "BundleNotFound"


# --------------------------------------------------------------------------- decode


def test_decode_without_bundle_reads_a_mendel_vector(runner: CliRunner, project: Path) -> None:
    report = run_json(runner, project, "decode", V1_VECTOR)
    assert report == {"hash": V1_VECTOR, "version": 1, "keyed": False, "branches": [0, 2], "file_count": 2}
    human = run(runner, project, "decode", V1_VECTOR).stdout
    assert "Version   1" in human and "Branches  0 2" in human


def test_decode_with_bundle_lists_the_files_of_a_resolved_hash(runner: CliRunner, project: Path) -> None:
    resolved = run_json(runner, project, "resolve", "--bundle", "main", "--variations", "bucket_D")["bundles"][0]
    report = run_json(runner, project, "decode", "--bundle", "main", resolved["hash"])
    assert report["files"] == resolved["files"]
    assert report["url"] == resolved["url"]
    assert report["version"] == 3 and report["file_count"] == 3
    human = run(runner, project, "decode", "--bundle", "main", resolved["hash"])
    assert "src/variations/bucket_D/banner.js" in human.stdout


@pytest.mark.parametrize(
    ("hash_", "code"), [(NOT_MENDEL, "BADHASH"), (V2_EMPTY, "TRVRSL"), (V1_VECTOR, "HASHMISS")]
)
def test_decode_errors_exit_1_with_the_code(runner: CliRunner, project: Path, hash_: str, code: str) -> None:
    args = ("decode", hash_) if code == "BADHASH" else ("decode", "--bundle", "main", hash_)
    result = run(runner, project, *args)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {code}: ")
    assert len(result.stderr.strip().splitlines()) == 1
    as_json = run(runner, project, *args, "--json")
    assert as_json.exit_code == 1
    assert json.loads(as_json.stdout)["error"]["code"] == code


# --------------------------------------------------------------------------- diff


def test_diff_json_lists_changed_modules(runner: CliRunner, project: Path) -> None:
    report = run_json(runner, project, "diff", "--bundle", "main", "--from", "", "--to", "bucket_D")
    (bundle,) = report["bundles"]
    assert bundle["changes"] == [
        {"module": "banner.js", "from": "src/base/banner.js", "to": "src/variations/bucket_D/banner.js"},
        {"module": "button.js", "from": "src/base/button.js", "to": "src/variations/bucket_A/button.js"},
    ]
    assert bundle["from_hash"] != bundle["to_hash"]
    assert report["to"]["matching"] == ["bucket_D", "base"]


def test_diff_human_output(runner: CliRunner, project: Path) -> None:
    result = run(runner, project, "diff", "--from", "bucket_A", "--to", "bucket_A,feature_B")
    assert result.exit_code == 0
    assert "banner.js  src/base/banner.js  src/variations/feature_B/banner.js" in result.stdout
    assert "(no differences)" in result.stdout  # the css bundle


def test_diff_unknown_bundle_exits_1(runner: CliRunner, project: Path) -> None:
    assert run(runner, project, "diff", "--bundle", "nope", "--to", "bucket_A").exit_code == 1


# --------------------------------------------------------------------------- usage and defaults


@pytest.mark.parametrize(
    "args",
    [
        ("resolve", "--hash-format", "v9"),
        ("decode",),
        ("inspect", "--no-such-option"),
        ("frobnicate",),
    ],
)
def test_bad_usage_exits_2(runner: CliRunner, project: Path, args: tuple[str, ...]) -> None:
    result = runner.invoke(cli, list(args))
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr


def test_missing_config_is_one_line_exit_1(runner: CliRunner, tmp_path: Path) -> None:
    result = run(runner, tmp_path, "inspect")
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)


def inspected_root(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["root"]


def test_basedir_from_context_object(runner: CliRunner, project: Path) -> None:
    result = runner.invoke(cli, ["inspect", "--json"], obj={"MENDEL_BASEDIR": str(project)})
    assert inspected_root(result) == str(project)


def test_basedir_from_environment(runner: CliRunner, project: Path) -> None:
    result = runner.invoke(cli, ["inspect", "--json"], env={"MENDEL_BASEDIR": str(project)})
    assert inspected_root(result) == str(project)


def test_basedir_from_flask_app_config(runner: CliRunner, project: Path) -> None:
    from flask import Flask

    app = Flask(__name__)
    app.config["MENDEL_BASEDIR"] = str(project)
    with app.app_context():
        result = runner.invoke(cli, ["inspect", "--json"])
    assert inspected_root(result) == str(project)


def mendel_app(project: Path) -> Any:
    from flask import Flask

    from mendel_py.integrations.flask import Mendel

    app = Flask(__name__)
    app.config["MENDEL_BASEDIR"] = str(project)
    Mendel(app)
    return app


def test_flask_mendel_follows_the_app_basedir(runner: CliRunner, project: Path) -> None:
    from flask.cli import FlaskGroup

    app = mendel_app(project)
    flask_cli = FlaskGroup(create_app=lambda: app)
    result = runner.invoke(flask_cli, ["mendel", "inspect", "--json"])
    assert inspected_root(result) == str(project)


def test_app_test_cli_runner_passes_the_app_basedir(project: Path) -> None:
    app = mendel_app(project)
    result = app.test_cli_runner().invoke(args=["mendel", "inspect", "--json"])
    assert inspected_root(result) == str(project)


def test_format_table_aligns_columns() -> None:
    assert format_table(("A", "LONG"), [("xyz", 1)]).splitlines() == ["A    LONG", "---  ----", "xyz  1"]


def test_python_dash_m_help() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "mendel_py", "--help"], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr
    for command in ("inspect", "validate", "resolve", "decode", "diff", "build"):
        assert command in completed.stdout


def test_unknown_hash_format_from_the_environment_is_a_usage_error(runner: CliRunner, project: Path) -> None:
    result = run(runner, project, "resolve", env={"MENDEL_HASH_FORMAT": "v9"})
    assert result.exit_code == 2
    assert "MENDEL_HASH_FORMAT" in result.stderr and "'v9' is not one of" in result.stderr


def test_settings_from_context_object_and_keyed_hash(runner: CliRunner, project: Path) -> None:
    obj = {"MENDEL_BASEDIR": str(project), "MENDEL_HASH_KEY": "secret"}
    keyed = json.loads(runner.invoke(cli, ["resolve", "--bundle", "main", "--json"], obj=obj).stdout)
    plain = run_json(runner, project, "resolve", "--bundle", "main")
    keyed_hash = keyed["bundles"][0]["hash"]
    assert keyed_hash != plain["bundles"][0]["hash"]
    assert json.loads(run(runner, None, "decode", keyed_hash, "--json").stdout)["keyed"] is True
    assert runner.invoke(cli, ["decode", "--bundle", "main", keyed_hash], obj=obj).exit_code == 0
    unkeyed = run(runner, project, "decode", "--bundle", "main", keyed_hash)
    assert unkeyed.exit_code == 1 and unkeyed.stderr.startswith("Error: ")

"""`mendel build`: manifests from sources, variations, determinism, --check, cache, errors, CLI."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from build_support import build, deps_by_folder, make_project, manifest, module, write_files
from mendel_py.cli.build import build_command
from mendel_py.compiler import BuildError, build_manifests
from mendel_py.config import load_config
from mendel_py.core.hashcodec import file_blake3

BASE = "src/base"
VAR_A = "src/variations/var_a"
VAR_B = "src/variations/var_b"
VAR_C = "src/variations/var_c"
REPO_ROOT = Path(__file__).resolve().parents[2]

SHOP = {
    f"{BASE}/main.js": "var a = require('./a');\nvar b = require('./b.js');\nmodule.exports = a + b;\n",
    f"{BASE}/a.js": "module.exports = require('./shared');\n",
    f"{BASE}/b.js": "module.exports = 'b';\n",
    f"{BASE}/shared.js": "module.exports = 'shared';\n",
    f"{BASE}/unused.js": "module.exports = 'never required';\n",
    f"{VAR_A}/a.js": "module.exports = require('./extra') + require('./shared');\n",
    f"{VAR_A}/extra.js": "module.exports = 'only in var_a';\n",
    f"{VAR_B}/a.js": "module.exports = 'var_b drops shared';\n",
    f"{VAR_C}/b.js": "module.exports = 'var_c b';\n",
}


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    make_project(tmp_path, SHOP)
    return tmp_path


# ---------------------------------------------------------------- manifest content


def test_manifest_layout_and_fields(shop: Path) -> None:
    build(shop)
    document = manifest(shop)
    assert list(document["indexes"]) == ["a.js", "b.js", "extra.js", "main.js", "shared.js"]
    assert [entry["id"] for entry in document["bundles"]] == list(document["indexes"])
    assert [entry["index"] for entry in document["bundles"]] == [0, 1, 2, 3, 4]
    main = module(document, "main.js")
    assert main["entry"] is True and main["variations"] == [BASE]
    (data,) = main["data"]
    source = SHOP[f"{BASE}/main.js"]
    assert data == {
        "id": "main.js",
        "file": f"{BASE}/main.js",
        "variation": BASE,
        "source": source,
        "sha": hashlib.sha1(source.encode()).hexdigest(),
        "blake3": file_blake3(source).hex(),
        "deps": {"./a": "a.js", "./b.js": "b.js"},
    }
    assert "unused.js" not in document["indexes"]
    assert all("entry" not in module(document, name) for name in ("a.js", "b.js", "shared.js"))


def test_variations_are_listed_base_first_then_config_order(shop: Path) -> None:
    build(shop)
    document = manifest(shop)
    a = module(document, "a.js")
    assert a["variations"] == [BASE, VAR_A, VAR_B]
    assert [entry["file"] for entry in a["data"]] == [f"{BASE}/a.js", f"{VAR_A}/a.js", f"{VAR_B}/a.js"]
    assert [entry["id"] for entry in a["data"]] == ["a.js"] * 3
    assert module(document, "b.js")["variations"] == [BASE, VAR_C]


def test_a_variation_adds_and_drops_dependencies(shop: Path) -> None:
    build(shop)
    assert deps_by_folder(manifest(shop), "a.js") == {
        BASE: {"./shared": "shared.js"},
        VAR_A: {"./extra": "extra.js", "./shared": "shared.js"},
        VAR_B: {},
    }


def test_a_variation_only_file_joins_through_its_variation(shop: Path) -> None:
    build(shop)
    extra = module(manifest(shop), "extra.js")
    assert extra["variations"] == [VAR_A]
    assert extra["data"][0]["file"] == f"{VAR_A}/extra.js"


def test_a_module_reachable_only_through_a_variation_in_another_bundle(tmp_path: Path) -> None:
    """Every folder's version is walked, also of modules first reached through a variation."""
    make_project(tmp_path, {
        f"{BASE}/main.js": "require('./a')",
        f"{BASE}/a.js": "",
        f"{BASE}/deep.js": "",
        f"{VAR_A}/a.js": "require('./mid')",
        f"{VAR_A}/mid.js": "require('./deep')",
        f"{VAR_B}/deep.js": "require('./deeper')",
        f"{VAR_B}/deeper.js": "",
    })
    build(tmp_path)
    document = manifest(tmp_path)
    assert list(document["indexes"]) == ["a.js", "deep.js", "deeper.js", "main.js", "mid.js"]
    assert module(document, "deep.js")["variations"] == [BASE, VAR_B]


def test_expose_option_and_entries_given_from_the_root(tmp_path: Path) -> None:
    make_project(tmp_path, {
        f"{BASE}/main.js": "",
        f"{BASE}/lib/api.js": "",
    }, """\
base-config:
  dir: ./src/base
bundles:
  main:
    entries: [src/base/main.js]
    manifest: manifests/main.manifest.json
    expose:
      lib/api.js: api
""")
    build(tmp_path)
    document = manifest(tmp_path, "main")
    assert module(document, "lib/api.js")["expose"] == "api"
    assert "entry" not in module(document, "lib/api.js")
    assert module(document, "main.js")["entry"] is True


def test_css_bundle_orders_imports_first_and_strips_local_imports(tmp_path: Path) -> None:
    make_project(tmp_path, {
        f"{BASE}/styles/main.css": (
            '@import "./reset.css";\n@import url(theme.css);\n'
            "@import url(https://fonts.example/f.css);\nbody { margin: 0; }\n"
        ),
        f"{BASE}/styles/reset.css": "* { box-sizing: border-box; }\n",
        f"{BASE}/styles/theme.css": '@import "./colors.css";\n.t { color: var(--c); }\n',
        f"{BASE}/styles/colors.css": ":root { --c: red; }\n",
        f"{VAR_A}/styles/theme.css": ".t { color: blue; }\n",
        f"{VAR_A}/styles/colors.css": ":root { --c: blue; }\n",
    }, """\
base-config:
  dir: ./src/base
variation-config:
  variation-dirs: [./src/variations]
  variations:
    var_a:
bundles:
  css:
    entries: [styles/main.css]
    serveAs: css
    manifest: manifests/css.manifest.json
""")
    build(tmp_path)
    document = manifest(tmp_path, "css")
    orders = {entry["id"]: entry["order"] for entry in document["bundles"]}
    assert orders == {"styles/reset.css": 0, "styles/colors.css": 1, "styles/theme.css": 2, "styles/main.css": 3}
    main = module(document, "styles/main.css")
    assert main["data"][0]["source"] == "@import url(https://fonts.example/f.css);\nbody { margin: 0; }\n"
    assert main["data"][0]["deps"] == {
        "./reset.css": "styles/reset.css",
        "theme.css": "styles/theme.css",
        "https://fonts.example/f.css": False,
    }
    assert deps_by_folder(document, "styles/theme.css") == {
        BASE: {"./colors.css": "styles/colors.css"},
        VAR_A: {},
    }


# ---------------------------------------------------------------- determinism


def test_building_twice_gives_identical_bytes_and_no_rewrite(shop: Path) -> None:
    first = build(shop)
    path = shop / "manifests" / "main.manifest.json"
    data = path.read_bytes()
    stamp = path.stat().st_mtime_ns
    second = build(shop)
    assert path.read_bytes() == data
    assert path.stat().st_mtime_ns == stamp
    assert first.changed == ("manifests/main.manifest.json",) and second.changed == ()


def test_output_does_not_depend_on_where_the_project_lives(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "elsewhere" / "two"
    make_project(one, SHOP)
    make_project(two, SHOP)
    build(one, use_cache=False)
    build(two)
    data = (one / "manifests" / "main.manifest.json").read_bytes()
    assert data == (two / "manifests" / "main.manifest.json").read_bytes()
    assert str(tmp_path).encode() not in data
    text = data.decode("utf-8")
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_non_ascii_sources_are_written_as_utf8(tmp_path: Path) -> None:
    make_project(tmp_path, {f"{BASE}/main.js": "module.exports = 'héllo ☃';\n"})
    build(tmp_path)
    raw = (tmp_path / "manifests" / "main.manifest.json").read_bytes()
    assert "héllo ☃".encode() in raw
    assert module(manifest(tmp_path), "main.js")["data"][0]["source"] == "module.exports = 'héllo ☃';\n"


# ---------------------------------------------------------------- --check


def test_check_reports_drift_and_writes_nothing(shop: Path) -> None:
    report = build(shop, check=True)
    assert report.stale == ("manifests/main.manifest.json",) and not report.ok
    assert not (shop / "manifests").exists()
    assert not (shop / ".mendel-cache").exists()

    build(shop)
    assert build(shop, check=True).stale == ()

    (shop / VAR_B / "a.js").write_text("module.exports = 'edited';\n")
    before = (shop / "manifests" / "main.manifest.json").read_bytes()
    report = build(shop, check=True)
    assert report.stale == ("manifests/main.manifest.json",)
    assert (shop / "manifests" / "main.manifest.json").read_bytes() == before


# ---------------------------------------------------------------- cache


def test_rebuild_uses_the_parse_cache_and_rescans_only_edited_files(shop: Path) -> None:
    cold = build(shop)
    assert cold.files_scanned == cold.files_read == 8
    assert (shop / ".mendel-cache" / ".gitignore").read_text() == "*\n"
    warm = build(shop)
    assert warm.files_scanned == 0 and warm.files_read == 8
    (shop / BASE / "b.js").write_text("module.exports = 'b' + require('./shared');\n")
    edited = build(shop)
    assert edited.files_scanned == 1
    assert deps_by_folder(manifest(shop), "b.js")[BASE] == {"./shared": "shared.js"}


def test_a_corrupt_cache_is_ignored(shop: Path) -> None:
    build(shop)
    data = (shop / "manifests" / "main.manifest.json").read_bytes()
    for cache_file in (shop / ".mendel-cache").glob("parse-*.json"):
        cache_file.write_text("{not json")
    report = build(shop)
    assert report.files_scanned == 8
    assert (shop / "manifests" / "main.manifest.json").read_bytes() == data


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("files", "location", "fragment"),
    [
        ({f"{BASE}/a.js": "import x from './b.js';\nx(import.meta.url);\n", f"{BASE}/b.js": ""}, f"{BASE}/a.js:2:3",
         "`import.meta` is not supported"),
        ({f"{BASE}/a.js": "export const a = 1;\n\nawait a;\n"}, f"{BASE}/a.js:3:1", "top-level `await`"),
        ({f"{BASE}/a.js": "import x from './nope';\n"}, f"{BASE}/a.js:1:15", 'cannot resolve import "./nope"'),
        ({f"{VAR_A}/a.js": "var s = 'open;\n"}, f"{VAR_A}/a.js:1", "unterminated string literal"),
        ({f"{BASE}/a.js": "\n/* open"}, f"{BASE}/a.js:2", "unterminated comment"),
        ({f"{BASE}/a.js": "x = `open ${y}"}, f"{BASE}/a.js:1", "unterminated template literal"),
        ({f"{BASE}/a.js": "x = /open\n"}, f"{BASE}/a.js:1", "unterminated regular expression"),
        ({f"{BASE}/a.js": "require('./data.json')", f"{BASE}/data.json": '{\n"a": }'}, f"{BASE}/data.json:2",
         "invalid JSON"),
        ({f"{BASE}/a.js": "require('./nope')"}, f"{BASE}/a.js:1:1", 'cannot resolve require("./nope")'),
    ],
)
def test_errors_name_the_file_and_line(shop: Path, files: dict[str, str], location: str, fragment: str) -> None:
    write_files(shop, files)
    with pytest.raises(BuildError) as caught:
        build(shop)
    assert str(caught.value).startswith(f"{location}:")  # (syntax errors: `:column` too)
    assert fragment in caught.value.message
    if caught.value.column is not None:
        assert caught.value.location.count(":") == 2


def test_invalid_utf8_is_an_error_with_line(shop: Path) -> None:
    (shop / BASE / "b.js").write_bytes(b"var a;\nvar b = '\xff';\n")
    with pytest.raises(BuildError, match=rf"^{BASE}/b.js:2: not valid UTF-8"):
        build(shop)


def test_a_failed_build_writes_nothing(shop: Path) -> None:
    (shop / BASE / "b.js").write_text("export default import.meta;\n")
    with pytest.raises(BuildError):
        build(shop)
    assert not (shop / "manifests").exists()


def test_missing_entry_is_an_error_naming_the_bundle(shop: Path) -> None:
    text = (shop / ".mendelrc").read_text().replace("- main.js", "- nowhere.js")
    (shop / ".mendelrc").write_text(text)
    with pytest.raises(BuildError) as caught:
        build(shop)
    assert caught.value.file == ".mendelrc"
    assert "bundle 'main': entry 'nowhere.js' is not a file" in caught.value.message


def test_bundle_without_entries_is_an_error(tmp_path: Path) -> None:
    make_project(tmp_path, {f"{BASE}/main.js": ""}, "base-config:\n  dir: ./src/base\nbundles:\n  main:\n    manifest: m.json\n")
    with pytest.raises(BuildError, match="bundle 'main' has no entries"):
        build(tmp_path)


def test_escaping_the_root_is_an_error(tmp_path: Path) -> None:
    make_project(tmp_path / "p", {f"{BASE}/main.js": "require('../../../../outside.js')"})
    (tmp_path / "outside.js").write_text("")
    with pytest.raises(BuildError, match="cannot resolve"):
        build(tmp_path / "p")


# ---------------------------------------------------------------- report


def test_report_counts_and_summary(shop: Path) -> None:
    report = build(shop)
    assert report.variations == ("var_a", "var_b", "var_c")
    assert report.variation_dirs == (VAR_A, VAR_B, VAR_C)
    assert report.overrides == {VAR_A: 2, VAR_B: 1, VAR_C: 1}
    (bundle,) = report.bundles
    assert (bundle.id, bundle.modules, bundle.files, bundle.changed) == ("main", 5, 8, True)
    summary = "\n".join(report.summary_lines())
    assert "1 bundle(s), 5 module(s), 3 variation(s)" in summary
    assert f"{VAR_A}: 2 file(s) overridden or added" in summary


class RecordingProgress:
    def __init__(self) -> None:
        self.total: int | None = None
        self.done = 0

    def start(self, total: int) -> None:
        self.total = total

    def advance(self, count: int = 1) -> None:
        self.done += count


def test_progress_receives_an_upper_bound_and_one_step_per_file(shop: Path) -> None:
    progress = RecordingProgress()
    build_manifests(load_config(str(shop)), progress=progress)
    assert progress.total == len(SHOP)
    assert progress.done == 8


# ---------------------------------------------------------------- command


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(build_command, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_command_builds_then_check_passes(shop: Path) -> None:
    code, out, _ = invoke("--basedir", str(shop))
    assert code == 0 and "main: 5 modules, 8 files" in out and "(written)" in out
    code, out, _ = invoke("--basedir", str(shop), "--check")
    assert code == 0 and "(up to date)" in out


@pytest.mark.parametrize("store", ["off", "on"])
def test_command_leaves_compiled_manifests_for_the_servers(shop: Path, monkeypatch, store: str) -> None:
    from mendel_py.core.manifest_cache import CACHE_DIR

    if store == "off":
        monkeypatch.setenv("MENDEL_GENERATIONS", "off")
    else:
        monkeypatch.setenv("MENDEL_GENERATIONS", str(shop / "generations"))
    assert invoke("--basedir", str(shop), "-q")[0] == 0
    kept = sorted(p.relative_to(shop).parts[0] for p in shop.rglob(f"{CACHE_DIR}/*.bin"))
    assert kept == (["manifests"] if store == "off" else ["generations"])


def test_command_check_lists_stale_manifests_and_exits_1(shop: Path) -> None:
    code, _, err = invoke("--basedir", str(shop), "--check", "--quiet")
    assert code == 1
    assert "manifests/main.manifest.json" in err
    assert not (shop / "manifests").exists()


def test_command_json_output(shop: Path) -> None:
    code, out, _ = invoke("--basedir", str(shop), "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"] is True
    assert report["bundles"][0]["manifest"] == "manifests/main.manifest.json"
    code, out, _ = invoke("--basedir", str(shop), "--json", "--check")
    assert code == 0 and json.loads(out)["stale"] == []


def test_command_quiet_prints_nothing_on_success(shop: Path) -> None:
    code, out, err = invoke("--basedir", str(shop), "-q")
    assert (code, out, err) == (0, "", "")


def test_command_build_error_exits_1_with_location(shop: Path) -> None:
    (shop / BASE / "b.js").write_text("var x = 'open\n")
    code, out, err = invoke("--basedir", str(shop), "--json")
    assert code == 1
    assert json.loads(out)["error"] == {
        "type": "BuildError", "message": f"{BASE}/b.js:1:9: unterminated string literal", "file": f"{BASE}/b.js",
        "line": 1, "column": 9, "frame": "> 1 | var x = 'open\n    |         ^",
    }
    assert f"{BASE}/b.js:1:9: unterminated string literal\n> 1 | var x = 'open\n    |         ^" in err


def test_command_usage_errors_exit_2(tmp_path: Path) -> None:
    assert invoke("--no-such-option")[0] == 2
    assert invoke("--basedir", str(tmp_path / "missing"))[0] == 2


def test_command_is_mounted_on_the_mendel_cli(shop: Path) -> None:
    from mendel_py.cli.main import cli

    result = CliRunner().invoke(cli, ["build", "--basedir", str(shop), "-q"])
    assert result.exit_code == 0
    assert (shop / "manifests" / "main.manifest.json").exists()


# ---------------------------------------------------------------- the repository's own example


def test_example_manifests_in_the_repository_are_up_to_date() -> None:
    """`mendel build --check` on the repository: committed manifests match examples/ sources."""
    if not (REPO_ROOT / ".mendelrc").exists() or not (REPO_ROOT / "manifests").exists():
        pytest.skip("the repository has no example project")
    config = load_config(str(REPO_ROOT))
    report = build_manifests(config, check=True, use_cache=False, minify=config.minify)  # as `mendel build`
    assert report.stale == (), "run `mendel build` at the repository root and commit manifests/"


def test_built_example_resolves_with_mendel_trees(tmp_path: Path) -> None:
    if not (REPO_ROOT / "examples" / "shop" / "src").exists():
        pytest.skip("the repository has no example project")
    from mendel_py import MendelTrees

    shutil.copy(REPO_ROOT / ".mendelrc", tmp_path / ".mendelrc")
    shutil.copytree(REPO_ROOT / "examples", tmp_path / "examples")
    build(tmp_path)
    trees = MendelTrees(str(tmp_path), hash_format="mendel-v1")
    _, chains = trees.variations_and_chains(["bucket_A"])
    tree = trees.find_tree_for_variations("main", chains)
    files = [entry["file"] for entry in tree.files]
    assert "examples/shop/src/variations/bucket_A/components/button.js" in files
    assert trees.find_tree_for_hash("main", tree.hash).hash == tree.hash
    # the entries (main.js, then the server module render.js) come after what they require
    assert [os.path.basename(file) for file in files[-2:]] == ["main.js", "render.js"]


def test_command_default_basedir_follows_the_environment(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MENDEL_BASEDIR", str(shop))
    assert invoke("-q")[0] == 0
    assert (shop / "manifests" / "main.manifest.json").exists()


def test_progress_bar_only_for_big_projects() -> None:
    import io

    from mendel_py.cli.build import ClickProgress

    small, big = io.StringIO(), io.StringIO()
    quiet_bar = ClickProgress(small, threshold=300)
    quiet_bar.start(10)
    quiet_bar.advance(10)
    quiet_bar.close()
    shown = ClickProgress(big, threshold=300)
    shown.start(1000)
    shown.advance(1000)
    shown.close()
    assert small.getvalue() == ""
    assert "Building manifests" in big.getvalue()


def test_unreadable_package_json_is_an_error_naming_it(tmp_path: Path) -> None:
    make_project(tmp_path, {
        f"{BASE}/main.js": "require('pkg')",
        "node_modules/pkg/package.json": "{broken",
    })
    with pytest.raises(BuildError) as caught:
        build(tmp_path)
    assert caught.value.file == "node_modules/pkg/package.json"
    assert caught.value.message.startswith("unreadable package.json")


def test_an_id_both_inside_and_outside_the_base_folder_is_an_error(tmp_path: Path) -> None:
    make_project(tmp_path, {
        f"{BASE}/main.js": "require('x'); require('y')",
        f"{BASE}/node_modules/x/index.js": "",
        "node_modules/y/index.js": "require('x')",
        "node_modules/x/index.js": "",
    })
    with pytest.raises(BuildError, match="names both a file in the base folder and a file outside it"):
        build(tmp_path)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"external": 5}, "`external` must be a list of package names"),
        ({"expose": 5}, "`expose` must map module ids to public names"),
    ],
)
def test_bad_bundle_options_are_errors(shop: Path, options: dict[str, object], message: str) -> None:
    import dataclasses

    from mendel_py.compiler import bundle_spec

    config = load_config(str(shop))
    bundle = dataclasses.replace(config.bundles["main"], options=options)
    with pytest.raises(BuildError, match=message) as caught:
        bundle_spec(bundle, config)
    assert caught.value.file == ".mendelrc"


def test_benchmark_script_runs_on_a_small_project(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("bench_build", REPO_ROOT / "benchmarks" / "bench_build.py")
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_build", bench)
    spec.loader.exec_module(bench)
    assert bench.main(["--files", "150", "--variations", "3", "--runs", "1"]) == 0
    out = capsys.readouterr().out
    assert "3 variations" in out
    assert "cold build:" in out and "no-change rebuild:" in out and "files/s" in out

"""Tests for `.mendelrc` discovery, both layouts, env overrides, the chain rule and every error."""
from __future__ import annotations

import dataclasses
import os
import textwrap
from pathlib import Path

import pytest

from mendel_py.config import config_from_dict, find_config_file, load_config
from mendel_py.config.model import BundleConfig, Variation, VariationSpec
from mendel_py.errors import ConfigError

CURRENT_RC = """
    base-config:
      id: base
      dir: ./src/base/
    variation-config:
      variation-dirs:
        - ./src/variations
      variations:
        bucket_A:
        feature_B:
        bucket_D:
          - partner_C
    route-config:
      hash: /mendel/:hash/:bundle
    bundles:
      main:
        manifest: manifests/main.manifest.json
        entries:
          - main.js
      css:
        manifest: manifests/css.manifest.json
        serveAs: css
"""

LEGACY_RC = """
    base: base
    basetree: ./src/base
    variationsdir: src/variations/
    variations:
      bucket_A:
      feature_B:
      bucket_D:
        - partner_C
    bundles:
      main:
        manifest: manifests/main.manifest.json
        entries:
          - main.js
      css:
        manifest: manifests/css.manifest.json
        serveAs: css
"""


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MENDEL_ENV", "NODE_ENV", "MENDELRC"):
        monkeypatch.delenv(name, raising=False)


def write_rc(folder: Path, text: str, name: str = ".mendelrc") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def make_folders(root: Path, *folders: str) -> None:
    for folder in folders:
        (root / folder).mkdir(parents=True, exist_ok=True)


def config_error(tmp_path: Path, text: str, env: str | None = None) -> ConfigError:
    write_rc(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path, env=env)
    return caught.value


# --- discovery ----------------------------------------------------------------------------


def test_config_is_found_from_a_subfolder_upwards(tmp_path: Path) -> None:
    rc = write_rc(tmp_path, CURRENT_RC)
    deep = tmp_path / "src" / "base" / "components"
    deep.mkdir(parents=True)

    assert find_config_file(deep) == str(rc)
    config = load_config(deep)
    assert config.path == str(rc)
    assert config.root == str(tmp_path)


def test_the_nearest_config_wins_and_a_folder_named_mendelrc_is_skipped(tmp_path: Path) -> None:
    write_rc(tmp_path, CURRENT_RC)
    inner = write_rc(tmp_path / "app", "base-config: {dir: lib}\n")
    (tmp_path / "app" / "src" / ".mendelrc").mkdir(parents=True)

    config = load_config(tmp_path / "app" / "src")
    assert config.path == str(inner)
    assert config.root == str(tmp_path / "app")
    assert config.base_dir == "lib"


def test_mendelrc_environment_variable_changes_the_file_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_rc(tmp_path, CURRENT_RC)
    other = write_rc(tmp_path, "base-config: {dir: other}\n", name="custom.rc")
    monkeypatch.setenv("MENDELRC", "custom.rc")

    assert load_config(tmp_path).path == str(other)


def test_missing_config_says_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MENDELRC", ".mendelrc-that-no-parent-folder-has")
    start = tmp_path / "a" / "b"
    start.mkdir(parents=True)

    assert find_config_file(start) is None
    with pytest.raises(ConfigError) as caught:
        load_config(start)
    assert str(start) in str(caught.value)
    assert "or any parent folder" in str(caught.value)


# --- layouts and defaults -----------------------------------------------------------------


def test_current_layout_is_parsed_and_normalised(tmp_path: Path) -> None:
    write_rc(tmp_path, CURRENT_RC)
    config = load_config(tmp_path)

    assert config.base_id == "base"
    assert config.base_dir == "src/base"
    assert config.variation_dirs == ("src/variations",)
    assert config.variation_specs == (
        VariationSpec("bucket_A", ("src/variations/bucket_A",)),
        VariationSpec("feature_B", ("src/variations/feature_B",)),
        VariationSpec("bucket_D", ("src/variations/bucket_D", "src/variations/partner_C")),
    )
    assert list(config.bundles) == ["main", "css"]
    assert config.bundles["main"] == BundleConfig(
        id="main",
        manifest="manifests/main.manifest.json",
        manifest_path=os.path.join(str(tmp_path), "manifests", "main.manifest.json"),
        serve_as="js",
        entries=("main.js",),
        options={},
    )
    assert config.bundles["css"].serve_as == "css"
    assert config.route == "/mendel/:hash/:bundle"
    assert config.hash_format is None
    assert config.env is None


def test_both_layouts_give_equal_configs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_rc(tmp_path, CURRENT_RC)
    write_rc(tmp_path, LEGACY_RC, name="legacy.rc")
    current = load_config(tmp_path)
    monkeypatch.setenv("MENDELRC", "legacy.rc")
    legacy = load_config(tmp_path)

    assert legacy.path == str(tmp_path / "legacy.rc")
    assert dataclasses.replace(legacy, path=None) == dataclasses.replace(current, path=None)


def test_empty_file_gives_mendel_legacy_defaults(tmp_path: Path) -> None:
    write_rc(tmp_path, "# nothing configured\n")
    config = load_config(tmp_path)

    assert (config.base_id, config.base_dir) == ("base", "base")
    assert config.variation_dirs == ("",)
    assert config.variation_specs == ()
    assert dict(config.bundles) == {}
    assert config.route == "/mendel/:hash/:bundle"


def test_current_layout_defaults(tmp_path: Path) -> None:
    write_rc(tmp_path, "variation-config:\n  variations:\n    a:\n")
    config = load_config(tmp_path)

    assert (config.base_id, config.base_dir) == ("base", "")
    assert config.variation_specs == (VariationSpec("a", ("a",)),)


def test_default_manifest_paths(tmp_path: Path) -> None:
    current = config_from_dict({"base-config": {"dir": "src"}, "bundles": {"main": None}}, tmp_path)
    built = config_from_dict({"build-dir": "out", "bundles": {"main": {}}}, tmp_path)
    outdir = config_from_dict(
        {"base-config": {"outdir": "dist"}, "bundles": {"main": {"manifest": "m.json"}, "b": {}}},
        tmp_path,
    )
    legacy = config_from_dict({"bundles": {"main": {}}}, tmp_path)
    legacy_outdir = config_from_dict(
        {"outdir": "dist", "bundlesoutdir": "bundles", "bundles": {"main": {}}}, tmp_path
    )

    assert current.bundles["main"].manifest == "build/main.manifest.json"
    assert current.bundles["main"].manifest_path == str(tmp_path / "build" / "main.manifest.json")
    assert built.bundles["main"].manifest == "out/main.manifest.json"
    assert outdir.bundles["main"].manifest_path == str(tmp_path / "dist" / "m.json")
    assert outdir.bundles["b"].manifest_path == str(tmp_path / "dist" / "b.manifest.json")
    assert legacy.bundles["main"].manifest == "mendel-build/main.manifest.json"
    assert legacy_outdir.bundles["main"].manifest_path == str(
        tmp_path / "dist" / "bundles" / "main.manifest.json"
    )


def test_camel_case_spellings_are_accepted(tmp_path: Path) -> None:
    config = config_from_dict(
        {
            "base-config": {"dir": "src/base"},
            "variation-config": {"variationDirs": "src/variations", "variations": {"a": None}},
            "bundles": {"css": {"serve-as": "css"}},
        },
        tmp_path,
    )
    assert config.variation_dirs == ("src/variations",)
    assert config.bundles["css"].serve_as == "css"


def test_bundle_options_are_kept_read_only(tmp_path: Path) -> None:
    config = config_from_dict(
        {
            "base-config": {"dir": "src/base"},
            "bundles": {
                "main": {
                    "entries": ["./src/base/main.js", ["other.js"]],
                    "outfile": "main.js",
                    "require": ["./src/base/lib.js"],
                    "expose": {"components/button.js": "button"},
                    "runtime": "browser",
                    "ignore": None,
                }
            },
        },
        tmp_path,
    )
    bundle = config.bundles["main"]

    assert bundle.entries == ("main.js", "other.js")
    assert dict(bundle.options) == {
        "outfile": "main.js",
        "require": ("./src/base/lib.js",),
        "expose": {"components/button.js": "button"},
        "runtime": "browser",
    }
    with pytest.raises(TypeError):
        bundle.options["outfile"] = "x"  # type: ignore[index]
    with pytest.raises(TypeError):
        bundle.options["expose"]["x"] = "y"  # type: ignore[index]
    with pytest.raises(TypeError):
        config.bundles["other"] = bundle  # type: ignore[index]


def test_mendel_pipeline_keys_are_accepted_and_ignored(tmp_path: Path) -> None:
    config = config_from_dict(
        {
            "base-config": {"dir": "src/base", "outdir": "build"},
            "types": {"js": {"extensions": [".js"]}},
            "transforms": {"babel": {"plugin": "mendel-transform-babel"}},
            "outlets": [{"id": "out", "plugin": "mendel-outlet-browser-pack"}],
            "bundles": {"main": {"outlet": "out", "generator": "default", "manifest": "m.json"}},
        },
        tmp_path,
    )
    assert config.bundles["main"].options == {"outlet": "out", "generator": "default"}


def test_hash_format_and_route(tmp_path: Path) -> None:
    config = config_from_dict(
        {"hash-format": "mendel-v2", "route-config": {"hash": "/static/:hash/:bundle.js"}}, tmp_path
    )
    assert config.hash_format == "mendel-v2"
    assert config.route == "/static/:hash/:bundle.js"


def test_integer_variation_names_read_as_text(tmp_path: Path) -> None:
    write_rc(tmp_path, "variations:\n  2019:\n")
    assert load_config(tmp_path).variation_specs == (VariationSpec("2019", ("2019",)),)


# --- environments ---------------------------------------------------------------------------

ENV_RC = CURRENT_RC + """
    env:
      production:
        hash-format: mendel-v1
        route-config:
          hash: /cdn/:hash/:bundle
        variation-config:
          variations:
            bucket_D:
            late_E:
        bundles:
          main:
            manifest: dist/main.manifest.json
      staging:
        hash-format: v3
"""


def test_env_argument_applies_its_overrides_deep_merged(tmp_path: Path) -> None:
    write_rc(tmp_path, ENV_RC)
    config = load_config(tmp_path, env="production")

    assert config.env == "production"
    assert config.hash_format == "mendel-v1"
    assert config.route == "/cdn/:hash/:bundle"
    assert [spec.id for spec in config.variation_specs] == [
        "bucket_A", "feature_B", "bucket_D", "late_E",
    ]
    assert config.variation_specs[2].folders == ("src/variations/bucket_D",)
    assert config.bundles["main"].manifest == "dist/main.manifest.json"
    assert config.bundles["main"].entries == ("main.js",)
    assert config.bundles["css"].serve_as == "css"
    assert config.base_dir == "src/base"


def test_mendel_env_variable_selects_the_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_rc(tmp_path, ENV_RC)
    monkeypatch.setenv("MENDEL_ENV", "staging")
    monkeypatch.setenv("NODE_ENV", "production")

    assert load_config(tmp_path).hash_format == "v3"
    assert load_config(tmp_path, env="production").hash_format == "mendel-v1"


def test_node_env_then_file_environment_then_development(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_rc(tmp_path, ENV_RC + "\n    environment: staging\n")
    assert load_config(tmp_path).env == "staging"

    monkeypatch.setenv("NODE_ENV", "production")
    assert load_config(tmp_path).env == "production"

    write_rc(tmp_path, ENV_RC.replace("staging:", "development:"))
    monkeypatch.delenv("NODE_ENV")
    assert load_config(tmp_path).env == "development"


def test_an_env_without_overrides_changes_nothing(tmp_path: Path) -> None:
    write_rc(tmp_path, ENV_RC)
    plain = load_config(tmp_path, env="test")

    assert plain.env is None
    assert plain.hash_format is None
    assert dataclasses.replace(plain, env=None) == load_config(tmp_path, env="other")


def test_a_null_override_restores_the_default(tmp_path: Path) -> None:
    config = config_from_dict(
        {"hash-format": "v3", "env": {"dev": {"hash-format": None}}}, tmp_path, env="dev"
    )
    assert config.hash_format is None


# --- chain rule -----------------------------------------------------------------------------


def test_chain_keeps_existing_folders_in_inheritance_order(tmp_path: Path) -> None:
    write_rc(tmp_path, CURRENT_RC)
    make_folders(tmp_path, "src/base", "src/variations/bucket_D", "src/variations/partner_C")
    make_folders(tmp_path, "src/variations/bucket_A")

    assert load_config(tmp_path).variations() == (
        Variation("bucket_A", ("src/variations/bucket_A", "src/base")),
        Variation(
            "bucket_D", ("src/variations/bucket_D", "src/variations/partner_C", "src/base")
        ),
    )


def test_chain_skips_missing_parents_and_drops_base_only_variations(tmp_path: Path) -> None:
    write_rc(tmp_path, CURRENT_RC)
    make_folders(tmp_path, "src/variations/partner_C")
    (tmp_path / "src/variations/feature_B").parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "src/variations/feature_B").write_text("a file, not a folder")

    assert load_config(tmp_path).variations() == (
        Variation("bucket_D", ("src/variations/partner_C", "src/base")),
    )


def test_known_folders_from_manifests_count_as_existing(tmp_path: Path) -> None:
    write_rc(tmp_path, CURRENT_RC)
    make_folders(tmp_path, "src/variations/partner_C")
    known = {"src/variations/feature_B", "src/variations/bucket_D", "src/base"}

    assert load_config(tmp_path).variations(known) == (
        Variation("feature_B", ("src/variations/feature_B", "src/base")),
        Variation(
            "bucket_D", ("src/variations/bucket_D", "src/variations/partner_C", "src/base")
        ),
    )


def test_several_variation_dirs_give_one_variation_in_dir_order(tmp_path: Path) -> None:
    config = config_from_dict(
        {
            "base-config": {"dir": "src/base"},
            "variation-config": {
                "variation-dirs": ["exp", "features"],
                "variations": {"x": ["y"], "z": None},
            },
        },
        tmp_path,
    )
    make_folders(tmp_path, "exp/y", "features/x", "features/z")

    assert config.variation_specs == (
        VariationSpec("x", ("exp/x", "exp/y", "features/x", "features/y")),
        VariationSpec("z", ("exp/z", "features/z")),
    )
    assert config.variations() == (
        Variation("x", ("exp/y", "features/x", "src/base")),
        Variation("z", ("features/z", "src/base")),
    )


def test_parent_folders_may_leave_the_variation_dir_but_base_is_never_a_candidate(
    tmp_path: Path,
) -> None:
    config = config_from_dict(
        {
            "base-config": {"dir": "src/base"},
            "variation-config": {
                "variation-dirs": ["src/variations"],
                "variations": {"a": ["../shared/common", "../base"]},
            },
        },
        tmp_path,
    )
    assert config.variation_specs == (
        VariationSpec("a", ("src/variations/a", "src/shared/common")),
    )


def test_dict_config_has_no_path_and_a_resolved_root(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = config_from_dict({"basetree": "src\\base", "variations": {"a": None}}, ".")

    assert config.path is None
    assert config.root == str(tmp_path)
    assert config.base_dir == "src/base"
    make_folders(tmp_path, "a")
    assert config.variations() == (Variation("a", ("a", "src/base")),)


# --- errors -----------------------------------------------------------------------------------


def test_folder_list_of_wrong_type_names_file_and_dotted_key(tmp_path: Path) -> None:
    error = config_error(
        tmp_path, "variation-config:\n  variations:\n    bucket_D: partner_C\n"
    )
    rc = str(tmp_path / ".mendelrc")
    assert str(error) == (
        f"{rc}: variation-config.variations.bucket_D: expected a list of folder names"
    )
    assert (error.path, error.key) == (rc, "variation-config.variations.bucket_D")


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ("bogus: 1\n", "bogus", "unknown key"),
        ("base-config:\n  bogus: 1\n", "base-config.bogus", "unknown key"),
        ("bundles:\n  main:\n    bogus: 1\n", "bundles.main.bogus", "unknown key"),
        ("route-config:\n  bogus: 1\n", "route-config.bogus", "unknown key"),
        ("base-config: {dir: a}\nbasetree: b\n", "basetree", "use one layout"),
        ("variation-config: [a, b]\n", "variation-config", "expected a mapping"),
        ("variation-config:\n  variations: [a, b]\n", "variation-config.variations",
         "expected a mapping of variation names"),
        ("variations:\n  a: [b, 3]\n", "variations.a", "expected a list of folder names"),
        ("bundles: [main]\n", "bundles", "expected a mapping"),
        ("bundles:\n  main: yes\n", "bundles.main", "expected a mapping"),
        ("bundles:\n  main:\n    manifest: [a]\n", "bundles.main.manifest",
         "expected a non-empty string"),
        ("bundles:\n  main:\n    entries: main.js\n", "bundles.main.entries",
         "expected a list of strings"),
        ("bundles:\n  main:\n    serveAs: html\n", "bundles.main.serveAs", "expected one of"),
        ("bundles:\n  main:\n    expose: [a]\n", "bundles.main.expose", "expected a mapping"),
        ("bundles:\n  main:\n    manifest: ../../m.json\n", "bundles.main.manifest",
         "outside the project root"),
        ("bundles:\n  ../../x: {}\n", "bundles.../../x", "outside the project root"),
        ("hash-format: v9\n", "hash-format", "expected one of 'v3', 'mendel-v1', 'mendel-v2'"),
        ("route-config:\n  hash: /mendel/:bundle\n", "route-config.hash", ":hash and :bundle"),
        ("route-config:\n  hash: mendel/:hash/:bundle\n", "route-config.hash", ":hash and :bundle"),
        ("base-config:\n  id: ''\n", "base-config.id", "expected a non-empty string"),
        ("base-config:\n  dir: /srv/app/src\n", "base-config.dir", "relative to the project root"),
        ("base-config:\n  dir: C:\\app\n", "base-config.dir", "relative to the project root"),
        ("base-config:\n  dir: ../elsewhere\n", "base-config.dir", "outside the project root"),
        ("variationsdir: a/../../b\n", "variationsdir", "outside the project root"),
        ("variation-config:\n  variation-dirs: [3]\n", "variation-config.variation-dirs",
         "expected a folder or a list of folders"),
        ("variations:\n  a: [/abs]\n", "variations.a", "relative to the project root"),
        ("variations:\n  a: [../../../x]\n", "variations.a", "outside the project root"),
        ("variations:\n  base:\n", "variations.base", "can't be named like the base"),
        ("base: app\nvariations:\n  app:\n", "variations.app", "can't be named like the base"),
        ("variations:\n  true:\n", "variations", "keys must be non-empty strings"),
        ("base-config:\n  dir: a\nvariation-config:\n  variationDirs: [a]\n  variation-dirs: [b]\n",
         "variation-config.variation-dirs", "given twice"),
        ("env: [production]\n", "env", "expected a mapping of environment names"),
        ("env:\n  production: 3\n", "env.production", "expected a mapping"),
        ("base-config: {dir: a}\nenv:\n  production:\n    basetree: b\n",
         "env.production.basetree", "use one layout"),
        ("env:\n  production:\n    env: {}\n", "env.production.env", "unknown key"),
        ("env:\n  other:\n    bundles:\n      main:\n        manifest: 3\n",
         "env.other.bundles.main.manifest", "expected a non-empty string"),
    ],
)
def test_config_errors_name_file_and_key(tmp_path: Path, text: str, key: str, message: str) -> None:
    error = config_error(tmp_path, text)
    assert error.path == str(tmp_path / ".mendelrc")
    assert error.key == key
    assert message in str(error)
    assert str(error).startswith(f"{error.path}: {key}: ")


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    error = config_error(tmp_path, "- a\n- b\n")
    assert error.key is None
    assert str(error) == f"{tmp_path / '.mendelrc'}: expected a mapping at the top level"


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    error = config_error(tmp_path, "base-config:\n  id: base\n  dir: [src\nbundles: {}\n")
    assert error.path == str(tmp_path / ".mendelrc")
    assert "invalid YAML at line 4" in str(error)


def test_duplicate_yaml_key_is_an_error_with_its_line(tmp_path: Path) -> None:
    error = config_error(tmp_path, "variations:\n  a:\n  b:\n  a:\n")
    assert "line 4" in str(error)
    assert "duplicate key 'a'" in str(error)


def test_yaml_merge_keys_may_be_overridden_without_a_duplicate_error(tmp_path: Path) -> None:
    write_rc(
        tmp_path,
        """
        bundles:
          main: &defaults
            manifest: manifests/main.manifest.json
            entries: [main.js]
          css:
            <<: *defaults
            manifest: manifests/css.manifest.json
            serveAs: css
        """,
    )
    css = load_config(tmp_path).bundles["css"]
    assert (css.manifest, css.entries, css.serve_as) == (
        "manifests/css.manifest.json", ("main.js",), "css",
    )


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / ".mendelrc").write_bytes(b"base: \xff\xfe\n")
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert caught.value.path == str(tmp_path / ".mendelrc")
    assert "can't read the file" in str(caught.value)


def test_dict_errors_name_the_source(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_dict({"variations": {"a": "b"}}, tmp_path, source="app.config")
    assert str(caught.value) == "app.config: variations.a: expected a list of folder names"

    with pytest.raises(ConfigError) as caught:
        config_from_dict(["not", "a", "mapping"], tmp_path)  # type: ignore[arg-type]
    assert str(caught.value) == "<dict>: expected a mapping at the top level"


# --- SPEC §1 (2026-12): a folder that exists nowhere is an error ----------------------------


def _project(tmp_path: Path, rc: str, folders: tuple[str, ...] = ("src/base", "src/variations/bucket_A")) -> Path:
    for folder in folders:
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
    (tmp_path / ".mendelrc").write_text(rc)
    return tmp_path


def test_check_variations_names_every_missing_folder_once_with_a_close_name(tmp_path: Path) -> None:
    from mendel_py.config.model import MissingVariationFolder, VariationProblems

    rc = (
        "base-config:\n  dir: ./src/base\nvariation-config:\n  variation-dirs: [./src/variations]\n"
        "  variations:\n    bucket_A:\n    bucket_D:\n      - bucket_AA\n    ghost_test:\n"
    )
    config = load_config(_project(tmp_path, rc, ("src/base", "src/variations/bucket_A", "src/variations/bucket_D")))
    assert [v.id for v in config.variations()] == ["bucket_A", "bucket_D"]  # the query never fails
    with pytest.raises(VariationProblems) as raised:
        config.check_variations()
    problems = raised.value.problems
    assert [type(p) for p in problems] == [MissingVariationFolder, MissingVariationFolder]
    assert "inherits 'bucket_AA'" in str(problems[0]) and "did you mean 'bucket_A'?" in str(problems[0])
    assert problems[1].variation == "ghost_test" and problems[1].key == "variation-config.variations.ghost_test"
    assert str(raised.value).count("\n") == 1  # one line each


def test_folders_named_by_loaded_manifests_count_and_deliberately_empty_exempts(tmp_path: Path) -> None:
    rc = (
        "base-config:\n  dir: ./src/base\nvariation-config:\n  variation-dirs: [./src/variations]\n"
        "  variations:\n    bucket_A:\n    server_only:\n  deliberately-empty: [server_only]\n"
    )
    config = load_config(_project(tmp_path, rc, ()))  # a deploy with manifests only
    known = {"src/base", "src/variations/bucket_A"}
    assert [v.id for v in config.check_variations(known)] == ["bucket_A"]
    assert config.empty_variations == frozenset({"server_only"})


def test_the_legacy_layout_marks_empty_variations_at_the_top_level(tmp_path: Path) -> None:
    rc = "basetree: base\nvariationsdir: variations\nvariations:\n  quiet:\ndeliberately-empty: quiet\n"
    config = load_config(_project(tmp_path, rc, ("base", "variations")))
    assert config.check_variations() == ()
    assert config.keys["empty"] == "deliberately-empty"


def test_a_missing_base_or_variation_dir_says_the_folder_does_not_exist(tmp_path: Path) -> None:
    from mendel_py.config.model import VariationProblems

    rc = (
        "base-config:\n  dir: ./src/bsae\nvariation-config:\n  variation-dirs: [./src/experimnts]\n"
        "  variations:\n    bucket_A:\n"
    )
    config = load_config(_project(tmp_path, rc, ("src/base", "src/experiments/bucket_A")))
    with pytest.raises(VariationProblems) as raised:
        config.check_variations()
    lines = str(raised.value).splitlines()
    assert len(lines) == 2  # the variation under the missing dir is not reported again
    assert "the base folder 'src/bsae' does not exist (did you mean 'src/base'?)" in lines[0]
    assert "'src/experimnts' does not exist (did you mean 'src/experiments'?)" in lines[1]


def test_config_id_names_the_project_not_the_checkout(tmp_path: Path) -> None:
    rc = "base-config:\n  dir: ./src/base\nvariation-config:\n  variation-dirs: [./src/variations]\n  variations:\n    bucket_A:\n"
    one = load_config(_project(tmp_path / "one", rc))
    two = load_config(_project(tmp_path / "two", rc))
    other = load_config(_project(tmp_path / "other", rc.replace("bucket_A", "bucket_B"), ("src/base", "src/variations/bucket_B")))
    assert one.config_id == two.config_id != other.config_id

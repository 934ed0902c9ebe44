"""The README's examples work as written: its `.mendelrc` loads and its shell lines run."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from e2e_support import REPO, build_example_project
from mendel_py.config import config_from_dict

README = (REPO / "README.md").read_text(encoding="utf-8")


def fenced(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, re.S)


def test_the_annotated_mendelrc_is_valid(tmp_path: Path) -> None:
    [example] = [block for block in fenced(" *yaml") if "base-config" in block]
    config = config_from_dict(yaml.safe_load(example), root=tmp_path)
    assert [spec.id for spec in config.variation_specs] == ["bucket_A", "bucket_D"]
    assert config.bundle_path("css", "H") == "/mendel/H/css.css"


def test_the_mendel_command_examples_run(tmp_path: Path) -> None:
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    project = build_example_project(tmp_path)
    [block] = [block for block in fenced("sh") if "mendel decode" in block]
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]}
    result = subprocess.run(["bash", "-euc", block], cwd=project, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "OK: config and 2 bundle manifests valid" in result.stdout
    assert "Keyed" in result.stdout and "MODULE" in result.stdout  # decode walked the bundle


def test_the_table_of_settings_is_the_one_the_code_has() -> None:
    from mendel_py.serving.options import settings_table

    table = re.search(r"<!-- settings:[^\n]*-->\n(.*?)<!-- /settings -->", README, re.S)
    assert table is not None and table.group(1) == settings_table(), (
        "README's table of settings differs: paste mendel_py.serving.options.settings_table()"
    )

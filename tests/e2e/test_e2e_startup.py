"""Start-up faults under gunicorn (preload, as examples/gunicorn.conf.py): one line, exit 1."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from e2e_support import GUNICORN_CONF, REPO, build_example_project, free_port

MAIN = Path("manifests/main.manifest.json")


def truncate(project: Path) -> None:
    path = project / MAIN
    path.write_text(path.read_text()[:300])


def dangle(project: Path) -> None:
    path = project / MAIN
    data = json.loads(path.read_text())
    data["bundles"][data["indexes"]["main.js"]]["data"][0]["deps"]["./gone"] = "gone.js"
    path.write_text(json.dumps(data))


def tamper(project: Path) -> None:
    path = project / MAIN
    data = json.loads(path.read_text())
    data["bundles"][data["indexes"]["main.js"]]["data"][0]["source"] += "alert(1);"
    path.write_text(json.dumps(data))


def unknown_key(project: Path) -> None:
    rc = project / ".mendelrc"
    rc.write_text(rc.read_text() + "surprise: 1\n")


def unbuilt(project: Path) -> None:
    shutil.rmtree(project / "manifests")  # the manifests and the generation store


def corrupt_current(project: Path) -> None:
    """A byte of the CURRENT generation's stored manifest flipped after publishing."""
    store = project / "manifests" / "generations"
    path = store / (store / "CURRENT").read_text().strip() / "main.manifest.json"
    data = bytearray(path.read_bytes())
    data[data.index(b'"source"') + 12] ^= 1
    path.write_bytes(bytes(data))


FAULTS: dict[str, tuple[Callable[[Path], None], list[str]]] = {
    "truncated manifest": (truncate, ["manifests/main.manifest.json", "invalid JSON"]),
    "dangling dependency": (dangle, ["manifests/main.manifest.json", '("main.js")', '"gone.js" is not in indexes']),
    "tampered manifest": (tamper, ["manifests/main.manifest.json", '("main.js")', "does not match its source"]),
    "unknown .mendelrc key": (unknown_key, [".mendelrc", "surprise", "unknown key"]),
    "no build yet": (unbuilt, ["manifests/", "run `mendel build`"]),
    "corrupt current generation": (corrupt_current, ["manifests/generations", "does not match its id"]),
}
DISK_FAULTS = ("truncated manifest", "dangling dependency", "tampered manifest")
"""Faults of the manifests on disk: they are what a server serves without a generation store (with
one, a server serves CURRENT and never reads its disk: only the deploy step checks those)."""


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_example_project(tmp_path_factory.mktemp("shop"))


@pytest.mark.parametrize("fault", list(FAULTS))
def test_start_up_fault_is_one_line_and_exit_1(built: Path, tmp_path: Path, fault: str) -> None:
    project = tmp_path / "shop"
    subprocess.run(["cp", "-r", str(built), str(project)], check=True)
    break_it, needles = FAULTS[fault]
    break_it(project)
    env = {**os.environ, "MENDEL_BIND": f"127.0.0.1:{free_port()}", "SHOP_MENDEL_BASEDIR": str(project)}
    if fault in DISK_FAULTS:
        env["MENDEL_GENERATIONS"] = "off"
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and lines[0].startswith("Error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert "Traceback" not in result.stderr and len(lines) == 1, result.stderr

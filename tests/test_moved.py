"""The 0.1 module paths: the moved ones import as their new module with a DeprecationWarning,
CHANGES.md lists every one, and the public paths the README names import without a warning."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from mendel_py._moved import MOVED

REPO = Path(__file__).resolve().parent.parent
PUBLIC = (
    "mendel_py", "mendel_py.trees", "mendel_py.wsgi", "mendel_py.flask", "mendel_py.prefork",
    "mendel_py.hashcodec", "mendel_py.assign", "mendel_py.exposures", "mendel_py.errors",
    "mendel_py.config", "mendel_py.experiments", "mendel_py.qa", "mendel_py.dev", "mendel_py.cli",
    "mendel_py.compiler",
)


@pytest.mark.parametrize("old", sorted(MOVED))
def test_a_moved_path_is_the_new_module_with_a_warning(old: str) -> None:
    new = importlib.import_module(MOVED[old])
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=f"{old} moved to {MOVED[old]}"):
        module = importlib.import_module(old)
    assert module is new
    assert module.__spec__ is not None and module.__spec__.name == MOVED[old], "the real module keeps its spec"


def test_a_patch_through_an_old_path_patches_the_real_module() -> None:
    from unittest import mock

    from mendel_py.core import walk

    sys.modules.pop("mendel_py.walk", None)  # an earlier test may have imported it already
    with pytest.warns(DeprecationWarning):
        with mock.patch("mendel_py.walk.ACCELERATED", "patched"):
            assert walk.ACCELERATED == "patched"


def test_changes_lists_every_move() -> None:
    changes = (REPO / "CHANGES.md").read_text()
    missing = [old for old, new in MOVED.items() if f"| `{old}` | `{new}` |" not in changes]
    assert missing == []


def test_the_public_paths_import_without_a_warning() -> None:
    # a fresh interpreter: this one imported some of them already
    code = "import importlib\n" + "".join(f"importlib.import_module({name!r})\n" for name in PUBLIC)
    result = subprocess.run([sys.executable, "-W", "error::DeprecationWarning", "-c", code],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr

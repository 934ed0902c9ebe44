from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from factory import write_project  # noqa: E402


@pytest.fixture
def sample_project(tmp_path: Path) -> Path:
    """A small project: .mendelrc with four variations (bucket_D inherits partner_C), two bundles.

    The variation folders exist only as names in the manifests (no source folders on disk).
    """
    return write_project(tmp_path)

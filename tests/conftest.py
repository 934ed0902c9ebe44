from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client, TestResponse

# The shared helpers (tests/helpers: factory, e2e_support, build_support, fakes, ...) import as
# top-level modules; gunicorn children find big_app there too (`--pythonpath`).
sys.path.insert(0, str(Path(__file__).parent / "helpers"))

from factory import write_project  # noqa: E402

E2E = Path(__file__).parent / "e2e"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/e2e is marked `e2e`, so `pytest -m "not e2e"` runs the unit suite."""
    for item in items:
        if item.path.is_relative_to(E2E):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
def sample_project(tmp_path: Path) -> Path:
    """A small project: .mendelrc with four variations (bucket_D inherits partner_C), two bundles.

    The variation folders exist only as names in the manifests (no source folders on disk).
    """
    return write_project(tmp_path)


@pytest.fixture(scope="session", autouse=True)
def mendel_secret() -> Iterator[str]:
    """The example project configures experiments, and a server with experiments needs a secret
    to sign sticky assignments (`MENDEL_SECRET`); the suite runs with one, so tests about other
    things build their middleware as before. Tests of the missing-secret refusal delete it."""
    previous = os.environ.get("MENDEL_SECRET")
    os.environ["MENDEL_SECRET"] = previous or "mendel-test-suite-secret"
    yield os.environ["MENDEL_SECRET"]
    if previous is None:
        os.environ.pop("MENDEL_SECRET", None)


@pytest.fixture(autouse=True)
def close_test_client_responses(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each response of werkzeug's test client is closed when its test ends, as a WSGI server
    closes each response it sent. Unbuffered (the client's default), a response is otherwise
    never closed, and a stored bundle served through `wsgi.file_wrapper` would leave its file
    open for the garbage collector (a ResourceWarning, an error under `filterwarnings`)."""
    responses: list[TestResponse] = []
    client_open = Client.open

    def open_and_keep(self: Client, *args: Any, **kwargs: Any) -> TestResponse:
        response = client_open(self, *args, **kwargs)
        responses.append(response)
        return response

    monkeypatch.setattr(Client, "open", open_and_keep)
    yield
    for response in responses:
        response.close()

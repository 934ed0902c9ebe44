"""The deploy step killed (SIGKILL, through MENDEL_FAULT_POINT) at each of its writes: CURRENT stays
where it was, nothing half-written is ever visible in the store or served, and the next deploy
completes. The build runs as `mendel build` in a child process, as on a deploy host."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from werkzeug.test import Client

from e2e_support import build_example_project
from mendel_py.config import load_config
from mendel_py.core.trees import MendelTrees
from mendel_py.deploy.publish import TEMP_MAX_AGE, PublishingStore
from mendel_py.serving.wsgi import MendelMiddleware

CART = Path("examples/shop/src/base/components/cart.js")
MAIN_CSS = Path("examples/shop/src/base/styles/main.css")
MANIFESTS = ("main.manifest.json", "css.manifest.json")
# every write of `mendel build`, in the order it makes them (a JS and a CSS change: two manifests)
FAULT_POINTS = (
    *(f"manifest-written:{name}" for name in MANIFESTS),
    *(f"manifest-renamed:{name}" for name in MANIFESTS),
    "store-file:mendelrc",
    *(f"store-file:{name}" for name in MANIFESTS),
    "store-staged",
    "store-published",
    "current",
)
# code, not comments: `mendel build` minifies, which drops comments
JS_MARK = b"window.releaseTwo=2;"
CSS_MARK = b".release-two{color:red}"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_example_project(tmp_path_factory.mktemp("built"))


def change_sources(project: Path) -> None:
    with open(project / CART, "ab") as f:
        f.write(b"\n" + JS_MARK + b"\n")
    with open(project / MAIN_CSS, "ab") as f:
        f.write(b"\n" + CSS_MARK + b"\n")


def mendel_build(project: Path, fault: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MENDEL_FAULT_POINT": fault or ""}
    return subprocess.run(
        [sys.executable, "-m", "mendel_py", "build", "--quiet", "--basedir", str(project)],
        capture_output=True, text=True, env=env, timeout=120,
    )


def page(environ, start_response):  # type: ignore[no-untyped-def]
    resolver = environ["mendel"]
    resolver.set_variations(["bucket_A"])  # not an experiment's random assignment
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [" ".join(resolver.bundle_url(b) for b in ("main", "css")).encode()]


def served_bundles(project: Path) -> tuple[str | None, bytes, bytes]:
    """(generation, main bundle, css bundle) as a freshly started server serves them."""
    middleware = MendelMiddleware(page, str(project), reload_interval=None)
    client = Client(middleware)
    main_url, css_url = client.get("/").get_data(as_text=True).split()
    main, css = client.get(main_url), client.get(css_url)
    assert main.status_code == css.status_code == 200
    return middleware.trees.generation, main.data, css.data


@pytest.mark.parametrize("fault", FAULT_POINTS)
def test_a_build_killed_at_each_write_changes_nothing_served(built: Path, tmp_path: Path, fault: str) -> None:
    project = tmp_path / "p"
    shutil.copytree(built, project)
    store = PublishingStore.for_config(load_config(project))
    old = store.current_id()
    old_served = served_bundles(project)
    assert JS_MARK not in old_served[1] and CSS_MARK not in old_served[2]
    change_sources(project)

    killed = mendel_build(project, fault)
    assert killed.returncode == -signal.SIGKILL, (fault, killed.stdout, killed.stderr)

    assert store.current_id() == old  # CURRENT only moves as the very last step
    for info in store.list():  # whatever is visible in the store is complete and matches its id
        store.verify(info.id)
    assert served_bundles(project) == old_served  # a restarted server: the old set, whole
    on_disk = {name: (project / "manifests" / name).read_bytes() for name in MANIFESTS}
    for data in on_disk.values():
        json.loads(data)  # never a half-written file
    new_on_disk = [name for name, data in on_disk.items() if (JS_MARK if "main" in name else CSS_MARK) in data]
    if fault.startswith("manifest-written:"):
        assert new_on_disk == []  # killed while writing: no manifest replaced yet
    if fault == "manifest-renamed:main.manifest.json":
        assert new_on_disk == ["main.manifest.json"]  # the renames' window (nothing serves disk)
    leftovers = [name for name in os.listdir(store.path) if name.startswith(".tmp-")] if os.path.isdir(store.path) else []
    assert store.prune(temp_max_age=0) == []
    assert not [name for name in os.listdir(store.path) if name.startswith(".tmp-")]
    assert set(store.leftovers_removed) == set(leftovers)

    done = mendel_build(project)  # the next deploy completes
    assert done.returncode == 0, done.stderr
    new = store.current_id()
    generation, main, css = served_bundles(project)
    assert new != old and generation == new and JS_MARK in main and CSS_MARK in css


def test_leftovers_are_only_removed_past_a_safe_age(built: Path, tmp_path: Path) -> None:
    project = tmp_path / "p"
    shutil.copytree(built, project)
    change_sources(project)
    assert mendel_build(project, "store-staged").returncode == -signal.SIGKILL
    store = PublishingStore.for_config(load_config(project))
    [staging] = [name for name in os.listdir(store.path) if name.startswith(".tmp-")]
    store.prune()  # a build could still be writing it: kept
    assert os.path.isdir(os.path.join(store.path, staging)) and TEMP_MAX_AGE >= 600
    MendelTrees(str(project))  # a server never lists it as a generation
    assert staging not in [info.id for info in store.list()]

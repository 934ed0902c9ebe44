"""Experiments in the example shop under gunicorn: unit cookie, stable URLs, cookie-free bundles,
QA links that work when signed and are ignored (never an error page) when not, a forged-cookie
corpus that changes no assignment and records no exposure, and every misconfiguration stopping
gunicorn at start-up with one line."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e_support import (
    GUNICORN_CONF,
    REPO,
    Server,
    build_example_project,
    free_port,
    http_get,
    running_gunicorn,
)
from mendel_py.config import load_config
from mendel_py.deploy.publish import publish_project
from mendel_py.experiments import experiment_set
from mendel_py.qa.tokens import sign_qa_token
from mendel_py.serving.request import sign_sticky

SECRET = "e2e-experiments-secret"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_example_project(tmp_path_factory.mktemp("shop"))


@pytest.fixture(scope="module")
def exposure_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("exposures") / "exposures.jsonl"


@pytest.fixture(scope="module")
def server(project: Path, exposure_log: Path) -> Iterator[Server]:
    env = {"SHOP_SECRET_KEY": SECRET, "MENDEL_EXPOSURE_LOG": str(exposure_log)}
    with running_gunicorn(project, extra_env=env) as running:
        yield running


def qa_token(project: Path, names: list[str], ttl: int = 3600, secret: str = SECRET, **options) -> str:
    return sign_qa_token(secret, names, ttl, project=load_config(project).config_id, **options)


def script_url(html: str) -> str:
    return re.search(r'<script src="(/mendel/[^"]+)"', html).group(1)


def cookie_pairs(set_cookie: str | None) -> dict[str, str]:
    pairs = {}
    for part in re.split(r",\s*(?=[A-Za-z_]+=)", set_cookie or ""):
        name, _, rest = part.partition("=")
        if name:
            pairs[name.strip()] = rest.split(";")[0]
    return pairs


def test_new_visitor_gets_a_unit_and_keeps_its_url(server: Server) -> None:
    first = http_get(server.url + "/")
    assert first.status == 200
    cookies = cookie_pairs(first.header("set-cookie"))
    assert "mendel_uid" in cookies and "mendel_sticky" in cookies
    assert "HttpOnly" in first.header("set-cookie") and "SameSite=Lax" in first.header("set-cookie")
    assert "private" in first.header("cache-control") and "Cookie" in first.header("vary")
    html = first.body.decode()
    assert "Chosen by experiment assignment" in html
    jar = "; ".join(f"{k}={v}" for k, v in cookies.items())
    urls = {script_url(http_get(server.url + "/", {"Cookie": jar}).body.decode()) for _ in range(5)}
    assert urls == {script_url(html)}
    bundle = http_get(server.url + script_url(html), {"Cookie": jar})
    assert bundle.status == 200 and bundle.header("set-cookie") is None
    assert "public" in bundle.header("cache-control") and "Cookie" not in (bundle.header("vary") or "")


def test_start_up_says_once_where_exposures_go(server: Server, exposure_log: Path) -> None:
    server.output.wait_for("no on_exposure callback is registered")
    lines = [line for line in server.output.text().splitlines() if "no on_exposure callback" in line]
    assert len(lines) == 1 and str(exposure_log) in lines[0]  # the preloaded master, not each worker


def test_different_units_spread_over_variations(server: Server) -> None:
    urls = {script_url(http_get(server.url + "/", {"Cookie": f"mendel_uid=visitor{i:04d}xx"}).body.decode()) for i in range(40)}
    assert len(urls) >= 3  # two layers, five variation combinations


def test_qa_links_force_variations_and_bad_ones_are_ignored(server: Server, project: Path) -> None:
    token = qa_token(project, ["bucket_D", "feature_C"])
    forced = http_get(server.url + f"/?mendel_qa={token}")
    assert forced.status == 200
    assert '<span id="active-variations">bucket_D, feature_C</span>' in forced.body.decode()
    assert "Chosen by a signed QA link" in forced.body.decode()
    for bad in (token[:-2] + "xx", qa_token(project, ["bucket_D"], secret="another secret"),
                qa_token(project, ["bucket_D"], 1, now=1_000_000_000),
                sign_qa_token(SECRET, ["bucket_D"], 3600, project="another-deployment")):
        ignored = http_get(server.url + f"/?mendel_qa={bad}", {"Cookie": "mendel_uid=steadyvisitor01"})
        assert ignored.status == 200
        assert "Chosen by experiment assignment" in ignored.body.decode()
    server.output.wait_for("QA token")


# --------------------------------------------------------------------------- forged cookies


def units_in(project: Path, arms: dict[str, str | None], count: int) -> list[str]:
    """`count` unit ids the project's experiments put in `arms` ({experiment: variation})."""
    experiments = experiment_set(load_config(project))
    found = []
    for i in range(20000):
        unit = f"forgery{i:06d}"
        got = {a.experiment: a.variation for a in experiments.assign(unit)}
        if all(got.get(key, "absent") == arm for key, arm in arms.items()):
            found.append(unit)
            if len(found) == count:
                return found
    raise AssertionError(f"not {count} units in {arms}")


def exposures_of(log: Path, unit: str) -> list[dict]:
    if not log.exists():
        return []
    return [line for line in map(json.loads, log.read_text().splitlines()) if line["unit"] == unit]


def active(html: str) -> str:
    return re.search(r'<span id="active-variations">([^<]*)</span>', html).group(1)


FORGED_STICKY = {
    "unsigned": lambda unit: "button-look.0.1|extras.0.1",
    "unsigned, both arms of one layer": lambda unit: "button-look.0.1|button-look.0.2|extras.0.1",
    "re-signed with another key": lambda unit: sign_sticky("not-the-secret", unit, {"button-look": (0, 1), "extras": (0, 1)}),
    "another unit's signed record": lambda unit: sign_sticky(SECRET, "someone-else-0001", {"button-look": (0, 1), "extras": (0, 1)}),
    "an arm outside the weights": lambda unit: sign_sticky(SECRET, unit, {"button-look": (0, 7), "extras": (0, 5)}),
    "a bucket version the config never had": lambda unit: sign_sticky(SECRET, unit, {"button-look": (9, 1), "extras": (9, 1)}),
    "not even text": lambda unit: "%ff%fe" * 20,
}


def test_a_forged_sticky_cookie_corpus_changes_no_assignment_and_records_no_exposure(
    server: Server, project: Path, exposure_log: Path
) -> None:
    """Units the experiments put in control of both layers claim treatment arms: the page stays
    base, and the only exposures recorded are their true (control) arms."""
    units = units_in(project, {"button-look": None, "extras": None}, len(FORGED_STICKY))
    for unit, (case, forge) in zip(units, sorted(FORGED_STICKY.items())):
        response = http_get(server.url + "/", {"Cookie": f"mendel_uid={unit}; mendel_sticky={forge(unit)}"})
        assert response.status == 200, case
        assert active(response.body.decode()) == "none (base)", case
        sticky = re.search(r"mendel_sticky=([^;]+)", response.header("set-cookie") or "")
        assert sticky, case  # replaced by the server's own signed record
    server.output.text()
    for unit, case in zip(units, sorted(FORGED_STICKY)):
        recorded = exposures_of(exposure_log, unit)
        assert {line["variation"] for line in recorded} == {None}, (case, recorded)  # control, as assigned
        assert {line["experiment"] for line in recorded} == {"button-look", "extras"}, case
        assert len(recorded) == len({line["experiment"] for line in recorded}), case  # once each


def test_a_plain_variations_cookie_never_makes_an_exposure(server: Server, project: Path, exposure_log: Path) -> None:
    """The shop is a demo with the visitor-choice opt-in: the picker's cookie decides outright,
    keeps its name and behaviour, and counts for no experiment."""
    units = units_in(project, {"button-look": "bucket_A", "extras": "feature_C"}, 4)
    for unit, forged in zip(units, ["bucket_D", "bucket_A,bucket_B", "", "feature_C"]):
        response = http_get(server.url + "/", {"Cookie": f"mendel_uid={unit}; mendel_variations={forged}"})
        html = response.body.decode()
        assert 'id="demo-notice"' in html and "Demo:" in html
        assert "Chosen by the variations cookie" in html
        assert exposures_of(exposure_log, unit) == []
    # the picker still sets that cookie
    picked = http_get(server.url + "/variations", method="POST", form={"look": "bucket_D"})
    assert picked.status == 303 and "mendel_variations=bucket_D" in picked.header("set-cookie")


def test_bots_get_control_and_no_exposure(server: Server, project: Path, exposure_log: Path) -> None:
    [unit] = units_in(project, {"button-look": "bucket_A", "extras": "feature_C"}, 1)
    urls = set()
    for _ in range(3):
        crawled = http_get(server.url + "/", {"User-Agent": "Mozilla/5.0 (compatible; Googlebot/2.1)", "Cookie": f"mendel_uid={unit}"})
        assert crawled.status == 200 and active(crawled.body.decode()) == "none (base)"
        assert "mendel_uid" not in (crawled.header("set-cookie") or "")
        urls.add(script_url(crawled.body.decode()))
    assert len(urls) == 1 and exposures_of(exposure_log, unit) == []
    person = http_get(server.url + "/", {"Cookie": f"mendel_uid={unit}"})  # no User-Agent header tweak
    assert active(person.body.decode()) == "bucket_A, feature_C"


def test_a_real_visitor_is_exposed_once_per_experiment(server: Server, project: Path, exposure_log: Path) -> None:
    [unit] = units_in(project, {"button-look": "bucket_A", "extras": "feature_C"}, 1)
    first = http_get(server.url + "/", {"Cookie": f"mendel_uid={unit}"})
    jar = f"mendel_uid={unit}; mendel_sticky={re.search(r'mendel_sticky=([^;]+)', first.header('set-cookie')).group(1)}"
    for _ in range(10):
        assert http_get(server.url + "/", {"Cookie": jar}).status == 200
    recorded = exposures_of(exposure_log, unit)
    # two workers may each record one within the window (the dedup is per worker)
    per_experiment = {key: [line for line in recorded if line["experiment"] == key] for key in ("button-look", "extras")}
    assert all(1 <= len(lines) <= 2 for lines in per_experiment.values()), recorded
    assert {(line["experiment"], line["variation"]) for line in recorded} == {("button-look", "bucket_A"), ("extras", "feature_C")}


def test_a_stopped_experiment_ignores_records_and_makes_no_exposure(
    project: Path, tmp_path: Path
) -> None:
    stopped = Path(shutil.copytree(project, tmp_path / "stopped"))
    rc = stopped / ".mendelrc"
    rc.write_text(rc.read_text().replace(
        "    variations: [control, bucket_A, bucket_B]\n",
        "    variations: [control, bucket_A, bucket_B]\n    status: stopped\n    winner: control\n",
    ))
    publish_project(load_config(stopped))  # the deploy step: servers only follow CURRENT
    log = tmp_path / "exposures.jsonl"
    units = units_in(stopped, {"button-look": None, "extras": None}, 3)  # (the winner: control)
    with running_gunicorn(stopped, extra_env={"SHOP_SECRET_KEY": SECRET, "MENDEL_EXPOSURE_LOG": str(log)}) as running:
        for unit in units:
            for sticky in ("button-look.0.1", sign_sticky(SECRET, unit, {"button-look": (0, 1)})):
                page = http_get(running.url + "/", {"Cookie": f"mendel_uid={unit}; mendel_sticky={sticky}"})
                assert page.status == 200 and "bucket_A" not in active(page.body.decode())
    for unit in units:
        # never button-look (stopped: its winner is no exposure); extras at most once per worker
        recorded = [line["experiment"] for line in exposures_of(log, unit)]
        assert set(recorded) <= {"extras"} and len(recorded) <= 2, recorded


# --------------------------------------------------------------------------- start-up


def gunicorn_start(project: Path, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Start the shop under gunicorn and expect it to stop (a misconfiguration)."""
    import os

    env = {**os.environ, "MENDEL_BIND": f"127.0.0.1:{free_port()}", "SHOP_MENDEL_BASEDIR": str(project),
           "SHOP_SECRET_KEY": SECRET, **(extra_env or {})}
    env.pop("MENDEL_SECRET", None)
    return subprocess.run([sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=90)


STARTUP_MISCONFIGURATIONS = {
    "a variation with no folder": ("    feature_C:\n", "    feature_C:\n    ghost_test:\n", "variation 'ghost_test' has no folder"),
    "a typo in variation-dirs": ("./examples/shop/src/variations", "./examples/shop/src/experimnts",
                                 "'examples/shop/src/experimnts' does not exist (did you mean 'examples/shop/src/variations'?)"),
    "a typo in an inheritance list": ("      - bucket_A\n", "      - bucket_AA\n", "inherits 'bucket_AA'"),
    "a wrong base folder": ("dir: ./examples/shop/src/base", "dir: ./examples/shop/src/bsae",
                            "the base folder 'examples/shop/src/bsae' does not exist"),
    "an arm that overrides nothing": ("    variations: [control, feature_C]\n    weights: [0.5, 0.5]\n",
                                      "    variations: [control, feature_C, bucket_E]\n",
                                      "arm 'bucket_E' overrides nothing in any bundle"),
}


def only_a_template(project: Path) -> None:
    """bucket_E: a configured variation whose folder holds no file of any bundle."""
    rc = project / ".mendelrc"
    rc.write_text(rc.read_text().replace("    feature_C:\n", "    feature_C:\n    bucket_E:\n", 1))
    (project / "examples/shop/src/variations/bucket_E/templates").mkdir(parents=True)
    (project / "examples/shop/src/variations/bucket_E/templates/index.html").write_text("{# a template #}\n")


@pytest.mark.parametrize("case", sorted(STARTUP_MISCONFIGURATIONS))
def test_a_misconfiguration_stops_gunicorn_with_one_line(project: Path, tmp_path: Path, case: str) -> None:
    broken = Path(shutil.copytree(project, tmp_path / "broken"))
    old, new, said = STARTUP_MISCONFIGURATIONS[case]
    if case == "an arm that overrides nothing":
        only_a_template(broken)
    rc = broken / ".mendelrc"
    assert old in rc.read_text()
    rc.write_text(rc.read_text().replace(old, new))
    # a server of these files (with a store a server serves CURRENT, which no deploy step would
    # have moved to them: `mendel build` refuses them, see test_cli_project.py)
    result = gunicorn_start(broken, {"MENDEL_GENERATIONS": "off"})
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if said in line]
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_experiments_without_a_secret_stop_gunicorn(project: Path) -> None:
    result = gunicorn_start(project, {"SHOP_SECRET_KEY": ""})
    assert result.returncode != 0
    [line] = [line for line in result.stderr.splitlines() if "set a secret" in line]
    assert "SECRET_KEY or MENDEL_SECRET" in line and "Traceback" not in result.stderr


def test_flask_debug_opens_no_qa_page_and_serves_no_source_map(project: Path) -> None:
    """FLASK_DEBUG=1 under gunicorn is the framework's debug flag, not Mendel's development mode."""
    with running_gunicorn(project, extra_env={"SHOP_SECRET_KEY": SECRET, "FLASK_DEBUG": "1"}) as running:
        assert http_get(running.url + "/_mendel/").status == 404
        script = script_url(http_get(running.url + "/").body.decode())
        bundle = http_get(running.url + script)
        assert bundle.status == 200 and b"sourceMappingURL" not in bundle.body
        source_map = http_get(running.url + script + ".map")
        assert source_map.status == 404 and b"examples/shop" not in source_map.body
        assert source_map.header("cache-control") == "no-store"


CONTRADICTED = """experiments:
  button-look:
    layer: look
    range: [0, 0.5]
    variations: [control, bucket_A, bucket_B]
  look-b:
    layer: look
    range: [0.5, 1]
    variations: [control, bucket_D]
  extras:
    layer: features
    variations: [control, feature_C]
    coverage: 0.01
"""


def test_signed_records_that_contradict_the_configuration_are_ignored(project: Path, tmp_path: Path) -> None:
    """Records signed with the right key, for the right unit, but claiming the other exclusive
    experiment of its layer and a 1 %-coverage arm the unit is outside of: the server assigns by
    the configuration alone, and no exposure names an arm the unit is not in."""
    contradicted = Path(shutil.copytree(project, tmp_path / "contradicted"))
    rc = contradicted / ".mendelrc"
    rc.write_text(rc.read_text().split("experiments:")[0] + CONTRADICTED)
    publish_project(load_config(contradicted))  # the deploy step: servers only follow CURRENT
    experiments = experiment_set(load_config(contradicted))
    units = []
    for i in range(20000):
        unit = f"contradict{i:06d}"
        got = {a.experiment: a.variation for a in experiments.assign(unit)}
        if "look-b" in got and "extras" not in got:  # in look-b's half, outside extras' coverage
            units.append((unit, got["look-b"]))
            if len(units) == 4:
                break
    log = tmp_path / "exposures.jsonl"
    # (a record of look-b itself, in range and coverage, is what a weight change leaves behind: kept)
    forged = {"button-look": (0, 1), "extras": (0, 1)}
    with running_gunicorn(contradicted, extra_env={"SHOP_SECRET_KEY": SECRET, "MENDEL_EXPOSURE_LOG": str(log)}) as running:
        for unit, arm in units:
            page = http_get(running.url + "/", {"Cookie": f"mendel_uid={unit}; mendel_sticky={sign_sticky(SECRET, unit, forged)}"})
            shown = active(page.body.decode())
            assert "bucket_A" not in shown and "feature_C" not in shown, (unit, shown)
            assert shown == (arm or "none (base)"), (unit, shown)  # look-b by its hash, nothing else
    for unit, arm in units:
        recorded = {(line["experiment"], line["variation"]) for line in exposures_of(log, unit)}
        assert recorded <= {("look-b", arm)}, (unit, recorded)


def test_a_link_from_mendel_qa_link_works_on_its_project_only(server: Server, project: Path, tmp_path: Path) -> None:
    made = subprocess.run(
        [sys.executable, "-m", "mendel_py", "qa-link", "--variations", "bucket_B", "--ttl", "10m",
         "--url", server.url + "/", "--basedir", str(project), "--secret", SECRET],
        capture_output=True, text=True, timeout=60,
    )
    assert made.returncode == 0, made.stderr
    page = http_get(made.stdout.strip())
    assert page.status == 200 and active(page.body.decode()) == "bucket_B"
    assert "Chosen by a signed QA link" in page.body.decode()
    # the same secret, another project: its link is refused here
    other = Path(shutil.copytree(project, tmp_path / "other"))
    rc = other / ".mendelrc"
    rc.write_text(rc.read_text().replace("    feature_C:\n", "    feature_C:\n    other_only:\n  deliberately-empty: [other_only]\n"))
    foreign = subprocess.run(
        [sys.executable, "-m", "mendel_py", "qa-link", "--variations", "bucket_B", "--url", server.url + "/",
         "--basedir", str(other), "--secret", SECRET],
        capture_output=True, text=True, timeout=60,
    )
    assert foreign.returncode == 0, foreign.stderr
    refused = http_get(foreign.stdout.strip(), {"Cookie": "mendel_uid=foreignvisitor01"})
    assert refused.status == 200 and "Chosen by a signed QA link" not in refused.body.decode()

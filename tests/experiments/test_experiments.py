"""Experiments: config validation, GrowthBook-identical assignment, layers, stickiness, coverage,
exposures, the unit cookie, QA links and page cache marking."""
from __future__ import annotations

import json
import logging
import subprocess
import sys
from dataclasses import replace

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.http import parse_cookie
from werkzeug.test import Client

from mendel_py.cli.main import cli
from mendel_py.config import config_from_dict
from mendel_py.core.trees import MendelTrees
from mendel_py.errors import ConfigError
from mendel_py.experiments import assign
from mendel_py.experiments.assignment import Experiments, experiment_set, parse_experiments
from mendel_py.experiments.simulation import simulate
from mendel_py.qa.tokens import sign_qa_token
from mendel_py.serving.wsgi import MendelMiddleware

VARIATIONS = ["a1", "a2", "b1", "c1"]
TEN_IN_FIVE = {
    f"exp{i}": {"layer": f"layer{i // 2}", "variations": ["control", VARIATIONS[i % 4]]} for i in range(10)
}


def experiments(spec: dict) -> Experiments:
    return Experiments(parse_experiments(spec, VARIATIONS, "test.mendelrc"))


TWO_LAYERS = experiments({
    "look": {"layer": "L1", "range": [0, 0.5], "variations": ["control", "a1", "a2"], "weights": [0.2, 0.3, 0.5]},
    "other": {"layer": "L1", "range": [0.5, 1.0], "variations": ["control", "b1"]},
    "extras": {"layer": "L2", "variations": ["control", "c1"], "coverage": 0.5},
})


@pytest.mark.parametrize(
    ("spec", "key", "words"),
    [
        ({"e": {"variations": ["control", "zz"]}}, "experiments.e.variations", "not a configured variation"),
        ({"e": {"variations": ["control", "a1"], "weights": [0.5, 0.4]}}, "experiments.e.weights", "add up to 0.9"),
        ({"e": {"variations": ["control", "a1"], "weights": [1]}}, "experiments.e.weights", "1 weights for 2"),
        ({"e": {"variations": ["control", "a1"], "colour": 1}}, "experiments.e.colour", "unknown key"),
        ({"e": {"variations": ["control", "a1"], "coverage": 1.5}}, "experiments.e.coverage", "between 0 and 1"),
        ({"e": {"variations": ["control", "a1"], "status": "stopped"}}, "experiments.e.winner", "winner"),
        ({"e": {"variations": ["control", "a1"], "hash-version": 99}}, "experiments.e.hash-version", "1 or 2"),
        ({"e": {"variations": ["a1"]}}, "experiments.e.variations", "at least two"),
        (
            {"e": {"layer": "L", "range": [0, 0.6], "variations": ["control", "a1"]},
             "f": {"layer": "L", "range": [0.5, 1], "variations": ["control", "a2"]}},
            "experiments.f.range", "overlaps 'e'",
        ),
    ],
)
def test_bad_experiments_are_config_errors_naming_the_key(spec, key, words):
    with pytest.raises(ConfigError) as caught:
        parse_experiments(spec, VARIATIONS, "shop/.mendelrc")
    assert caught.value.path == "shop/.mendelrc" and caught.value.key == key
    assert words in str(caught.value)


def test_mendelrc_experiments_load_with_the_config():
    config = config_from_dict(
        {"variations": {v: None for v in VARIATIONS}, "experiments": {"e": {"variations": ["control", "a1"]}}}, "."
    )
    assert [e.key for e in config.experiments] == ["e"] and experiment_set(config)


def growthbook_assign(exps: Experiments, unit: str) -> dict[str, int]:
    """The same decisions written with the plain GrowthBook functions, for comparison."""
    out = {}
    for e in exps.experiments:
        if not assign.in_namespace(unit, (e.layer, *e.range)):
            continue
        n = assign.hash(e.seed, unit, e.hash_version)
        index = assign.choose_variation(n, assign.bucket_ranges(len(e.variations), e.coverage, list(e.weights)))
        if index >= 0:
            out[e.key] = index
    return out


@given(unit=st.text(min_size=1, max_size=40), version=st.sampled_from([1, 2]))
def test_assignment_is_growthbooks_algorithm(unit, version):
    exps = Experiments(replace(e, hash_version=version) for e in TWO_LAYERS.experiments)
    got = {a.experiment: a.index for a in exps.assign(unit)}
    assert got == growthbook_assign(exps, unit)


def test_shares_follow_weights_and_layers_are_independent():
    report = simulate(TWO_LAYERS, 100_000)
    for exp in report["experiments"]:
        for row in exp["rows"]:
            assert abs(row["share"] - row["expected"]) < 0.01, (exp["experiment"], row)
    [pair] = report["layer_pairs"]
    assert pair["p_value"] > 0.001
    look = next(e for e in report["experiments"] if e["experiment"] == "look")
    assert {r["variation"]: round(r["expected"], 3) for r in look["rows"]} == {
        "control": 0.1, "a1": 0.15, "a2": 0.25, "(not in)": 0.5,
    }


def test_experiments_of_one_layer_never_share_a_unit():
    for i in range(5000):
        layers = [a.layer for a in TWO_LAYERS.assign(f"u{i}")]
        assert len(layers) == len(set(layers))


def test_the_same_unit_gets_the_same_assignment_in_another_process():
    units = [f"visitor-{i}" for i in range(200)]
    here = [[a.to_dict() for a in TEN.assign(u)] for u in units]
    code = (
        "import json, sys; from mendel_py.experiments.assignment import Experiments, parse_experiments;"
        f"e = Experiments(parse_experiments({TEN_IN_FIVE!r}, {VARIATIONS!r}, 'x'));"
        f"print(json.dumps([[a.to_dict() for a in e.assign(u)] for u in {units!r}]))"
    )
    there = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert there == here


TEN = experiments(TEN_IN_FIVE)


def test_sticky_assignments_survive_a_weight_change():
    before = experiments({"e": {"variations": ["control", "a1"], "weights": [0.5, 0.5]}})
    after = experiments({"e": {"variations": ["control", "a1"], "weights": [0.9, 0.1]}})
    units = [f"u{i}" for i in range(2000)]
    first = {u: before.assign(u)[0].index for u in units}
    moved_without = sum(after.assign(u)[0].index != first[u] for u in units)
    assert moved_without > 500  # without sticky records, many units would flip
    for u in units:
        [kept] = after.assign(u, {"e": (0, first[u])})
        assert kept.index == first[u] and kept.reason == "sticky"
    purged = after.assign("u1", {"e": (0, 1)})  # a record of an older bucket version is ignored
    bumped = experiments({"e": {"variations": ["control", "a1"], "weights": [0.9, 0.1], "bucket-version": 1}})
    assert bumped.assign("u1", {"e": (0, 1)})[0].reason == "hash" and purged[0].reason == "sticky"


def test_raising_coverage_moves_nobody_already_in():
    def at(coverage: float) -> Experiments:
        return experiments({"e": {"variations": ["control", "a1", "a2"], "coverage": coverage}})

    low, high = at(0.3), at(0.8)
    entered = 0
    for i in range(5000):
        was = low.assign(f"u{i}")
        now = high.assign(f"u{i}")
        if was:
            assert now and now[0].index == was[0].index
        entered += bool(now) and not was
    assert entered > 1000


def test_stopped_experiment_gives_its_winner_and_off_gives_nothing():
    stopped = experiments({"e": {"variations": ["control", "a1"], "status": "stopped", "winner": "a1"}})
    [a] = stopped.assign("anyone")
    assert (a.variation, a.reason, a.is_exposure) == ("a1", "winner", False)
    assert experiments({"e": {"variations": ["control", "a1"], "status": "off"}}).assign("x") == ()


# --- through the middleware --------------------------------------------------------------------


@pytest.fixture()
def trees(tmp_path) -> MendelTrees:
    from e2e_support import build_example_project

    return MendelTrees(str(build_example_project(tmp_path)))


def page(environ, start_response):
    resolver = environ["mendel"]
    body = resolver.bundle_url("main") + "|" + ",".join(resolver.variations or [])
    start_response("200 OK", [("Content-Type", "text/plain"), ("Cache-Control", "public, max-age=60")])
    return [body.encode()]


def middleware(trees, app=page, **options) -> MendelMiddleware:
    """The middleware as these tests use it: a secret (experiments require one), no reloader."""
    options.setdefault("secret_key", "s")
    options.setdefault("reload_interval", None)
    return MendelMiddleware(app, trees, **options)


def unit_with(trees, **arms) -> str:
    """A unit id the experiments put in the given arms ({experiment: variation or None})."""
    experiments = experiment_set(trees.config)
    for i in range(5000):
        unit = f"test-unit-{i:05d}"
        got = {a.experiment: a.variation for a in experiments.assign(unit)}
        if all(got.get(key, "absent") == arm for key, arm in arms.items()):
            return unit
    raise AssertionError(f"no unit in {arms}")


def test_a_new_visitor_gets_a_unit_cookie_and_a_stable_url(trees, caplog):
    exposures = []
    client = Client(middleware(trees, on_exposure=exposures.append))
    first = client.get("/", base_url="https://shop.example/")
    cookies = first.headers.getlist("Set-Cookie")
    unit_cookie = next(c for c in cookies if c.startswith("mendel_uid="))
    assert "HttpOnly" in unit_cookie and "SameSite=Lax" in unit_cookie and "Secure" in unit_cookie
    assert "Max-Age=" in unit_cookie
    assert first.headers["Cache-Control"] == "max-age=60, private" and "Cookie" in first.headers["Vary"]
    url = first.get_data(as_text=True).split("|")[0]
    again = client.get("/", base_url="https://shop.example/")
    assert again.get_data(as_text=True).split("|")[0] == url
    assert not [c for c in again.headers.getlist("Set-Cookie") if c.startswith("mendel_uid=")]
    bundle = client.get(url)
    assert bundle.status_code == 200 and "Set-Cookie" not in bundle.headers
    assert bundle.headers["Cache-Control"].startswith("public")


def test_exposures_once_per_unit_and_experiment_within_the_window(trees):
    exposures = []
    clock = [1000.0]
    mw = middleware(trees, on_exposure=exposures.append, exposure_window=60)
    mw.exposure_dedup.clock = lambda: clock[0]
    client = Client(mw)
    client.set_cookie("mendel_uid", unit_with(trees, **{"button-look": "bucket_A", "extras": "feature_C"}))
    for _ in range(5):
        client.get("/")
    assert sorted((e.experiment, e.variation) for e in exposures) == [("button-look", "bucket_A"), ("extras", "feature_C")]
    assert all(e.bundle == "main" and e.reason in ("hash", "sticky") for e in exposures)
    clock[0] += 61  # the window passed: the next view counts again
    client.get("/")
    assert len(exposures) == 4


def test_an_arm_the_page_cannot_show_is_no_exposure(trees):
    """bucket_B changes only the stylesheet (and a template): a page with the script alone never
    showed it, so neither it nor its control counts; the other layer still does."""
    exposures = []
    client = Client(middleware(trees, on_exposure=exposures.append))
    client.set_cookie("mendel_uid", unit_with(trees, **{"button-look": "bucket_B", "extras": "feature_C"}))
    client.get("/")
    assert [(e.experiment, e.variation) for e in exposures] == [("extras", "feature_C")]

    def both_bundles(environ, start_response):
        resolver = environ["mendel"]
        body = resolver.bundle_url("main") + resolver.bundle_url("css")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [body.encode()]

    exposures.clear()
    client = Client(middleware(trees, app=both_bundles, on_exposure=exposures.append))
    client.set_cookie("mendel_uid", unit_with(trees, **{"button-look": "bucket_B", "extras": "feature_C"}))
    client.get("/")
    assert sorted((e.experiment, e.variation, e.bundle) for e in exposures) == [
        ("button-look", "bucket_B", "css"), ("extras", "feature_C", "main"),
    ]


def test_a_control_unit_is_exposed_where_another_arm_would_change_the_page(trees):
    exposures = []
    client = Client(middleware(trees, on_exposure=exposures.append))
    client.set_cookie("mendel_uid", unit_with(trees, **{"button-look": None, "extras": None}))
    client.get("/")
    assert sorted((e.experiment, e.variation) for e in exposures) == [("button-look", None), ("extras", None)]


def test_a_unit_from_the_app_and_the_default_exposure_sink(trees, capsys, tmp_path, caplog):
    unit = unit_with(trees, **{"button-look": "bucket_A", "extras": "feature_C"})
    with caplog.at_level(logging.WARNING, logger="mendel_py.serving.wsgi"):
        mw = middleware(trees, unit_loader=lambda environ: unit)
    assert "no on_exposure callback is registered" in caplog.text and "stderr" in caplog.text
    response = Client(mw).get("/")
    assert not [c for c in response.headers.getlist("Set-Cookie") if c.startswith("mendel_uid=")]
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    assert sorted(line["experiment"] for line in lines) == ["button-look", "extras"]
    assert all(line["unit"] == unit and line["event"] == "exposure" and line["timestamp"] > 0 for line in lines)
    expected = {a.variation for a in experiment_set(trees.config).assign(unit) if a.variation}
    assert set(filter(None, response.get_data(as_text=True).split("|")[1].split(","))) - {"base"} == expected
    log_file = tmp_path / "exposures.jsonl"
    Client(middleware(trees, unit_loader=lambda environ: unit, exposure_log=str(log_file))).get("/")
    assert [json.loads(line)["experiment"] for line in log_file.read_text().splitlines()] == ["button-look", "extras"]
    assert capsys.readouterr().err.count('"event":"exposure"') == 0


def test_experiments_without_a_secret_stop_start_up(trees, monkeypatch):
    monkeypatch.delenv("MENDEL_SECRET", raising=False)
    with pytest.raises(ConfigError, match="set a secret .*SECRET_KEY or MENDEL_SECRET") as raised:
        MendelMiddleware(page, trees, reload_interval=None)
    assert "\n" not in str(raised.value)
    monkeypatch.setenv("MENDEL_SECRET", "from-the-environment")
    assert MendelMiddleware(page, trees, reload_interval=None).secret_key == "from-the-environment"


def test_qa_link_forces_variations_without_exposures_and_bad_tokens_are_ignored(trees, caplog):
    exposures = []
    client = Client(middleware(trees, on_exposure=exposures.append))
    project = trees.config.config_id
    token = sign_qa_token("s", ["bucket_D", "feature_C"], 60, project=project)
    forced = client.get(f"/?mendel_qa={token}", headers={"User-Agent": "Googlebot/2.1"})  # bots too
    assert forced.get_data(as_text=True).endswith("bucket_D,feature_C,base")
    assert any(c.startswith("mendel_qa=") for c in forced.headers.getlist("Set-Cookie"))
    assert client.get("/").get_data(as_text=True).endswith("bucket_D,feature_C,base")  # from the cookie
    assert exposures == []
    with caplog.at_level(logging.WARNING, logger="mendel_py.qa.tokens"):
        tampered = Client(middleware(trees)).get(f"/?mendel_qa={token}x")
        other_key = Client(middleware(trees, secret_key="t")).get(f"/?mendel_qa={token}")
        other_project = Client(middleware(trees)).get(
            f"/?mendel_qa={sign_qa_token('s', ['bucket_D'], 60, project='another-deployment')}"
        )
    assert tampered.status_code == other_key.status_code == other_project.status_code == 200
    assert not tampered.get_data(as_text=True).endswith("bucket_D,feature_C,base")
    assert not other_project.get_data(as_text=True).endswith("bucket_D,base")
    assert "bad signature" in caplog.text and "another project" in caplog.text


def test_sticky_cookie_is_signed_and_names_experiments_and_indexes_only(trees):
    from itsdangerous import URLSafeSerializer

    client = Client(middleware(trees))
    response = client.get("/")
    sticky = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("mendel_sticky="))
    value = parse_cookie(sticky.split(";")[0])["mendel_sticky"]
    payload = URLSafeSerializer("s", salt="mendel_py sticky assignments").loads(value)
    unit = parse_cookie(next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("mendel_uid=")).split(";")[0])["mendel_uid"]
    assert payload["u"] == unit  # bound to the unit
    for record in payload["r"].split("|"):
        key, version, index = record.split(".")
        assert key in {e.key for e in trees.config.experiments} and version.isdigit() and index.isdigit()
    assert "bucket" not in value and "feature" not in value and "bucket" not in payload["r"]


FORGED = {
    "unsigned": lambda unit: "button-look.0.2|extras.0.1",
    "re-signed with another key": lambda unit: __import__("mendel_py.serving.request", fromlist=["x"]).sign_sticky(
        "not-the-secret", unit, {"button-look": (0, 2), "extras": (0, 1)}),
    "another unit's record": lambda unit: __import__("mendel_py.serving.request", fromlist=["x"]).sign_sticky(
        "s", "someone-else-0001", {"button-look": (0, 2), "extras": (0, 1)}),
    "arm outside the weights": lambda unit: __import__("mendel_py.serving.request", fromlist=["x"]).sign_sticky(
        "s", unit, {"button-look": (0, 9), "extras": (0, 7)}),
    "wrong bucket version": lambda unit: __import__("mendel_py.serving.request", fromlist=["x"]).sign_sticky(
        "s", unit, {"button-look": (3, 2), "extras": (3, 1)}),
    "garbage": lambda unit: "..x.." * 50,
}


@pytest.mark.parametrize("case", sorted(FORGED))
def test_a_forged_sticky_cookie_changes_nothing(trees, case):
    unit = unit_with(trees, **{"button-look": None, "extras": None})
    exposures = []
    honest = Client(middleware(trees, on_exposure=exposures.append))
    honest.set_cookie("mendel_uid", unit)
    expected = honest.get("/").get_data(as_text=True)
    assert expected.endswith("|base")
    forged_exposures = []
    client = Client(middleware(trees, on_exposure=forged_exposures.append))
    client.set_cookie("mendel_uid", unit)
    client.set_cookie("mendel_sticky", FORGED[case](unit))
    assert client.get("/").get_data(as_text=True) == expected
    assert sorted((e.experiment, e.variation) for e in forged_exposures) == sorted(
        (e.experiment, e.variation) for e in exposures)  # its true (control) arms only


def test_records_contradicting_the_layers_or_coverage_are_ignored():
    exps = experiments({
        "look-a": {"layer": "look", "range": [0, 0.5], "variations": ["control", "a1"]},
        "look-b": {"layer": "look", "range": [0.5, 1], "variations": ["control", "a2"]},
        "extras": {"variations": ["control", "b1"], "coverage": 0.01},
    })
    forged = {"look-a": (0, 1), "look-b": (0, 1), "extras": (0, 1)}
    for i in range(300):
        unit = f"unit-{i}"
        got = exps.assign(unit, forged)
        assert len([a for a in got if a.layer == "look"]) <= 1  # never both exclusive arms
        plain = {a.experiment: a for a in exps.assign(unit)}
        # in no experiment (layer share, coverage) its hash keeps it out of, whatever it claims
        assert {a.experiment for a in got} == set(plain)


def test_a_variations_cookie_never_overrides_an_assignment(trees):
    exposures = []
    unit = unit_with(trees, **{"button-look": None, "extras": None})
    client = Client(middleware(trees, on_exposure=exposures.append))
    client.set_cookie("mendel_uid", unit)
    for forged in ("bucket_D", "bucket_A,bucket_B", "feature_C", ""):
        client.set_cookie("mendel_variations", forged)
        assert client.get("/").get_data(as_text=True).endswith("|base")
    assert {e.variation for e in exposures} == {None}


def test_visitor_choice_lets_the_cookie_decide_with_no_assignment_and_no_exposure(trees):
    exposures = []
    client = Client(middleware(trees, on_exposure=exposures.append, visitor_choice=True))
    client.set_cookie("mendel_uid", unit_with(trees, **{"button-look": None, "extras": None}))
    client.set_cookie("mendel_variations", "bucket_D")
    response = client.get("/", headers={"User-Agent": "Mozilla/5.0 (compatible; bingbot/2.0)"})
    assert response.get_data(as_text=True).endswith("|bucket_D,base")  # the bot rule doesn't override it
    assert not [c for c in response.headers.getlist("Set-Cookie") if c.startswith("mendel_sticky=")]
    client.set_cookie("mendel_variations", "")
    assert client.get("/").get_data(as_text=True).endswith("|base")  # empty: base
    assert exposures == []
    client.delete_cookie("mendel_variations")
    client.get("/")
    assert exposures  # no cookie: the experiments assign, and count


@pytest.mark.parametrize("agent", ["Googlebot/2.1 (+http://www.google.com/bot.html)",
                                   "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
                                   "facebookexternalhit/1.1", "Mozilla/5.0 (compatible; AhrefsBot/7.0)"])
def test_bots_get_a_stable_control_and_no_exposure(trees, agent):
    exposures = []
    client = Client(middleware(trees, on_exposure=exposures.append))
    bodies = set()
    for _ in range(3):
        response = client.get("/", headers={"User-Agent": agent})
        bodies.add(response.get_data(as_text=True))
        assert "Set-Cookie" not in response.headers
    assert len(bodies) == 1 and bodies.pop().endswith("|base")
    assert exposures == []


def test_no_user_agent_is_a_person_and_the_bot_rule_is_overridable(trees):
    exposures = []
    client = Client(middleware(trees, on_exposure=exposures.append))
    client.set_cookie("mendel_uid", unit_with(trees, **{"button-look": "bucket_A", "extras": "feature_C"}))
    client.get("/", environ_overrides={"HTTP_USER_AGENT": ""})
    assert len(exposures) == 2
    staff_bots = Client(middleware(trees, on_exposure=exposures.append, bot_pattern=r"^internal-checker"))
    staff_bots.set_cookie("mendel_uid", unit_with(trees, **{"button-look": "bucket_A", "extras": "feature_C"}))
    assert staff_bots.get("/", headers={"User-Agent": "internal-checker/1"}).get_data(as_text=True).endswith("|base")
    custom = Client(middleware(trees, is_bot=lambda environ: environ.get("HTTP_X_BOT") == "1"))
    assert custom.get("/", headers={"X-Bot": "1"}).get_data(as_text=True).endswith("|base")


def test_the_bots_arm_is_configurable():
    exps = experiments({"e": {"variations": ["control", "a1"], "bots": "a1"}})
    [given] = exps.for_bots()
    assert given.variation == "a1" and not given.is_exposure
    with pytest.raises(ConfigError, match="bots"):
        experiments({"e": {"variations": ["control", "a1"], "bots": "a9"}})


@pytest.mark.parametrize(("mode", "cache_control", "vary"), [("vary", "public, max-age=60", True), ("off", "public, max-age=60", False)])
def test_page_caching_modes(trees, mode, cache_control, vary):
    response = Client(middleware(trees, page_caching=mode)).get("/")
    assert response.headers["Cache-Control"] == cache_control
    assert ("Cookie" in response.headers.get("Vary", "")) is vary


def test_cli_assign_simulate_and_qa_link(trees):
    runner = CliRunner()
    basedir = trees.config.root
    explained = runner.invoke(cli, ["assign", "--unit", "42", "--basedir", basedir, "--json"])
    assert explained.exit_code == 0, explained.output
    report = json.loads(explained.output)
    assert report["variations"] == [
        a.variation for a in experiment_set(trees.config).assign("42") if a.variation
    ]
    human = runner.invoke(cli, ["assign", "--unit", "42", "--basedir", basedir])
    assert "unit 42:" in human.output and "bucket" in human.output
    simulated = runner.invoke(cli, ["simulate", "--units", "20000", "--basedir", basedir, "--json"])
    assert simulated.exit_code == 0
    assert all(0 <= exp["p_value"] <= 1 for exp in json.loads(simulated.output)["experiments"])
    for exp in json.loads(simulated.output)["experiments"]:  # still the configured weights
        for row in exp["rows"]:
            assert abs(row["share"] - row["expected"]) < 0.02, (exp["experiment"], row)
    link = runner.invoke(cli, ["qa-link", "--variations", "bucket_A", "--ttl", "1h", "--basedir", basedir,
                               "--secret", "s", "--url", "https://shop.example/"])
    assert link.exit_code == 0 and link.output.startswith("https://shop.example/?mendel_qa=")
    token = link.output.strip().split("mendel_qa=")[1]
    from mendel_py.qa.tokens import read_qa_token

    assert read_qa_token("s", token, project=trees.config.config_id) == ("bucket_A",)
    assert read_qa_token("s", token, project="another-project") is None
    assert runner.invoke(cli, ["qa-link", "--variations", "nope", "--basedir", basedir, "--secret", "s"]).exit_code == 1
    assert runner.invoke(cli, ["qa-link", "--variations", "bucket_A", "--ttl", "soon", "--basedir", basedir,
                               "--secret", "s"]).exit_code == 2


def test_exposures_are_opentelemetry_feature_flag_events(trees):
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    client = Client(middleware(trees, exposure_log="off"))
    unit = unit_with(trees, **{"button-look": "bucket_A", "extras": None})
    client.set_cookie("mendel_uid", unit)
    with provider.get_tracer("test").start_as_current_span("page"):
        client.get("/")
    [span] = exporter.get_finished_spans()
    events = [e for e in span.events if e.name == "feature_flag.evaluation"]
    assert {e.attributes["feature_flag.key"] for e in events} == {e.key for e in trees.config.experiments}
    assigned = {a.experiment: a.variation or "control" for a in experiment_set(trees.config).assign(unit)}
    assert {e.attributes["feature_flag.key"]: e.attributes["feature_flag.result.variant"] for e in events} == assigned
    assert all(e.attributes["feature_flag.provider.name"] == "mendel_py" for e in events)


@pytest.mark.parametrize(
    ("app_header", "marked"),
    [
        ("public, max-age=60, s-maxage=600", "max-age=60, private"),
        ("no-store", "no-store"),
        ("private, max-age=5", "private, max-age=5"),
        (None, "private"),
    ],
)
def test_private_marking_keeps_what_the_app_said(trees, app_header, marked):
    def app(environ, start_response):
        environ["mendel"].bundle_url("main")
        headers = [("Content-Type", "text/plain"), ("Vary", "Accept-Encoding")]
        start_response("200 OK", headers + ([("Cache-Control", app_header)] if app_header else []))
        return [b"ok"]

    response = Client(middleware(trees, app=app)).get("/")
    assert response.headers["Cache-Control"] == marked
    assert response.headers["Vary"] == "Accept-Encoding, Cookie"


# --- exposure plumbing -------------------------------------------------------------------------


def test_the_dedup_table_is_bounded_and_windowed():
    from mendel_py.experiments.exposures import ExposureDedup

    clock = [0.0]
    dedup = ExposureDedup(window_seconds=10, max_entries=100, clock=lambda: clock[0])
    assert dedup.mark(("u", "e", 1)) and not dedup.mark(("u", "e", 1))
    assert dedup.mark(("u", "e", 2))  # another arm (after a re-bucketing) counts
    for i in range(1000):
        dedup.mark((f"unit{i}", "e", 0))
    assert len(dedup) == 100  # the oldest went
    assert dedup.mark(("u", "e", 1))  # evicted: recorded again (an analysis counts distinct units)
    clock[0] = 11
    assert dedup.recent(("unit999", "e", 0)) is False and dedup.mark(("unit999", "e", 0))
    assert ExposureDedup(window_seconds=0).mark("k") and ExposureDedup(window_seconds=0).mark("k")


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
def test_the_sink_and_the_dedup_work_in_a_forked_worker(tmp_path):
    import os

    from mendel_py.experiments.exposures import Exposure, ExposureDedup, JsonLinesSink

    sink = JsonLinesSink(tmp_path / "exposures.jsonl")
    dedup = ExposureDedup()
    sink(Exposure("e", "l", 0, None, "parent-unit", "main"))
    dedup._lock.acquire()  # held by a thread of the master at fork time
    pid = os.fork()
    if pid == 0:  # the worker: a fresh lock, its own file descriptor
        try:
            ok = dedup.mark(("child", "e", 0))
            sink(Exposure("e", "l", 1, "a1", "child-unit", "main"))
            os._exit(0 if ok else 3)
        except BaseException:
            os._exit(4)
    _, status = os.waitpid(pid, 0)
    dedup._lock.release()
    assert os.waitstatus_to_exitcode(status) == 0
    units = [json.loads(line)["unit"] for line in (tmp_path / "exposures.jsonl").read_text().splitlines()]
    assert units == ["parent-unit", "child-unit"]


def test_an_exposure_log_nobody_can_write_stops_start_up(trees, tmp_path):
    with pytest.raises(ConfigError, match="MENDEL_EXPOSURE_LOG: can't append exposures to"):
        middleware(trees, exposure_log=str(tmp_path / "no-such-folder" / "exposures.jsonl"))


@pytest.mark.skipif(not __import__("os").path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_disk_is_reported_once_and_breaks_no_page(caplog):
    from mendel_py.experiments.exposures import Exposure, JsonLinesSink

    sink = JsonLinesSink("/dev/full")  # every write: ENOSPC
    with caplog.at_level(logging.ERROR, logger="mendel_py.experiments.exposures"):
        for i in range(5):
            sink(Exposure("e", "l", 0, None, f"unit-{i}", "main"))
    assert len([r for r in caplog.records if "can't be written" in r.getMessage()]) == 1

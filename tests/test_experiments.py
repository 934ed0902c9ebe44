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

from mendel_py import assign
from mendel_py.cli import cli
from mendel_py.config import config_from_dict
from mendel_py.errors import ConfigError
from mendel_py.experiments import Experiments, parse_experiments
from mendel_py.qa import sign_qa_token
from mendel_py.simulation import simulate
from mendel_py.trees import MendelTrees
from mendel_py.wsgi import MendelMiddleware

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
    assert [e.key for e in config.experiments] == ["e"] and config.experiment_set


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
        "import json, sys; from mendel_py.experiments import Experiments, parse_experiments;"
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


def test_a_new_visitor_gets_a_unit_cookie_and_a_stable_url(trees, caplog):
    exposures = []
    client = Client(MendelMiddleware(page, trees, secret_key="s", on_exposure=exposures.append, reload_interval=None))
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
    assert len(exposures) == 2 * len(trees.config.experiments)  # once per request per experiment
    assert {e.experiment for e in exposures} == {e.key for e in trees.config.experiments}


def test_a_unit_from_the_app_and_the_default_exposure_log(trees, caplog):
    middleware = MendelMiddleware(page, trees, unit_loader=lambda environ: "user-42", reload_interval=None)
    with caplog.at_level(logging.INFO, logger="mendel_py.exposures"):
        response = Client(middleware).get("/")
    assert not [c for c in response.headers.getlist("Set-Cookie") if c.startswith("mendel_uid=")]
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "mendel_py.exposures"]
    assert lines and all(line["unit"] == "user-42" and line["event"] == "exposure" for line in lines)
    expected = {a.variation for a in trees.config.experiment_set.assign("user-42") if a.variation}
    assert set(filter(None, response.get_data(as_text=True).split("|")[1].split(","))) - {"base"} == expected


def test_qa_link_forces_variations_without_exposures_and_bad_tokens_are_ignored(trees, caplog):
    exposures = []
    client = Client(MendelMiddleware(page, trees, secret_key="s", on_exposure=exposures.append, reload_interval=None))
    token = sign_qa_token("s", ["bucket_D", "feature_C"], 60)
    forced = client.get(f"/?mendel_qa={token}")
    assert forced.get_data(as_text=True).endswith("bucket_D,feature_C,base")
    assert any(c.startswith("mendel_qa=") for c in forced.headers.getlist("Set-Cookie"))
    assert client.get("/").get_data(as_text=True).endswith("bucket_D,feature_C,base")  # from the cookie
    assert exposures == []
    with caplog.at_level(logging.WARNING, logger="mendel_py.qa"):
        tampered = Client(MendelMiddleware(page, trees, secret_key="s", reload_interval=None)).get(f"/?mendel_qa={token}x")
        other_key = Client(MendelMiddleware(page, trees, secret_key="t", reload_interval=None)).get(f"/?mendel_qa={token}")
    assert tampered.status_code == other_key.status_code == 200
    assert not tampered.get_data(as_text=True).endswith("bucket_D,feature_C,base")
    assert "bad signature" in caplog.text


def test_sticky_cookie_names_experiments_and_indexes_only(trees):
    client = Client(MendelMiddleware(page, trees, reload_interval=None))
    response = client.get("/")
    sticky = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("mendel_sticky="))
    value = parse_cookie(sticky.split(";")[0])["mendel_sticky"]
    for record in value.split("|"):
        key, version, index = record.split(".")
        assert key in {e.key for e in trees.config.experiments} and version.isdigit() and index.isdigit()
    assert "bucket" not in value and "feature" not in value


@pytest.mark.parametrize(("mode", "cache_control", "vary"), [("vary", "public, max-age=60", True), ("off", "public, max-age=60", False)])
def test_page_caching_modes(trees, mode, cache_control, vary):
    response = Client(MendelMiddleware(page, trees, page_caching=mode, reload_interval=None)).get("/")
    assert response.headers["Cache-Control"] == cache_control
    assert ("Cookie" in response.headers.get("Vary", "")) is vary


def test_cli_assign_simulate_and_qa_link(trees):
    runner = CliRunner()
    basedir = trees.config.root
    explained = runner.invoke(cli, ["assign", "--unit", "42", "--basedir", basedir, "--json"])
    assert explained.exit_code == 0, explained.output
    report = json.loads(explained.output)
    assert report["variations"] == [
        a.variation for a in trees.config.experiment_set.assign("42") if a.variation
    ]
    human = runner.invoke(cli, ["assign", "--unit", "42", "--basedir", basedir])
    assert "unit 42:" in human.output and "bucket" in human.output
    simulated = runner.invoke(cli, ["simulate", "--units", "20000", "--basedir", basedir, "--json"])
    assert simulated.exit_code == 0
    assert all(0 <= exp["p_value"] <= 1 for exp in json.loads(simulated.output)["experiments"])
    link = runner.invoke(cli, ["qa-link", "--variations", "bucket_A", "--ttl", "1h", "--basedir", basedir,
                               "--secret", "s", "--url", "https://shop.example/"])
    assert link.exit_code == 0 and link.output.startswith("https://shop.example/?mendel_qa=")
    token = link.output.strip().split("mendel_qa=")[1]
    from mendel_py.qa import read_qa_token

    assert read_qa_token("s", token) == ("bucket_A",)
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
    client = Client(MendelMiddleware(page, trees, reload_interval=None))
    client.set_cookie("mendel_uid", "otel-unit-0001")
    with provider.get_tracer("test").start_as_current_span("page"):
        client.get("/")
    [span] = exporter.get_finished_spans()
    events = [e for e in span.events if e.name == "feature_flag.evaluation"]
    assert {e.attributes["feature_flag.key"] for e in events} == {e.key for e in trees.config.experiments}
    assigned = {a.experiment: a.variation or "control" for a in trees.config.experiment_set.assign("otel-unit-0001")}
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

    response = Client(MendelMiddleware(app, trees, reload_interval=None)).get("/")
    assert response.headers["Cache-Control"] == marked
    assert response.headers["Vary"] == "Accept-Encoding, Cookie"

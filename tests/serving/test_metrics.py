"""Serving metrics (metrics.py): counted by outcome, exposed as Prometheus text only behind the
app's auth, and through OpenTelemetry."""
from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from factory import write_project
from fakes import FakeTrees, downstream_app
from mendel_py.core.trees import MendelTrees
from mendel_py.errors import ConfigError
from mendel_py.serving.metrics import prometheus_text
from mendel_py.serving.wsgi import MendelMiddleware

URL = "/mendel/hbase/main.js"


def sample(text: str, name: str, **labels: str) -> float:
    """The value of the one sample of `name` whose labels include `labels`."""
    found = []
    for line in text.splitlines():
        match = re.fullmatch(r"([a-z_]+)\{(.*)\} (\S+)", line)
        if not match or match.group(1) != name:
            continue
        have = dict(re.findall(r'([a-z_]+)="([^"]*)"', match.group(2)))
        if all(have.get(key) == value for key, value in labels.items()):
            found.append(float(match.group(3)))
    assert len(found) == 1, (name, labels, found)
    return found[0]


def traffic(client: Client) -> None:
    client.get(URL)  # miss
    etag = client.get(URL).headers["ETag"]  # hit
    client.get(URL, headers={"If-None-Match": etag})  # 304
    client.get(URL, headers={"Accept-Encoding": "gzip"})  # miss (another coding)
    client.get("/mendel/nothash/main.js")  # 404 BADHASH
    client.get("/mendel/hbase/nope.js")  # 404 NOBUNDLE
    client.get("/mendel/x")  # 404 NOROUTE
    client.post(URL)  # 405


def test_requests_are_counted_by_outcome_and_reason() -> None:
    middleware = MendelMiddleware(downstream_app, FakeTrees())
    traffic(Client(middleware))
    text = prometheus_text(middleware)
    assert sample(text, "mendel_bundle_requests_total", outcome="miss") == 2
    assert sample(text, "mendel_bundle_requests_total", outcome="hit") == 1
    assert sample(text, "mendel_bundle_requests_total", outcome="not_modified") == 1
    assert sample(text, "mendel_bundle_requests_total", outcome="method") == 1
    for reason in ("BADHASH", "NOBUNDLE", "NOROUTE"):
        assert sample(text, "mendel_bundle_requests_total", outcome="not_found", reason=reason) == 1
    assert sample(text, "mendel_pack_seconds_count") == 1, "gzip was made from the held identity body"
    assert sample(text, "mendel_compress_seconds_count", coding="gzip") == 1
    assert sample(text, "mendel_pack_seconds_bucket", le="+Inf") == 1
    assert sample(text, "mendel_bundle_cache_bytes") == middleware.cache.total_bytes > 0
    assert sample(text, "mendel_generation_served", generation="None") == 1


def test_metrics_route_is_off_by_default_and_behind_the_apps_auth() -> None:
    assert Client(MendelMiddleware(downstream_app, FakeTrees())).get("/metrics").data.startswith(b"app ")
    with pytest.raises(ConfigError):
        MendelMiddleware(downstream_app, FakeTrees(), metrics_route="/metrics")  # no auth: refused
    middleware = MendelMiddleware(
        downstream_app, FakeTrees(), metrics_route="/metrics",
        metrics_access=lambda environ: environ.get("HTTP_AUTHORIZATION") == "Bearer ops",
    )
    client = Client(middleware)
    client.get(URL)
    anonymous = client.get("/metrics")
    assert anonymous.data.startswith(b"app "), "anyone else reaches the app, which sees a page"
    admitted = client.get("/metrics", headers={"Authorization": "Bearer ops"})
    assert admitted.status_code == 200 and admitted.headers["Cache-Control"] == "no-store"
    assert admitted.mimetype == "text/plain"
    assert sample(admitted.data.decode(), "mendel_bundle_requests_total", outcome="miss") == 1

    mounted = Client(middleware.metrics_app(lambda environ: False))
    refused = mounted.get("/")
    assert refused.status_code == 404 and refused.headers["Cache-Control"] == "no-store"


def test_reload_failures_are_the_refused_reloads_of_the_trees(tmp_path: Path) -> None:
    project = write_project(tmp_path)
    trees = MendelTrees(str(project))
    middleware = MendelMiddleware(downstream_app, trees)
    manifest = project / "manifests" / "main.manifest.json"
    manifest.write_text(manifest.read_text()[:100])  # truncated: the reload is refused
    os.utime(manifest, (time.time() + 5, time.time() + 5))
    assert trees.reload_if_changed() is None
    assert trees.reload_failures == 1
    text = Client(middleware.metrics_app(lambda environ: True)).get("/").get_data(as_text=True)
    assert f'mendel_reload_failures_total{{pid="{os.getpid()}"}} 1' in text


def test_opentelemetry_reads_the_same_counters() -> None:
    sdk = pytest.importorskip("opentelemetry.sdk.metrics")
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    from mendel_py.serving.metrics import instrument_opentelemetry

    reader = InMemoryMetricReader()
    provider = sdk.MeterProvider(metric_readers=[reader])
    middleware = MendelMiddleware(downstream_app, FakeTrees())
    assert instrument_opentelemetry(middleware, provider)
    traffic(Client(middleware))
    points: dict[str, list[Any]] = {}
    for resource in reader.get_metrics_data().resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                points[metric.name] = list(metric.data.data_points)
    by_outcome = {(p.attributes["outcome"], p.attributes.get("reason")): p.value
                  for p in points["mendel.bundle.requests"]}
    assert by_outcome[("miss", None)] == 2 and by_outcome[("not_found", "BADHASH")] == 1
    assert points["mendel.pack.duration"][0].count == 1
    assert points["mendel.bundle.cache.bytes"][0].value == middleware.cache.total_bytes
    provider.shutdown()

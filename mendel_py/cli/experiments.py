"""`mendel assign`, `mendel simulate` and `mendel qa-link`: experiments from the command line.

    mendel assign --unit 42                      # which variations unit 42 gets, and why
    mendel simulate --units 100000 [--json]      # the split per experiment and layer, p-values
    mendel qa-link --variations bucket_A --ttl 1h --url https://shop.example/
"""
from __future__ import annotations

from typing import Any

import click

from ..config import load_config
from ..config.names import split_variation_names as split_names
from ..experiments.assignment import experiment_set
from ..experiments.simulation import simulate
from ..qa.tokens import QA_QUERY_PARAM, parse_ttl, sign_qa_token
from .support import (
    CommandFailed,
    Options,
    emit,
    format_table,
    host_setting,
    project_options,
    reporting_errors,
)

SECRET_VARIABLE = "MENDEL_SECRET_KEY"


def _experiments(options: Options) -> Any:
    config = load_config(options.basedir, env=options.env)
    if not config.experiments:
        raise CommandFailed(f"{config.path}: no experiments configured (the `experiments` key)")
    return config


@click.command("assign")
@click.option("--unit", required=True, help="The unit id (the anonymous id or the app's user id).")
@project_options
def assign_command(options: Options, unit: str) -> None:
    """Which variations the experiments give a unit, and why."""
    with reporting_errors(options):
        config = _experiments(options)
        rows = experiment_set(config).explain(unit)
    chosen = [row["assignment"]["variation"] for row in rows if row["assignment"] and row["assignment"]["variation"]]
    report = {"unit": unit, "variations": chosen, "experiments": rows}
    emit(options, report, _render_assign)


def _render_assign(report: dict[str, Any]) -> str:
    rows = []
    for row in report["experiments"]:
        got = row["assignment"]
        if row["status"] == "off":
            why = "experiment is off"
        elif not row["in_layer_range"] and not (got and got["reason"] == "sticky"):
            why = f"layer position {row['layer_position']:.3f} outside {row['layer_range']}"
        elif got is None:
            why = f"bucket {row['bucket']:.4f} outside the covered ranges"
        else:
            reasons = {"hash": f"bucket {row['bucket']:.4f}", "sticky": "sticky", "winner": "stopped: winner"}
            why = reasons[got["reason"]]
        variation = "-" if got is None else (got["variation"] or "control")
        rows.append((row["experiment"], row["layer"], variation, why))
    chosen = ", ".join(report["variations"]) or "none (base)"
    return f"unit {report['unit']}: {chosen}\n\n" + format_table(("experiment", "layer", "variation", "why"), rows)


@click.command("simulate")
@click.option("--units", type=click.IntRange(1, 10_000_000), default=100_000, show_default=True)
@project_options
def simulate_command(options: Options, units: int) -> None:
    """Assign many synthetic units; the split per experiment and layer with chi-square p-values."""
    with reporting_errors(options):
        config = _experiments(options)
        report = simulate(experiment_set(config), units)
    emit(options, report, _render_simulation)


def _render_simulation(report: dict[str, Any]) -> str:
    parts = [f"{report['units']:,} simulated units"]
    for exp in report["experiments"]:
        rows = [
            (r["variation"], f"{r['units']:,}", f"{100 * r['share']:.2f}%", f"{100 * r['expected']:.2f}%",
             f"{100 * (r['share'] - r['expected']):+.2f} pp")
            for r in exp["rows"]
        ]
        p = "-" if exp["p_value"] is None else f"{exp['p_value']:.4f}"
        parts.append(f"\n{exp['experiment']} (layer {exp['layer']}, {exp['status']}): goodness of fit p = {p}")
        parts.append(format_table(("variation", "units", "share", "expected", "diff"), rows))
    if report["layer_pairs"]:
        parts.append("\nlayer independence (chi-square):")
        for pair in report["layer_pairs"]:
            p = "-" if pair["p_value"] is None else f"{pair['p_value']:.4f}"
            parts.append(f"  {pair['layers'][0]} x {pair['layers'][1]}: p = {p}")
    return "\n".join(parts)


@click.command("qa-link")
@click.option("--variations", required=True, help="Comma-separated variation ids to force.")
@click.option("--ttl", default="1h", show_default=True, help="Lifetime: 90s, 15m, 1h, 7d.")
@click.option("--url", default="/", show_default=True, help="The page the link opens.")
@click.option("--secret", envvar=SECRET_VARIABLE, show_envvar=True, default=None,
              help="The app's secret key (under `flask mendel`: the app's SECRET_KEY).")
@project_options
def qa_link_command(options: Options, variations: str, ttl: str, url: str, secret: str | None) -> None:
    """Print a signed, expiring link that puts one browser in the given variations."""
    secret = secret or host_setting("SECRET_KEY")
    if not secret:
        raise click.UsageError(f"no secret: pass --secret, set {SECRET_VARIABLE}, or run as `flask mendel qa-link`")
    try:
        seconds = parse_ttl(ttl)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--ttl") from None
    names = split_names(variations)
    with reporting_errors(options):
        config = load_config(options.basedir, env=options.env)
        known = {spec.id for spec in config.variation_specs}
        unknown = [name for name in names if name not in known]
        if unknown:
            raise CommandFailed(f"unknown variation(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        token = sign_qa_token(secret, names, seconds, project=config.config_id)  # this project only
    link = f"{url}{'&' if '?' in url else '?'}{QA_QUERY_PARAM}={token}"
    emit(options, {"url": link, "variations": names, "ttl_seconds": seconds}, lambda r: r["url"])

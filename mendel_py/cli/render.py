"""`mendel render BUNDLE --variations a,b --props JSON`: a tree's server-rendered HTML.

It prints exactly the HTML and one newline; a render that faults exits 1 with one `Error:` line
naming the reason ("timeout", "memory" or "error") and, for a JS error, where it was thrown in the
original files. `--variations ""` (the default) is the base tree; `--props @file.json` reads the
props from a file.
"""
from __future__ import annotations

import json
from typing import Any

import click

from ..config.names import split_variation_names
from ..ssr import ENGINES, Renderer, RenderError, SsrNotConfigured
from .support import CommandFailed, Options, load_trees, project_options, reporting_errors


def read_props(text: str) -> Any:
    """`--props`: JSON, or `@path` to a JSON file."""
    source = "--props"
    if text.startswith("@"):
        source = text[1:]
        try:
            with open(source, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as error:
            raise CommandFailed(f"{source}: {error.strerror or error}") from None
    try:
        return json.loads(text)
    except ValueError as error:
        raise CommandFailed(f"{source}: not JSON ({error})") from None


@click.command("render")
@click.argument("bundle")
@click.option("--variations", default="", help="Variation names, comma-separated ('' is the base tree).")
@click.option("--props", "props_text", default="{}", help="The props as JSON, or @file.json.")
@click.option("--engine", type=click.Choice(ENGINES), default=None, envvar="MENDEL_SSR_ENGINE",
              help="JS engine. Default: .mendelrc ssr.engine, else quickjs.")
@click.option("--timeout", type=float, default=None, help="Seconds per render (default .mendelrc ssr.timeout, 1).")
@project_options
def render_command(
    options: Options, bundle: str, variations: str, props_text: str, engine: str | None, timeout: float | None
) -> None:
    """Print the server-rendered HTML of BUNDLE for a set of variations."""
    props = read_props(props_text)
    with reporting_errors(options):
        trees = load_trees(options)
        renderer = Renderer(trees, engine=engine, timeout=timeout)
        try:
            html = renderer.render(bundle, split_variation_names(variations), props)
        except RenderError as error:
            raise CommandFailed(f"render failed ({error.reason}): {error.message}".replace("\n", " ")) from None
        except SsrNotConfigured as error:
            raise CommandFailed(str(error)) from None
    click.echo(html)

"""`mendel sourcemap --bundle main HASH -o main.js.map`: a bundle's source map for an error tracker.

Production bundles don't point at their maps (a map names the project's files); upload the map
under the bundle's URL instead, so the tracker maps stack traces back to files.
"""
from __future__ import annotations

import os
import posixpath

import click

from .._runtime.atomic import write_atomically
from ..packing.packer import ChunkNotFound
from ..packing.sourcemap import source_map_bytes
from .support import (
    CommandFailed,
    Options,
    common_options,
    emit,
    format_fields,
    load_trees,
    reporting_errors,
)


@click.command("sourcemap")
@click.option("--bundle", required=True, help="Bundle id (a JS bundle).")
@click.option("--chunk", type=int, default=None, help="A lazy chunk's id: the number in main~7.js.")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), default=None,
    help="Write the map to this file (default: standard output).",
)
@click.argument("hash", metavar="HASH")
@common_options
def sourcemap_command(options: Options, bundle: str, chunk: int | None, output: str | None, hash: str) -> None:
    """Write the source map of a JS bundle (or one of its lazy chunks) at HASH."""
    with reporting_errors(options):
        trees = load_trees(options)
        tree = trees.find_tree_for_hash(bundle, hash)
        config = trees.config
        if config.bundles[bundle].is_css:
            raise CommandFailed(f"bundle {bundle!r} is a stylesheet: source maps are for scripts")
        route, suffix = config.bundle_route, config.bundles[bundle].suffix
        path = route.path(bundle, hash, suffix) if chunk is None else route.chunk_path(bundle, hash, chunk, suffix)
        try:
            body = source_map_bytes(tree, posixpath.basename(path), chunk)
        except ChunkNotFound:
            raise CommandFailed(f"bundle {bundle!r} at this hash has no lazy chunk {chunk}") from None
        if output is not None:
            write_atomically(os.path.abspath(output), body)
    if output is None:
        click.echo(body.decode("utf-8"))
        return
    report = {"bundle": bundle, "hash": hash, "chunk": chunk, "url": path, "output": output, "bytes": len(body)}
    emit(options, report,
         lambda r: format_fields([("Map of", r["url"]), ("Written", r["output"]), ("Bytes", r["bytes"])]))

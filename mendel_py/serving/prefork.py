"""Getting the most out of a pre-forking server's `preload_app`: work done once, pages shared.

With gunicorn's `preload_app = True` the app (and so `MendelTrees`: config, manifests, walk
tables) is loaded once in the master, and workers share those pages after fork, copy-on-write.
Two things keep them shared and the workers' first requests fast:

- the packer's per-manifest pieces are made in the master (`ManifestPacker.prepare`), so no
  worker makes them again on its first request (and each holds no private copy);
- `gc.freeze()` moves everything loaded so far out of the collector's reach: a collection in a
  worker no longer writes to (and so copies) every page holding an old object's header.

Call `prepare_for_fork(trees)` once the app is loaded, in the master: e.g. from gunicorn's
`when_ready` hook (see examples/gunicorn.conf.py) or at the end of the preloaded app module.
"""
from __future__ import annotations

import gc
from typing import TYPE_CHECKING

from ..packing.packer import packer_for

if TYPE_CHECKING:
    from ..core.trees import MendelTrees


def prepare_for_fork(*all_trees: MendelTrees) -> None:
    """Make every bundle's pack pieces now, then freeze the heap for copy-on-write sharing."""
    for trees in all_trees:
        for bundle in trees.bundles:
            packer_for(trees.manifest(bundle)).prepare()
    gc.collect()
    gc.freeze()

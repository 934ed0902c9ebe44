"""Following deploys in a running process: the reloader thread that swaps in a new generation
when the store's `CURRENT` moves.

May import `core`, `config`, `errors`, `_runtime`.
"""

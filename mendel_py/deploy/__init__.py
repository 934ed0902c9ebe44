"""Deploys: the deploy step's writes to the generation store (`publish`: add a generation, move
`CURRENT`, prune; only `mendel build|reload|generations` import it), and, in a running process,
the reloader thread that swaps in a new generation when the store's `CURRENT` moves (`reloader`).

May import `core`, `config`, `errors`, `_runtime`.
"""

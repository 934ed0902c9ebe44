"""From a resolved tree to bytes: the JS/CSS packer (`packer`), bodies kept as their parts
(`body`), source maps (`sourcemap`), content codings (`compression`).

May import `core`, `errors`, `_runtime`. Knows nothing of HTTP requests.
"""

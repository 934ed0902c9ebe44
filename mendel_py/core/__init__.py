"""The long-lived per-process core: manifests, walks, hashes and the memoized trees.

`hashcodec` (Mendel v1/v2 and v3 hash formats), `manifest` (loading a Mendel v1 manifest ->
a compiled `Manifest`; the front of `manifest_model`, the compiled form, and `manifest_check`,
the validator), `manifest_cache` (compiled manifests kept on disk by digest), `original` (a
compiled entry's way back to the author's file), `walk` (+ the optional `_speedups` C
extension), `cache` (the one byte-bounded in-process cache), `generations` (the generation store
as servers read it; the deploy step writes it through `deploy.publish`), `lifecycle` (which
generation is current, reloads with back-off, past generations by tag, the manifest pool),
`trees` (`MendelTrees`, `Tree`: resolve and decode, memoized; built on `lifecycle`).

May import `errors`, `_runtime` and `config`. Knows nothing of HTTP, WSGI, cookies or the CLI.
"""

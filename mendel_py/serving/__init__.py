"""The HTTP side: `MendelMiddleware` (`wsgi`), its options and the table of framework settings
(`options`), the per-request resolver (`request`), werkzeug's header parsers across its versions
(`http_compat`), the bundle route (`route`), bundle representations (`bundles`), the on-disk
bundle store (`store`), the background recompressor (`recompress`), script/link tags and preload
headers (`html`), serving metrics (`metrics`), the worker's memory budget (`memory`) and pre-fork
preparation (`prefork`).

May import `core`, `packing`, `deploy`, `experiments`, `qa`, `config`, `errors`, `_runtime`.
"""

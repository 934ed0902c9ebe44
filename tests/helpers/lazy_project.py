"""A small project whose main bundle imports one file lazily; bucket_A overrides that file."""
from __future__ import annotations

from pathlib import Path

from factory import SAMPLE_RC, write_project

MAIN = {
    "main.js": {"entry": True, "base": {
        "deps": {"./panel.js": "panel.js", "./util.js": "util.js"}, "lazy": ["./panel.js"],
        "source": (
            'var util = require("./util.js");\n'
            "document.body.dataset.main = util.tag;\n"
            "window.openPanel = function () {\n"
            '  return require.lazy("./panel.js").then(function (panel) {\n'
            "    document.body.dataset.panel = panel.label;\n"
            "  });\n"
            "};\n"
        ),
    }},
    "panel.js": {
        "base": {"deps": {"./deep.js": "deep.js", "./util.js": "util.js"},
                 "source": 'module.exports = {label: require("./deep.js") + "/" + require("./util.js").tag};'},
        "bucket_A": {"deps": {}, "source": 'module.exports = {label: "panel of bucket A"};'},
    },
    "deep.js": {"base": {"source": 'module.exports = "deep";'}},
    "util.js": {"base": {"source": 'exports.tag = "util";'}},
}
CSS = {"main.css": {"entry": True, "base": {"source": "body { margin: 0 }"}}}


def write_lazy_project(root: Path) -> Path:
    return write_project(root, SAMPLE_RC, {"main": MAIN, "css": CSS})

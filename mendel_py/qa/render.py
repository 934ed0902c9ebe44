"""The QA page's HTML, drawn from a `Report`: plain server-rendered HTML with its own small
stylesheet and no script; every control has a label and works from the keyboard. Every value
goes through markupsafe's escaping.
"""
from __future__ import annotations

import time
from collections.abc import Sequence

from markupsafe import Markup, escape

from .matrix import Matrix, render_svg
from .report import BundleInfo, Report, VariationInfo

__all__ = ["MATRIX_PATH", "NEXT_FIELD", "STYLE", "VARIATION_FIELD", "render_page"]

MATRIX_PATH = "matrix.svg"
TREEMAP_PATH = "treemap/"  # + a bundle id: the treemap of this browser's tree of it
"""The matrix picture, below the page's route."""
VARIATION_FIELD = "variation"
"""The chooser's form field(s) (``variation-<n>`` for one choice per layer)."""
NEXT_FIELD = "next"
"""The form field (and query parameter) of the app page to go back to."""

STYLE = """
:root { color-scheme: light; }
body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 72rem; padding: 1rem 1.5rem 3rem;
       color: #1b1b1b; background: #ffffff; }
h1 { font-size: 1.5rem; margin: .5rem 0 1rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
h3 { font-size: 1rem; margin: 1.2rem 0 .4rem; }
table { border-collapse: collapse; margin: .4rem 0; } th, td { text-align: left; padding: .2rem .8rem .2rem 0;
        border-bottom: 1px solid #ddd; vertical-align: top; }
code { font-family: ui-monospace, monospace; font-size: .9em; overflow-wrap: anywhere; }
.note { color: #555; } .badge { display: inline-block; padding: 0 .4rem; border-radius: .3rem; font-size: .85em;
        background: #e8e8e8; } .on { background: #1a5fb4; color: #ffffff; }
fieldset { border: 1px solid #ccc; margin: .5rem 0; padding: .4rem .8rem; }
label { display: inline-block; margin: .2rem 1rem .2rem 0; cursor: pointer; }
button { font: inherit; padding: .3rem .9rem; margin-right: .5rem; white-space: nowrap; }
td form { margin: 0; }
:focus-visible { outline: 3px solid #e66100; outline-offset: 2px; }
.matrix { overflow-x: auto; border: 1px solid #ddd; padding: .5rem; }
.legend span { display: inline-block; width: .9em; height: .9em; vertical-align: middle; margin: 0 .3rem 0 1rem; }
.status { padding: .4rem .8rem; background: #e6f4ea; border-left: 4px solid #26a269; }
"""


def render_page(report: Report, action: str, app_url: str, changed: bool = False) -> str:
    """The whole QA page."""
    mode = "development" if report.development else "production (QA access)"
    body = [
        f"<h1>Mendel variations <span class=\"badge\">{escape(mode)}</span></h1>",
        _access(report),
        '<p class="status" role="status">Your variations were changed for this browser.</p>' if changed else "",
        _this_browser(report, app_url),
        _experiments(report),
        _chooser(report, action, app_url),
        _variations_table(report, action, app_url),
        _bundles(report),
        _matrix_section(report.matrix, action),
    ]
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="robots" content="noindex">\n'
        f"<title>Mendel QA</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(part for part in body if part)
        + "\n</main>\n</body>\n</html>\n"
    )


def _access(report: Report) -> str:
    """When this browser's QA access ends (a token's expiry), in UTC and from now."""
    if report.access_ends is None:
        return ""
    left = max(0, report.access_ends - int(time.time()))
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(report.access_ends))
    return str(Markup(
        '<p class="note" id="qa-access-ends">QA access ends at <time datetime="{iso}">{when}</time>'
        " (in {minutes} min); a choice made here ends with it.</p>"
    ).format(iso=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(report.access_ends)), when=when,
             minutes=(left + 59) // 60))


def _names(names: Sequence[str]) -> Markup:
    return Markup(", ").join(Markup("<code>{}</code>").format(n) for n in names) if names else Markup("none")


def _this_browser(report: Report, app_url: str) -> str:
    ignored = (
        Markup("<p>Ignored (not configured): {}</p>").format(_names(report.ignored)) if report.ignored else ""
    )
    return str(
        Markup(
            '<section aria-labelledby="this-browser"><h2 id="this-browser">This browser</h2>'
            "<p>Gets: <strong id=\"active-variations\">{active}</strong> (then base)</p>"
            "<p>Why: decided by <strong id=\"variation-source\">{source}</strong>, which asked for {requested}.</p>"
            "{ignored}<p><a href=\"{app}\">Open the app with these variations</a></p></section>"
        ).format(
            active=_names(report.active) if report.active else Markup("base only"),
            source=report.source,
            requested=_names(report.requested),
            ignored=ignored,
            app=app_url,
        )
    )


def _experiments(report: Report) -> str:
    """The configured experiments, and where each put this browser (if they decided)."""
    if not report.experiments:
        return ""
    rows = []
    for e in report.experiments:
        got = report.assignments.get(e.key)
        arms = Markup(", ").join(
            Markup("<code>{}</code> {:.0%}").format(v or "control", w) for v, w in zip(e.variations, e.weights)
        )
        here = (
            Markup("<strong>{}</strong> ({})").format(got.variation or "control", got.reason)
            if got else Markup("&mdash;")
        )
        rows.append(Markup(
            "<tr><th scope=\"row\"><code>{}</code></th><td>{}</td><td>{:.0%}&ndash;{:.0%}</td><td>{}</td>"
            "<td>{:.0%}</td><td>{}</td><td>{}</td></tr>"
        ).format(e.key, e.layer, e.range[0], e.range[1], arms, e.coverage, e.status, here))
    return str(Markup(
        '<section aria-labelledby="experiments"><h2 id="experiments">Experiments</h2>'
        "<table><caption>Configured in .mendelrc; assignment follows GrowthBook&rsquo;s bucketing"
        "</caption><thead><tr><th scope=\"col\">experiment</th><th scope=\"col\">layer</th>"
        "<th scope=\"col\">share of layer</th><th scope=\"col\">variations</th><th scope=\"col\">coverage</th>"
        "<th scope=\"col\">status</th><th scope=\"col\">this browser</th></tr></thead><tbody>{}</tbody></table>"
        "</section>"
    ).format(Markup("").join(rows)))


def _chooser(report: Report, action: str, app_url: str) -> str:
    """Checkboxes per variation, grouped in fieldsets by layer (radio buttons within a layer)."""
    groups: list[tuple[str, list[VariationInfo], bool]] = []
    for layer, names in report.layers.items():
        members = [v for v in report.variations if v.id in names]
        if members:
            groups.append((f"Layer {layer}", members, True))
    loose = [v for v in report.variations if v.layer is None]
    if loose:
        groups.append(("Variations", loose, False))
    fieldsets = [_fieldset(position, *group) for position, group in enumerate(groups)]
    return str(
        Markup(
            '<section aria-labelledby="choose"><h2 id="choose">Pick variations for this browser</h2>'
            '<form method="post" action="{action}" class="variation-chooser">{fieldsets}'
            '<button type="submit" name="{next}" value="">Use these variations</button>'
            '<button type="submit" name="{next}" value="{app}">Use them and open the app</button>'
            "</form></section>"
        ).format(action=action, fieldsets=Markup("").join(fieldsets), next=NEXT_FIELD, app=app_url)
    )


def _fieldset(position: int, legend: str, members: list[VariationInfo], exclusive: bool) -> Markup:
    name = f"{VARIATION_FIELD}-{position}" if exclusive else VARIATION_FIELD
    kind = "radio" if exclusive else "checkbox"
    inputs = []
    if exclusive:
        none_checked = not any(v.active for v in members)
        inputs.append(
            Markup('<label><input type="radio" name="{}" value=""{}> none</label>').format(
                name, Markup(" checked") if none_checked else ""
            )
        )
    for v in members:
        inherits = (
            Markup(" <span class=\"note\">(inherits {})</span>").format(", ".join(v.inherits)) if v.inherits else ""
        )
        inputs.append(
            Markup('<label><input type="{}" name="{}" value="{}"{}> {}{}</label>').format(
                kind, name, v.id, Markup(" checked") if v.active else "", v.id, inherits
            )
        )
    return Markup("<fieldset><legend>{}</legend>{}</fieldset>").format(legend, Markup("").join(inputs))


def _variations_table(report: Report, action: str, app_url: str) -> str:
    """One row per variation, with a button that opens the app with only that variation."""
    rows = [
        Markup(
            "<tr><td><code>{id}</code> {badge}</td>{layer}<td>{inherits}</td><td>{chain}</td>"
            '<td><form method="post" action="{action}"><input type="hidden" name="{field}" value="{id}">'
            '<button type="submit" name="{next}" value="{app}" aria-label="Open the app with only {id}">'
            "Try alone</button></form></td></tr>"
        ).format(
            id=v.id,
            badge=Markup('<span class="badge on">active</span>') if v.active else "",
            layer=Markup("<td>{}</td>").format(v.layer or "") if report.layers else "",
            inherits=_names(v.inherits),
            chain=Markup(" &rarr; ").join(Markup("<code>{}</code>").format(f) for f in v.chain),
            action=action,
            field=VARIATION_FIELD,
            next=NEXT_FIELD,
            app=app_url,
        )
        for v in report.variations
    ]
    return str(
        Markup(
            '<section aria-labelledby="variations"><h2 id="variations">Variations</h2>'
            '<p class="note">In priority order: when two active variations override one file, the first wins.</p>'
            "<table><thead><tr><th scope=\"col\">variation</th>{layer}"
            "<th scope=\"col\">inherits</th><th scope=\"col\">lookup chain</th>"
            "<th scope=\"col\">preview</th></tr></thead>"
            "<tbody>{rows}</tbody></table></section>"
        ).format(
            layer=Markup('<th scope="col">layer</th>') if report.layers else "",
            rows=Markup("").join(rows),
        )
    )


def _size(count: int | None) -> str:
    if count is None:
        return "n/a"
    return f"{count:,} B" if count < 10_000 else f"{count / 1024:,.1f} KiB"


def _bundle(info: BundleInfo) -> Markup:
    if info.error:
        return Markup('<h3>{}</h3><p role="alert">Can\'t resolve: {}</p>').format(info.id, info.error)
    modules = Markup("").join(
        Markup("<tr><td><code>{}</code></td><td><code>{}</code></td><td><code>{}</code></td></tr>").format(m, v, f)
        for m, v, f in info.from_variations
    )
    table = (
        Markup(
            "<table><thead><tr><th scope=\"col\">module</th><th scope=\"col\">from variation</th>"
            "<th scope=\"col\">folder</th></tr></thead>"
            "<tbody>{}</tbody></table>"
        ).format(modules)
        if info.from_variations
        else Markup('<p class="note">Every module comes from base.</p>')
    )
    conflicts = _names(info.conflicts) if info.conflicts else Markup("none")
    return Markup(
        '<h3 id="bundle-{id}">{id}</h3><table class="bundle-facts"><tbody>'
        "<tr><th scope=\"row\">hash</th><td><code>{hash}</code></td></tr>"
        "<tr><th scope=\"row\">URL</th><td><a href=\"{url}\"><code>{url}</code></a></td></tr>"
        "<tr><th scope=\"row\">size</th><td>{raw} raw, {gz} gzip, {files} files "
        "(<a href=\"{treemap}\">treemap</a>)</td></tr>"
        "<tr><th scope=\"row\">conflicts</th><td>{conflicts}</td></tr></tbody></table>{table}"
    ).format(
        id=info.id, hash=info.hash, url=info.url, raw=_size(info.raw_bytes), gz=_size(info.gzip_bytes),
        treemap=TREEMAP_PATH + info.id,
        files=info.files, conflicts=conflicts, table=table,
    )


def _bundles(report: Report) -> str:
    return str(
        Markup('<section aria-labelledby="bundles"><h2 id="bundles">Bundles for this browser</h2>{}</section>').format(
            Markup("").join(_bundle(info) for info in report.bundles)
        )
    )


def _matrix_section(matrix: Matrix, action: str) -> str:
    legend = Markup(
        '<p class="legend">'
        '<span style="background:#1a5fb4"></span>own file'
        '<span style="background:#99c1f1"></span>inherited file'
        '<span style="background:#f0f0f0"></span>not overridden</p>'
    )
    return str(
        Markup(
            '<section aria-labelledby="matrix"><h2 id="matrix">Variation matrix</h2>'
            '<p class="note">Modules overridden by each variation (hover a cell for details; '
            '<a href="{href}">open the picture</a>).</p>{legend}<div class="matrix">{svg}</div></section>'
        ).format(href=action + MATRIX_PATH, legend=legend, svg=Markup(render_svg(matrix)))
    )

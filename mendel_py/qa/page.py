"""The QA page (default route ``/_mendel/``): every variation side by side, and what this browser gets.

It shows the configured variations (their inheritance chains and, when the app groups them, their
layers), which variations this browser gets and which source decided that, a form to pick
variations for this browser, and per bundle the hash, URL, raw and gzip sizes, conflicts and the
module -> variation map of this browser's tree, plus the variation matrix as an SVG picture.

The page shows variation names, so it is gated: it is open in development; in production only a
request with a valid signed QA token (`mendel_py.qa`) or one the app's own `access(environ)` hook
admits sees it (a QA link's `?mendel_qa=<token>` is moved into the QA cookie). Any other request under the route is handed to the app untouched, so the answer
is whatever the app answers for an unknown URL (its 404): nothing tells that the page exists.
Bundle URLs never carry names; only this origin page does.

Plain server-rendered HTML with its own small stylesheet and no script; every control has a
label and works from the keyboard.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from markupsafe import Markup, escape
from werkzeug.wrappers import Request, Response

from ..experiments.assignment import Assignment, Experiment
from ..errors import ConfigError, MendelError
from .tokens import DEFAULT_TTL_SECONDS, QA_COOKIE_NAME, QA_QUERY_PARAM, QAToken, read_qa_grant, sign_qa_token
from .matrix import Matrix, render_svg, variation_matrix

if TYPE_CHECKING:
    from ..serving.request import RequestResolver
    from ..serving.wsgi import MendelMiddleware, StartResponse

log = logging.getLogger(__name__)

DEFAULT_QA_ROUTE = "/_mendel/"
MATRIX_PATH = "matrix.svg"
VARIATION_FIELD = "variation"
NEXT_FIELD = "next"
NO_STORE = "no-store, private"
QA_TOKEN_TTL_SECONDS = DEFAULT_TTL_SECONDS  # a toggle signs a fresh token for this long

QAAccess = Callable[[dict[str, Any]], bool]


# --------------------------------------------------------------------------- what the page shows


@dataclass(frozen=True)
class VariationInfo:
    id: str
    chain: tuple[str, ...]  # folders, base last
    inherits: tuple[str, ...]  # ids of the variations whose folders it inherits
    active: bool
    layer: str | None


@dataclass(frozen=True)
class BundleInfo:
    id: str
    hash: str
    url: str
    raw_bytes: int | None
    gzip_bytes: int | None
    files: int
    conflicts: tuple[str, ...]
    from_variations: tuple[tuple[str, str, str], ...]  # (module id, variation id, folder), walk order
    error: str | None = None


@dataclass
class Report:
    """Everything the page renders, gathered for one request."""

    variations: list[VariationInfo]
    active: list[str]
    source: str
    requested: list[str]
    ignored: list[str]
    bundles: list[BundleInfo]
    matrix: Matrix
    layers: dict[str, tuple[str, ...]] = field(default_factory=dict)
    development: bool = False
    experiments: tuple[Experiment, ...] = ()
    assignments: dict[str, Assignment] = field(default_factory=dict)
    access_ends: int | None = None
    """When this browser's QA access ends (its token's expiry); None: development or the app's
    own check, which don't end with a token."""


def variation_infos(
    trees: Any, active: Iterable[str], layers: Mapping[str, Sequence[str]]
) -> list[VariationInfo]:
    """The configured variations in priority order, with what each inherits and its layer."""
    by_folder = {v.chain[0]: v.id for v in trees.variations}
    layer_of = {name: layer for layer, names in layers.items() for name in names}
    chosen = set(active)
    return [
        VariationInfo(
            id=v.id,
            chain=v.chain,
            inherits=tuple(by_folder[f] for f in v.chain[1:] if f in by_folder),
            active=v.id in chosen,
            layer=layer_of.get(v.id),
        )
        for v in trees.variations
    ]


def bundle_info(middleware: MendelMiddleware, resolver: RequestResolver, bundle: str) -> BundleInfo:
    """This browser's tree of `bundle`, its URL and its packed sizes."""
    try:
        tree = resolver.tree(bundle)
        url = resolver.bundle_url(bundle)
    except MendelError as error:
        return BundleInfo(bundle, "", "", None, None, 0, (), (), error=str(error))
    owners = folder_owners(middleware.trees)
    raw = gzipped = None
    try:
        raw = middleware.packed_bundle(bundle, tree).size
        gzipped = middleware.packed_bundle(bundle, tree, "gzip").size
    except Exception as error:  # the page still shows the tree when packing fails
        log.warning("QA page: packing %s failed: %s", bundle, error)
    return BundleInfo(
        id=bundle,
        hash=tree.hash,
        url=url,
        raw_bytes=raw,
        gzip_bytes=gzipped,
        files=tree.file_count,
        conflicts=tuple(tree.conflict_list),
        from_variations=tuple(
            (module, owners.get(folder, folder), folder) for module, folder in tree.variation_map.items()
        ),
    )


def folder_owners(trees: Any) -> dict[str, str]:
    """{folder: the id of the variation it belongs to}, the base folder included."""
    owners = {v.chain[0]: v.id for v in trees.variations}
    owners[trees.config.base_dir] = trees.config.base_id
    return owners


def build_report(
    middleware: MendelMiddleware,
    resolver: RequestResolver,
    layers: Mapping[str, Sequence[str]],
    development: bool,
) -> Report:
    trees = middleware.trees
    active = resolver.load_variations()[:-1]
    source, requested = resolver.decided_by or "nothing (base)", resolver.requested
    known = {v.id for v in trees.variations}
    experiments = trees.config.experiments
    if not layers and experiments:  # the experiments' layers, when the app names none
        layers = experiment_layers(experiments)
    return Report(
        variations=variation_infos(trees, active, layers),
        active=list(active),
        source=source,
        requested=requested,
        ignored=[name for name in requested if name not in known],
        bundles=[bundle_info(middleware, resolver, bundle) for bundle in trees.bundles],
        matrix=variation_matrix(trees),
        layers={layer: tuple(names) for layer, names in layers.items()},
        development=development,
        experiments=experiments,
        assignments={a.experiment: a for a in resolver.assignments},
    )


def experiment_layers(experiments: Sequence[Experiment]) -> dict[str, tuple[str, ...]]:
    """Each experiment layer with the variations its experiments choose among."""
    layers: dict[str, dict[str, None]] = {}
    for e in experiments:
        layers.setdefault(e.layer, {}).update(dict.fromkeys(v for v in e.variations if v))
    return {layer: tuple(names) for layer, names in layers.items()}


# --------------------------------------------------------------------------- the WSGI part


class QAPage:
    """Serves the QA page below `route` for `middleware` (which routes requests here)."""

    def __init__(
        self,
        middleware: MendelMiddleware,
        route: str = DEFAULT_QA_ROUTE,
        *,
        access: QAAccess | None = None,
        layers: Mapping[str, Sequence[str]] | None = None,
    ):
        if not route.startswith("/"):
            raise ConfigError(f"QA page route {route!r} must start with '/'")
        self.middleware = middleware
        self.route = route if route.endswith("/") else route + "/"
        self.access = access
        self.layers = dict(layers or {})

    def owns(self, path: str) -> bool:
        """True for the page, its sub-paths, and the route without its trailing slash."""
        return path.startswith(self.route) or path == self.route[:-1]

    def allowed(self, request: Request) -> bool:
        """Open in development; otherwise a valid QA token or the app's access hook admits."""
        if self.middleware.development or self.token_variations(request) is not None:
            return True
        if self.access is not None:
            try:
                return bool(self.access(request.environ))
            except Exception:  # a broken hook must not open the page
                log.exception("QA page access hook failed")
        return False

    def token_variations(self, request: Request) -> tuple[str, ...] | None:
        """The variations of a valid QA token in the query (a QA link) or the cookie, else None."""
        grant = self.token_grant(request)
        return grant.variations if grant is not None else None

    def token_grant(self, request: Request) -> QAToken | None:
        """A valid QA token of this project (query first, then cookie) with its expiry, else None."""
        secret = self.middleware.secret_key
        token = request.args.get(QA_QUERY_PARAM) or request.cookies.get(QA_COOKIE_NAME)
        if not secret or not token:
            return None
        return read_qa_grant(secret, token, project=self.middleware.trees.config.config_id)

    def _admitted_without_token(self, request: Request) -> bool:
        """Development or the app's own check: access that no token limits."""
        if self.middleware.development:
            return True
        if self.access is None:
            return False
        try:
            return bool(self.access(request.environ))
        except Exception:
            log.exception("QA page access hook failed")
            return False

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        if not self.allowed(request):
            return self.middleware.pass_to_app(environ, start_response)
        sub_path = request.path[len(self.route) :] if request.path.startswith(self.route) else ""
        if QA_QUERY_PARAM in request.args and self.token_variations(request) is not None:
            response: Response = _redirect(request.script_root + self.route)  # the token leaves the URL
            self._set_token_cookie(response, request.args[QA_QUERY_PARAM], request)
        elif sub_path == "" and request.path != self.route:
            response = _redirect(request.script_root + self.route)
        elif sub_path == "":
            response = self.page(request) if request.method != "POST" else self.choose(request)
        elif sub_path == MATRIX_PATH:
            svg = render_svg(variation_matrix(self.middleware.trees))
            response = Response(svg, mimetype="image/svg+xml")
        else:
            return self.middleware.pass_to_app(environ, start_response)
        response.headers["Cache-Control"] = NO_STORE
        response.headers["X-Robots-Tag"] = "noindex"
        response.headers["Referrer-Policy"] = "same-origin"
        return response(environ, start_response)

    def page(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return Response("405 use GET, HEAD or POST\n", status=405, headers={"Allow": "GET, HEAD, POST"})
        resolver = self.middleware.resolver(request.environ)
        report = build_report(self.middleware, resolver, self.layers, self.middleware.development)
        if not self._admitted_without_token(request):
            grant = self.token_grant(request)
            report.access_ends = grant.expires if grant is not None else None
        html = render_page(
            report,
            action=request.script_root + self.route,
            app_url=safe_next(request.args.get(NEXT_FIELD), request.script_root + "/"),
            changed=request.args.get("changed") is not None,
        )
        return Response(html, mimetype="text/html")

    def choose(self, request: Request) -> Response:
        """Set the override for this browser from the form, then back to the page (or `next`)."""
        if _cross_site(request):
            return Response("403 cross-site form\n", status=403, mimetype="text/plain")
        known = {v.id for v in self.middleware.trees.variations}
        picked = [name for key, name in request.form.items(multi=True) if key.startswith(VARIATION_FIELD)]
        chosen = [v.id for v in self.middleware.trees.variations if v.id in set(picked) & known]
        target = request.form.get(NEXT_FIELD)
        page = request.script_root + self.route + "?changed"
        response = _redirect(safe_next(target, page) if target else page)
        not_after = None
        if not self._admitted_without_token(request):  # in by a token: the new one ends with it
            grant = self.token_grant(request)
            not_after = grant.expires if grant is not None else time.time()
        self.set_override(response, chosen, request, not_after=not_after)
        return response

    def set_override(
        self, response: Response, chosen: Sequence[str], request: Request, not_after: float | None = None
    ) -> None:
        """Make this browser get `chosen`: a signed QA token of this project (it outranks the
        app's own choice and keeps the page open in production), never valid past `not_after`
        (the token that let this browser in), when the app has a secret; else (development
        without a secret) the variations cookie."""
        secret = self.middleware.secret_key
        if secret:
            token = sign_qa_token(
                secret, chosen, QA_TOKEN_TTL_SECONDS,
                project=self.middleware.trees.config.config_id, not_after=not_after,
            )
            self._set_token_cookie(response, token, request)
            return
        path = request.script_root or "/"
        name = self.middleware.cookie_name
        if chosen:
            response.set_cookie(name, ",".join(chosen), path=path, samesite="Lax", httponly=True)
        else:
            response.set_cookie(name, "", path=path, samesite="Lax", httponly=True)  # base, not assigned

    def _set_token_cookie(self, response: Response, token: str, request: Request) -> None:
        response.set_cookie(
            QA_COOKIE_NAME,
            token,
            path=request.script_root or "/",
            samesite="Lax",
            httponly=True,
            secure=request.scheme == "https",
        )


def safe_next(value: str | None, default: str) -> str:
    """A same-origin path to go back to; anything else (another host, a scheme) is the default."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    parts = urlsplit(value)
    return default if parts.scheme or parts.netloc else value


def _cross_site(request: Request) -> bool:
    """A form post from another site (browsers say so in Sec-Fetch-Site, or Origin differs)."""
    if request.headers.get("Sec-Fetch-Site") == "cross-site":
        return True
    origin = request.headers.get("Origin")
    return bool(origin) and origin != "null" and urlsplit(origin).netloc != request.host


def _redirect(location: str) -> Response:
    return Response("", status=303, headers={"Location": location})


# --------------------------------------------------------------------------- HTML

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
        here = Markup("<strong>{}</strong> ({})").format(got.variation or "control", got.reason) if got else Markup("&mdash;")
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
        inherits = Markup(" <span class=\"note\">(inherits {})</span>").format(", ".join(v.inherits)) if v.inherits else ""
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
        "<tr><th scope=\"row\">size</th><td>{raw} raw, {gz} gzip, {files} files</td></tr>"
        "<tr><th scope=\"row\">conflicts</th><td>{conflicts}</td></tr></tbody></table>{table}"
    ).format(
        id=info.id, hash=info.hash, url=info.url, raw=_size(info.raw_bytes), gz=_size(info.gzip_bytes),
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

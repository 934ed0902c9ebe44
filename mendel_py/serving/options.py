"""`ServingOptions`, every option of `MendelMiddleware` in one place, and `SETTINGS`, the one table
that maps a framework's settings (Flask's ``MENDEL_*`` keys today) onto those options and onto
the trees' settings.

    options = ServingOptions(cookie_name="ab", integrity=True)
    MendelMiddleware(app, trees, options)               # or MendelMiddleware(app, trees, integrity=True)

This module sits below the middleware, the request resolver and the QA page (it imports none of
them), so each of them can take the options without importing the others.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.trees import DEFAULT_CACHE_BYTES as WALK_CACHE_BYTES
from ..deploy.reloader import DEFAULT_RELOAD_INTERVAL
from ..experiments.exposures import DEFAULT_WINDOW_SECONDS, ExposureHandler
from .bundles import BUNDLE_CACHE_BYTES, DEFAULT_MAX_COLD_PACKS
from .store import DEFAULT_STORE_BYTES

__all__ = [
    "DEFAULT_BOT_PATTERN",
    "DEFAULT_COOKIE_NAME",
    "DEFAULT_QA_ROUTE",
    "DEFAULT_STICKY_COOKIE",
    "DEFAULT_UNIT_COOKIE",
    "PAGE_CACHING",
    "SETTINGS",
    "Authorize",
    "QAAccess",
    "ServingOptions",
    "Setting",
    "UnitLoader",
    "VariationsLoader",
    "development_from_environment",
    "development_setting",
    "settings_table",
]

DEFAULT_COOKIE_NAME = "mendel_variations"
DEFAULT_UNIT_COOKIE = "mendel_uid"
DEFAULT_STICKY_COOKIE = "mendel_sticky"
DEFAULT_QA_ROUTE = "/_mendel/"
PAGE_CACHING = ("private", "vary", "off")

DEFAULT_BOT_PATTERN = (
    r"bot\b|bot/|crawl|spider|slurp|mediapartners|adsbot|feedfetcher|facebookexternalhit|bingpreview"
    r"|embedly|ia_archiver|pingdom"
)
"""The default user-agent rule (case-insensitive search): search and ad crawlers, link-preview
fetchers, archivers and uptime checkers. A request without a User-Agent is not a bot, nor is a
headless browser (end-to-end tests and QA run in one; add it with `bot_pattern=` if crawlers
that render pages should count as bots). Override with `bot_pattern=` (a regular
expression) or `is_bot=` (a function of the environ)."""

VariationsLoader = Callable[[dict[str, Any]], "Iterable[str] | str | None"]
UnitLoader = Callable[[dict[str, Any]], "str | None"]
QAAccess = Callable[[dict[str, Any]], bool]
Authorize = Callable[[dict[str, Any]], bool]
BotRule = Callable[[dict[str, Any]], bool]

_TRUE_WORDS = ("1", "true", "yes", "on")


def development_from_environment() -> bool:
    """Whether the MENDEL_DEV environment variable turns development on ("1", "true", "yes",
    "on"); `mendel dev` sets it. A framework's debug flag never does."""
    return os.environ.get("MENDEL_DEV", "").strip().lower() in _TRUE_WORDS


def development_setting(value: Any) -> bool:
    """A MENDEL_DEV setting when set, else the MENDEL_DEV environment variable ("1", "true",
    "yes", "on"); a framework's debug flag never turns development features on."""
    if value is None:
        return development_from_environment()
    if isinstance(value, str):
        return value.strip().lower() in _TRUE_WORDS
    return bool(value)


@dataclass(frozen=True)
class ServingOptions:
    """Every option of `MendelMiddleware` (its keyword arguments are these fields)."""

    variations_loader: VariationsLoader | None = None
    """`loader(environ)`: the request's variation ids (a list or "a,b"); its answer is final
    (None: no variations). See `mendel_py.request` for the order of the sources."""
    cookie_name: str = DEFAULT_COOKIE_NAME
    """The cookie with comma-separated variation ids."""
    query_override: bool = False
    """`?mendel=a,b` picks variations: anyone can then, so keep it off unless gated by auth."""
    cache_bytes: int = BUNDLE_CACHE_BYTES
    """Budget of the packed-bundle cache, all content codings counted."""
    store_dir: str | os.PathLike[str] | None = None
    """Folder of the on-disk bundle store shared by the workers of a host (`store.py`); None keeps
    bundles in memory only."""
    store_bytes: int = DEFAULT_STORE_BYTES
    """Bound of the on-disk bundle store."""
    store_public: bool = False
    """Also link each stored bundle at ``<store_dir>/public/<URL path>`` (``.gz``/``.br`` beside
    it) for a web server to serve warm bundles itself (examples/nginx.conf)."""
    max_cold_packs: int = DEFAULT_MAX_COLD_PACKS
    """Bundle requests of a process that may pack at once; a short bounded queue waits, more get a
    503 (``Retry-After``, ``no-store``)."""
    metrics_route: str | None = None
    """Serve the Prometheus text of this worker's metrics at this path to requests `metrics_access`
    admits (others go to the app); off by default."""
    metrics_access: Authorize | None = None
    """`check(environ) -> bool`: who may read `metrics_route` (required with it: metrics are never
    public)."""
    recompress: bool = False
    """Re-encode a compressed bundle asked for again at the best levels (gzip 9, brotli 9), off the
    request path (`mendel_py.recompress`)."""
    route: str | None = None
    """The bundle URL pattern; None: the config's `route-config.hash`."""
    url_prefix: str = ""
    """Put in front of built bundle URLs (a CDN origin or a mount path) instead of the request's
    SCRIPT_NAME; requests are matched on PATH_INFO without it."""
    development: bool | None = None
    """Source maps and an open QA page; None follows the MENDEL_DEV environment variable (`mendel
    dev` sets it), never a framework's debug flag."""
    integrity: bool = False
    """Bundle tags carry Subresource Integrity (``integrity="sha384-..."``, with ``crossorigin``
    when `url_prefix` is another origin) unless a call says otherwise."""
    preload: str | None = None
    """"preload" or "modulepreload": a `Link` header for the bundles a page's response used; None:
    no header."""
    qa_route: str | None = DEFAULT_QA_ROUTE
    """Where the QA page lives (`mendel_py.qa`); None turns it off."""
    qa_access: QAAccess | None = None
    """`check(environ) -> bool`: who may open the QA page outside development without a QA token
    (the app's own auth)."""
    qa_layers: Mapping[str, Sequence[str]] | None = None
    """{layer: variation ids} when a visitor has one variation per layer; the QA page groups them
    so (one choice per layer)."""
    secret_key: str | bytes | None = None
    """The app's secret (default the MENDEL_SECRET environment variable): signs QA tokens and the
    sticky assignment cookie; with experiments configured and no secret, start-up stops."""
    reload_interval: float | None = DEFAULT_RELOAD_INTERVAL
    """Seconds between looks for a new generation (`mendel_py.reloader`); None or 0: no hot reload."""
    unit_loader: UnitLoader | None = None
    """`loader(environ)`: the experiment unit (a user id) when the app knows it, else None and an
    anonymous id in `unit_cookie` is used."""
    unit_cookie: str = DEFAULT_UNIT_COOKIE
    """The cookie with the anonymous experiment unit id."""
    sticky_cookie: str | None = DEFAULT_STICKY_COOKIE
    """The cookie keeping experiment assignments (None: not kept)."""
    on_exposure: ExposureHandler | None = None
    """`handler(exposure)`: where exposures go (default: `exposure_log`; see `mendel_py.exposures`)."""
    page_caching: str = "private"
    """How a page that used the resolver is marked for caches: "private" (`Cache-Control: private`,
    `Vary: Cookie`), "vary" (`Vary: Cookie` only, for a CDN keyed on the unit cookie) or "off"."""
    visitor_choice: bool = False
    """Let the variations cookie pick a visitor's variations even when experiments are configured
    (no assignment, no exposure then): for demos and internal tools."""
    is_bot: BotRule | None = None
    """`rule(environ) -> bool`: which requests are crawlers' (they get each experiment's `bots` arm
    and make no exposure); None: a User-Agent matching `bot_pattern`."""
    bot_pattern: str | None = None
    """The regular expression of crawlers' User-Agent; None: `DEFAULT_BOT_PATTERN`."""
    exposure_log: str | os.PathLike[str] | None = None
    """Where exposures go without `on_exposure`: None (the MENDEL_EXPOSURE_LOG variable, else
    stderr), a file path (JSON lines appended), "-" for stderr, or "off"."""
    exposure_window: float | None = DEFAULT_WINDOW_SECONDS
    """Seconds within which a unit's exposure to an experiment's arm is recorded once per worker
    (0 records every page view)."""

    @classmethod
    def from_keywords(cls, options: ServingOptions | None = None, **keywords: Any) -> ServingOptions:
        """`options` (default: all defaults) with the keyword options put in; an unknown keyword
        is a TypeError naming it, as for any function."""
        unknown = sorted(set(keywords) - _FIELD_NAMES)
        if unknown:
            names = ", ".join(map(repr, unknown))
            raise TypeError(f"unexpected keyword argument(s): {names} (not a ServingOptions field)")
        base = options if options is not None else cls()
        return dataclasses.replace(base, **keywords) if keywords else base


_FIELD_NAMES = frozenset(field.name for field in dataclasses.fields(ServingOptions))


# ----------------------------------------------------------------------------- settings

OPTIONS = "options"
"""`Setting.target`: a `ServingOptions` field."""
TREES = "trees"
"""`Setting.target`: an argument of `MendelTrees` (the manifests, hashes, walk cache)."""
EXTENSION = "extension"
"""`Setting.target`: a framework extension's own setting (Flask: templates, the status view)."""


def _keep(value: Any) -> Any:
    return value


def _flag(value: Any) -> bool:
    return bool(value)


def _or_none(value: Any) -> Any:
    return value or None


def _or_empty(value: Any) -> str:
    return value or ""


def _interval(value: Any) -> float | None:
    return float(value or 0) or None


def _seconds(value: Any) -> float:
    return float(value or 0)


@dataclass(frozen=True)
class Setting:
    """One framework setting: its key, what it sets, how its value is read, its default and doc."""

    key: str
    """The setting's name (Flask: the `app.config` key)."""
    field: str
    """The `ServingOptions` field, `MendelTrees` argument or extension setting it sets."""
    doc: str
    """One line for the table of settings."""
    default: Any = None
    """The value when the setting is not given."""
    parse: Callable[[Any], Any] = _keep
    """The setting's value -> the option's value."""
    target: str = OPTIONS
    """`OPTIONS`, `TREES` or `EXTENSION` (a framework's own: not every adapter has it)."""
    frameworks: tuple[str, ...] = ("Flask", "Django")
    """For an `EXTENSION` setting: the adapters that have it."""

    @property
    def django_key(self) -> str:
        """The key in Django's ``MENDEL = {...}`` dict: the name without ``MENDEL_``."""
        return self.key.removeprefix("MENDEL_")


_DEFAULTS = ServingOptions()


def _option(key: str, field: str, doc: str, parse: Callable[[Any], Any] = _keep) -> Setting:
    return Setting(key, field, doc, getattr(_DEFAULTS, field), parse)


SETTINGS: tuple[Setting, ...] = (
    Setting("MENDEL_BASEDIR", "basedir", "folder with `.mendelrc` (or below it); default the app's root", target=TREES),
    Setting("MENDEL_HASH_FORMAT", "hash_format", '"v3" (default), "mendel-v1" or "mendel-v2"', target=TREES),
    Setting("MENDEL_HASH_KEY", "hash_key", "secret for keyed v3 hashes", target=TREES),
    _option("MENDEL_COOKIE_NAME", "cookie_name", 'cookie with comma-separated variation ids ("mendel_variations")'),
    _option("MENDEL_QUERY_OVERRIDE", "query_override",
            "allow `?mendel=a,b` to pick variations (default False: gate it behind authentication)", _flag),
    _option("MENDEL_ROUTE", "route", "bundle route; default the `.mendelrc` route-config, `/mendel/:hash/:bundle`"),
    Setting("MENDEL_WALK_CACHE_BYTES", "cache_bytes", "bytes of memoized walks (chains, trees, plans; default 64 MiB)",
            WALK_CACHE_BYTES, int, TREES),
    Setting("MENDEL_CACHE_SIZE", "cache_size", "deprecated (an entry count) and ignored: see MENDEL_WALK_CACHE_BYTES",
            target=TREES),
    _option("MENDEL_CACHE_BYTES", "cache_bytes", "bytes of packed bundles kept in memory (default 64 MiB)", int),
    _option("MENDEL_STORE_DIR", "store_dir",
            "folder of the on-disk bundle store the workers of a host share (packed and compressed once"
            " per host, served with sendfile; default: none)", _or_none),
    _option("MENDEL_STORE_BYTES", "store_bytes", "bound of that store (default 1 GiB)", int),
    _option("MENDEL_STORE_PUBLIC", "store_public",
            "also link stored bundles at `<store>/public/<URL path>` (+ .gz/.br) for a web server to serve"
            ' warm ones itself ("Behind nginx"; default False)', _flag),
    _option("MENDEL_RECOMPRESS", "recompress",
            "re-encode bundles asked for again at gzip 9 / brotli 9 on a background thread (default False:"
            " for origins serving bundles without a CDN)", _flag),
    _option("MENDEL_URL_PREFIX", "url_prefix", 'CDN origin put in front of bundle URLs, e.g. "https://cdn.example.com"',
            _or_empty),
    Setting("MENDEL_ENV", "env", "`.mendelrc` env section to merge (default: the MENDEL_ENV variable)", target=TREES),
    Setting("MENDEL_TEMPLATES", "templates",
            "pick templates from the variation folders (default: on when the base folder has a `templates/` folder)",
            target=EXTENSION),
    Setting("MENDEL_GENERATIONS", "generations",
            'generation store folder (relative to the project) or "off"; default the MENDEL_GENERATIONS'
            " variable, `generations.dir`, `manifests/generations`", target=TREES),
    _option("MENDEL_RELOAD_INTERVAL", "reload_interval",
            "seconds between looks for a new generation (default 1; 0 turns it off)", _interval),
    Setting("MENDEL_STATUS_ROUTE", "status_route",
            "a JSON status view (generation, loaded generations, caches) at this app route, behind the"
            " app's own auth hooks; default None (off)", target=EXTENSION, frameworks=("Flask",)),
    _option("MENDEL_QA_ROUTE", "qa_route", 'the QA page ("/_mendel/"; None turns it off)', _or_none),
    _option("MENDEL_QA_LAYERS", "qa_layers", "{layer: [variation ids]}: the QA page offers one choice per layer"),
    _option("MENDEL_DEV", "development",
            "development mode: the QA page is open to everyone and bundles point at source maps (default:"
            " the MENDEL_DEV environment variable; `mendel dev` turns it on); never a framework's debug flag",
            development_setting),
    _option("MENDEL_INTEGRITY", "integrity",
            'bundle tags carry `integrity="sha384-..."` (+ `crossorigin` when MENDEL_URL_PREFIX is another'
            " origin); per tag: `integrity=False/True`", _flag),
    _option("MENDEL_UNIT_COOKIE", "unit_cookie",
            'cookie with the anonymous experiment unit id ("mendel_uid"); an app\'s unit loader (a user'
            " id) takes precedence"),
    _option("MENDEL_STICKY_COOKIE", "sticky_cookie",
            'cookie keeping experiment assignments ("mendel_sticky"; None: off)', _or_none),
    _option("MENDEL_PAGE_CACHING", "page_caching",
            'pages that used Mendel: "private" (Cache-Control private + Vary: Cookie, default), "vary"'
            ' (Vary: Cookie only) or "off"'),
    _option("MENDEL_PRELOAD", "preload",
            '"preload" or "modulepreload": a `Link` header preloads the bundles the page used (default'
            " None: no header)", _or_none),
    _option("MENDEL_SECRET", "secret_key",
            "the secret that signs QA tokens and sticky assignments when the framework's secret (Flask:"
            " SECRET_KEY) is not set (also the MENDEL_SECRET environment variable); required with experiments"),
    _option("MENDEL_VISITOR_CHOICE", "visitor_choice",
            "let the variations cookie choose a visitor's variations even with experiments configured (no"
            " assignment, no exposure): demos and internal tools only; default False", _flag),
    _option("MENDEL_BOT_PATTERN", "bot_pattern",
            "regular expression for crawlers' User-Agent (default `DEFAULT_BOT_PATTERN`); an app's bot rule"
            " overrides it"),
    _option("MENDEL_EXPOSURE_LOG", "exposure_log",
            'without an on_exposure callback, exposures go here as JSON lines: a file path, "-" for stderr'
            ' (default: the MENDEL_EXPOSURE_LOG variable, else stderr), "off"'),
    _option("MENDEL_EXPOSURE_WINDOW", "exposure_window",
            "seconds within which one unit's exposure to an arm is recorded once per worker (default 1800;"
            " 0: every page view)", _seconds),
)
"""Every framework setting, once: a Flask ``MENDEL_*`` key (in Django's ``MENDEL = {...}`` dict the
same name without the prefix: `Setting.django_key`) with the option it sets. An ASGI app passes
the options (`ServingOptions` fields) to the middleware itself."""


def setting_defaults() -> dict[str, Any]:
    """{key: default} of every setting."""
    return {setting.key: setting.default for setting in SETTINGS}


def serving_options(values: Mapping[str, Any], **runtime: Any) -> ServingOptions:
    """The `ServingOptions` of a framework's settings (`values`: {key: value}; a missing key is its
    default), with `runtime` (hooks the adapter makes: loaders, access checks...) put in."""
    found: dict[str, Any] = {}
    for setting in SETTINGS:
        if setting.target == OPTIONS:
            found[setting.field] = setting.parse(values.get(setting.key, setting.default))
    return ServingOptions.from_keywords(**{**found, **runtime})


def tree_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    """{MendelTrees argument: value} of a framework's settings (a missing key is its default)."""
    return {
        setting.field: setting.parse(values.get(setting.key, setting.default))
        for setting in SETTINGS if setting.target == TREES
    }


def settings_table() -> str:
    """The README's table of settings (Markdown), made from `SETTINGS`; a test keeps the two equal."""
    lines = ["| Flask `app.config` | Django `MENDEL[...]` | Sets | What it does |", "| --- | --- | --- | --- |"]
    for setting in SETTINGS:
        where = {
            OPTIONS: f"`{setting.field}=`",
            TREES: f"`MendelTrees({setting.field}=)`",
            EXTENSION: " and ".join(setting.frameworks) + " only",
        }[setting.target]
        django = f'`"{setting.django_key}"`' if setting.target != EXTENSION or "Django" in setting.frameworks else "-"
        lines.append(f"| `{setting.key}` | {django} | {where} | {setting.doc} |")
    return "\n".join(lines) + "\n"

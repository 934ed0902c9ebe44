"""RequestResolver: the per-request Mendel object (what mendel-middleware puts in `req.mendel`).

It owns the per-request policy: which variations the request is in, and under which script root
its bundle URLs go. Variations come from the first source that answers, in this order (each a
method a subclass may override; Flask's resolver overrides `app_variations`):

1. `set_variations(names)` called by the app before first use;
2. `qa_variations()`: a signed, unexpired QA token (`mendel_py.qa`) from a QA link's
   `?mendel_qa=` (then kept in a cookie) or the QA cookie; never an exposure;
3. `override_variations()`: `?mendel=a,b` -- only with `query_override=True`, for development:
   it lets anyone pick any variation;
4. `app_variations()`: the app's `variations_loader(environ)`, when configured (its answer is
   final: None means no variations);
5. `cookie_variations()`: the cookie `cookie_name` (default ``mendel_variations``), comma-separated
   ids, when present (an empty one means base); a cookie header that isn't UTF-8 counts as absent.
   With experiments configured it is read only under the explicit opt-in `visitor_choice=True`
   (Flask `MENDEL_VISITOR_CHOICE`, for demos and internal tools) or in development: then it
   decides outright, with no assignment and no exposure. Otherwise it never overrides an
   assignment;
6. `assigned_variations()`: the `.mendelrc` experiments (`mendel_py.experiments`) for this
   request's unit: the app's `unit_loader(environ)`, else an anonymous id in the `unit_cookie`
   (set on the page response: HttpOnly, SameSite=Lax, Secure over HTTPS), with sticky records in
   the `sticky_cookie`, signed with the app's secret (itsdangerous) and bound to the unit: an
   unsigned, re-signed or another unit's record is ignored, and so is one the configuration no
   longer allows (`mendel_py.experiments`). A bot (`is_bot`: the user-agent rule, overridable)
   gets each experiment's `bots` arm (control by default), no cookies and no exposure; the rule
   never applies to the sources above (a QA link, the opt-in cookie).

Exposures (`mendel_py.exposures`) are recorded as bundle URLs are built, only for assignments of
source 6 whose arm the bundle's tree really shows, once per unit and experiment within a window.

A response whose page used the resolver is marked for caches (`page_caching`: "private" adds
`Cache-Control: private` and `Vary: Cookie`; "vary" only the Vary; "off" nothing), and carries
the cookies the resolver set; bundle responses never pass through here.

Names are split and stripped here, once; `MendelTrees` drops the ones it doesn't know.
"""
from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from functools import lru_cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol, TypeVar
from urllib.parse import parse_qsl, unquote

from itsdangerous import BadData, URLSafeSerializer
from markupsafe import Markup
from werkzeug.datastructures import Headers
from werkzeug.http import dump_cookie
from werkzeug.sansio.http import parse_cookie

from ..config.names import split_variation_names
from ..errors import MendelError
from ..experiments.assignment import EXPOSURE_REASONS, experiment_set
from ..experiments.exposures import Exposure, ExposureDedup, ExposureHandler, record
from ..qa.tokens import QA_COOKIE_NAME, QA_QUERY_PARAM, read_qa_token
from . import html as tags
from .http_compat import parse_response_cache_control, parse_set
from .options import (  # noqa: F401  (the defaults' home was here: `mendel_py.request.DEFAULT_BOT_PATTERN`)
    DEFAULT_BOT_PATTERN,
    DEFAULT_COOKIE_NAME,
    DEFAULT_STICKY_COOKIE,
    DEFAULT_UNIT_COOKIE,
    PAGE_CACHING,
    ServingOptions,
    UnitLoader,
    VariationsLoader,
)

if TYPE_CHECKING:
    from ..config.model import Variation
    from ..core.trees import MendelTrees, Tree
    from ..experiments.assignment import Assignment
    from .route import BundleRoute

log = logging.getLogger(__name__)

QUERY_OVERRIDE_PARAM = "mendel"
UNIT_COOKIE_MAX_AGE = 2 * 365 * 24 * 3600
_UNIT_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
_STICKY_RECORD = re.compile(r"([A-Za-z0-9_-]+)\.(\d{1,4})\.(\d{1,4})")
_STICKY_SALT = "mendel_py sticky assignments"
_STICKY_MAX_LENGTH = 4096
ARM_SHOWS_MEMO_SIZE = 4096
"""Judgements a middleware keeps (keys of configured ids only: a few hundred bytes each)."""
ASSIGNED = "experiment assignment"
"""The name of source 6 (`decided_by`): the only one whose assignments can be exposures."""


current_resolver: ContextVar[RequestResolver | None] = ContextVar("mendel_current_resolver", default=None)
"""The resolver of the request being handled, for adapters whose templates can't reach the request
(the ASGI and Django middleware set it; the Flask extension uses Flask's request context)."""


class ResolverHost(Protocol):
    """What a `RequestResolver` needs of the server that made it: the options and trees, plus
    the state made from them at start-up (`MendelMiddleware` is one; a test may pass another)."""

    options: ServingOptions
    trees: MendelTrees
    route: BundleRoute
    secret_key: str | bytes | None
    """The secret in use (the option's, the MENDEL_SECRET variable's or a development one)."""
    development: bool
    is_bot: Callable[[dict[str, Any]], bool]
    exposure_dedup: ExposureDedup
    arm_shows_memo: dict[tuple[Any, ...], bool]

    @property
    def exposure_handler(self) -> ExposureHandler | None: ...

    def url_for_hash(self, bundle: str, hash: str) -> str: ...

    def tree_integrity(self, bundle: str, tree: Tree) -> str: ...

    def is_css(self, bundle: str) -> bool: ...


def user_agent_is_bot(environ: dict[str, Any], pattern: re.Pattern[str]) -> bool:
    """The default bot rule: a User-Agent matching `pattern`; none at all is a person."""
    agent = environ.get("HTTP_USER_AGENT")
    return agent is not None and agent != "" and pattern.search(agent) is not None


def sticky_serializer(secret: Any) -> URLSafeSerializer:
    """Signs the sticky cookie (a list of keys rotates: the last signs, any verifies)."""
    keys = list(secret) if isinstance(secret, (list, tuple)) else [secret]
    return URLSafeSerializer(keys, salt=_STICKY_SALT)


def sign_sticky(secret: Any, unit: str, records: dict[str, tuple[int, int]]) -> str:
    """The sticky cookie value: the unit's records, signed and bound to the unit."""
    return sticky_serializer(secret).dumps({"u": unit, "r": write_sticky(records)})


def read_signed_sticky(secret: Any, unit: str, value: str | None) -> dict[str, tuple[int, int]]:
    """The records of a sticky cookie signed with `secret` for `unit`; {} for anything else
    (unsigned, signed with another key, another unit's, malformed)."""
    if not value or not secret or len(value) > _STICKY_MAX_LENGTH:
        return {}
    keys = tuple(secret) if isinstance(secret, (list, tuple)) else (secret,)
    return dict(_verified_sticky(keys, unit, value))


@lru_cache(maxsize=4096)
def _verified_sticky(keys: tuple[Any, ...], unit: str, value: str) -> tuple[tuple[str, tuple[int, int]], ...]:
    """The checked records of one cookie value (memoized: a returning visitor sends the same
    value every time, and an HMAC per request is the larger part of reading it)."""
    try:
        payload = sticky_serializer(list(keys)).loads(value)
    except BadData:
        log.info("mendel: ignoring a sticky cookie with a bad signature")
        return ()
    if not isinstance(payload, dict) or payload.get("u") != unit or not isinstance(payload.get("r"), str):
        log.info("mendel: ignoring a sticky cookie of another unit")
        return ()
    return tuple(read_sticky(payload["r"]).items())

def request_cookies(environ: dict[str, Any]) -> Mapping[str, str]:
    """Every request cookie. werkzeug decodes the whole header strictly, so one bad byte in any
    cookie would raise; here the header is decoded leniently and `cookie_value` judges only the
    value asked for."""
    header = environ.get("HTTP_COOKIE")
    if not header:
        return {}
    return parse_cookie(header.encode("latin-1", "replace").decode("utf-8", "replace"))


def cookie_value(cookies: Mapping[str, str], cookie_name: str) -> str | None:
    """The cookie's value; None when absent or not readable as UTF-8 text."""
    value = cookies.get(cookie_name)
    if value is not None and "\ufffd" in value:
        log.debug("cookie %r is not UTF-8 text; ignored", cookie_name)
        return None
    return value


def read_sticky(value: str | None) -> dict[str, tuple[int, int]]:
    """`key.bucketversion.index|...` (experiment keys and indexes, never folder names)."""
    records: dict[str, tuple[int, int]] = {}
    for part in (value or "").split("|"):
        found = _STICKY_RECORD.fullmatch(part)
        if found:
            records[found.group(1)] = (int(found.group(2)), int(found.group(3)))
    return records


def write_sticky(records: dict[str, tuple[int, int]]) -> str:
    return "|".join(f"{key}.{version}.{index}" for key, (version, index) in sorted(records.items()))


def query_values(environ: dict[str, Any], name: str) -> list[str] | None:
    """Every value of the query parameter `name`, or None when it is absent."""
    query = environ.get("QUERY_STRING") or ""
    if name not in query:  # most requests: no parse at all
        return None
    values = [v for k, v in parse_qsl(query, keep_blank_values=True) if k == name]
    return values or None


def variations_from_query(environ: dict[str, Any]) -> list[str] | None:
    """Variation ids from `?mendel=...` (repeatable), or None when the parameter is absent."""
    values = query_values(environ, QUERY_OVERRIDE_PARAM)
    return split_variation_names(values) if values else None


TagMethod = Callable[..., Markup]


def _tag_method(write: Callable[..., str], doc: str) -> TagMethod:
    """`RequestResolver.script_tag` or `stylesheet_tag`: the tag `write` makes for a bundle. Without
    extra attributes it comes from this request key's memo entry (`_remembered_tag` makes and keeps
    it the first time): one dictionary lookup, inline, for a page's every tag."""

    def tag(self: RequestResolver, bundle: str, integrity: bool | None = None, **attributes: Any) -> Markup:
        if not attributes:
            entry = self._entry
            if entry is False and self._variations is None:  # (the page's first tag: its memo entry)
                entry = self._remembered()
            if entry:
                try:
                    found = entry.tags[write if integrity is None else (write, integrity)][bundle]
                except KeyError:  # (once per request key and tag: `_remembered_tag` makes it)
                    pass
                else:
                    self._used[bundle] = None
                    return found
            return self._remembered_tag(bundle, integrity, write)
        return Markup(write(self.bundle_url(bundle), {**self.tag_attributes(bundle, integrity), **attributes}))

    tag.__name__ = write.__name__
    tag.__qualname__ = f"RequestResolver.{write.__name__}"
    tag.__doc__ = doc
    return tag


class RequestResolver:
    """Per-request variations, trees and bundle URLs, Mendel-middleware style.

    `middleware` (a `ResolverHost`: the `MendelMiddleware`) carries the options, the trees and
    what start-up made of them; `environ` is the request's.
    """

    # what few pages touch starts as the class's (no store per request; the first write makes it
    # the instance's)
    _unit: str | None = None
    _exposed: set[str] | None = None  # experiments this request recorded (or found recorded); made when asked
    is_bot_request: bool | None = None
    """Whether the request is a crawler's (`is_bot`), once asked."""
    _request_cookies: Mapping[str, str] | None = None

    def __init__(self, middleware: ResolverHost, environ: dict[str, Any] | None = None):
        # (every attribute a page reads is set here, in one order: instances share one layout,
        # which CPython's attribute caches rely on; a class-level default would slow its reads.
        # The few that only the full policy reads are the class's, above)
        self.middleware = middleware
        self.options: ServingOptions = middleware.options
        self.trees: MendelTrees = middleware.trees
        self.environ = environ if environ is not None else {}
        self._variations: list[str] | None = None
        self._chains: list[list[str]] | None = None
        # (the containers most pages never write are shared empty ones until a write: a page's
        # resolver is made for every request, used or not)
        self._trees: Mapping[str, Tree] = _NOTHING
        self._used: dict[str, None] = {}  # bundles whose URL this request built, in order
        self.assignments: tuple[Assignment, ...] = ()
        """What the experiments gave this request's unit (empty unless they decided)."""
        self.decided_by: str | None = None
        """Which source of `variation_sources()` decided the variations, once they are set."""
        self.requested: list[str] = []
        """The names that source asked for (unknown ones included)."""
        self._cookies: Mapping[str, SetCookie] = _NOTHING  # cookies for the page response, by name
        self._entry: RequestEntry | None | Literal[False] = False  # False: not looked up yet (`_remembered`)

    # -- the per-request policy (override in subclasses) ------------------------------------

    def variation_sources(self) -> tuple[tuple[str, Callable[[], list[str] | None]], ...]:
        """The policy's sources in priority order, each with what to call it (the QA page says
        which one decided)."""
        return (
            ("a signed QA link", self.qa_variations),
            ("the ?mendel= override", self.override_variations),
            ("the app's variations loader", self.app_variations),
            ("the variations cookie", self.cookie_variations),
            (ASSIGNED, self.assigned_variations),
        )

    def requested_variations(self) -> list[str]:
        """Variation names asked for by this request, from the first source that answers."""
        for name, source in self.variation_sources():
            names = source()
            if names is not None:
                self.decided_by, self.requested = name, names
                return names
        return []

    def qa_variations(self) -> list[str] | None:
        """The variations of a valid signed QA token (`?mendel_qa=`, kept in a cookie, or the
        cookie); None without one. A bad or expired token is ignored (and logged)."""
        secret = self.middleware.secret_key
        if not secret:
            return None
        links = query_values(self.environ, QA_QUERY_PARAM)
        from_query = links[-1] if links else None
        token = from_query or self.cookie(QA_COOKIE_NAME)
        if not token:
            return None
        chosen = read_qa_token(secret, token, project=self.trees.config.config_id)
        if chosen is None:
            return None
        if from_query:
            self._set_cookie(QA_COOKIE_NAME, from_query, max_age=None)
        return list(chosen)

    def assigned_variations(self) -> list[str] | None:
        """The experiments' variations for this request's unit; None when none are configured."""
        experiments = experiment_set(self.trees.config)
        if not experiments:
            return None
        if self.is_bot():
            self.assignments = experiments.for_bots()
            return [a.variation for a in self.assignments if a.variation is not None]
        sticky_cookie = self.options.sticky_cookie
        secret = self.middleware.secret_key
        unit = self.unit_id()
        sticky = read_signed_sticky(secret, unit, self.cookie(sticky_cookie)) if sticky_cookie else {}
        self.assignments = experiments.assign(unit, sticky)
        kept = experiments.sticky_records(self.assignments)
        if sticky_cookie and secret and kept != sticky:
            self._set_cookie(sticky_cookie, sign_sticky(secret, unit, kept))
        return [a.variation for a in self.assignments if a.variation is not None]

    def is_bot(self) -> bool:
        """Whether this request is a crawler's (the middleware's `is_bot` rule; memoized)."""
        if self.is_bot_request is None:
            self.is_bot_request = bool(self.middleware.is_bot(self.environ))
        return self.is_bot_request

    def unit_id(self) -> str:
        """The experiment unit: the app's `unit_loader(environ)`, else the anonymous id of the
        unit cookie, else a new random one (set on the page response)."""
        if self._unit is None:
            loader = self.options.unit_loader
            unit = loader(self.environ) if loader is not None else None
            if unit is None:
                unit = self.cookie(self.options.unit_cookie)
                if unit is None or not _UNIT_ID.fullmatch(unit):
                    unit = secrets.token_urlsafe(16)
                    self._set_cookie(self.options.unit_cookie, unit)
            self._unit = str(unit)
        return self._unit

    def override_variations(self) -> list[str] | None:
        """`?mendel=a,b` when the override is enabled and present, else None."""
        if not self.options.query_override:
            return None
        return variations_from_query(self.environ)

    def app_loader_configured(self) -> bool:
        """Whether `app_variations` may answer (an app hook is configured): such requests are never
        answered from the host's request memo."""
        return self.options.variations_loader is not None

    def app_variations(self) -> list[str] | None:
        """The app's loader's answer when one is configured, else None."""
        loader = self.options.variations_loader
        if loader is None:
            return None
        return split_variation_names(loader(self.environ))

    def cookie_variations(self) -> list[str] | None:
        """Names in the variations cookie when it is present (empty: base); None when absent.
        Without experiments, absent means base too. With experiments it is read only under the
        `visitor_choice` opt-in: otherwise the server assigns, whatever the cookie says."""
        experiments = bool(self.trees.config.experiments)
        if experiments and not (self.options.visitor_choice or self.middleware.development):
            return None  # (development: `mendel dev` or an explicit MENDEL_DEV, never in production)
        name = self.options.cookie_name
        raw = self.cookie(name) if name else None
        if raw is None:
            return None if experiments else []
        return split_variation_names(unquote(raw))

    def cookie(self, name: str) -> str | None:
        """A request cookie (the header parsed once per request); None when absent or not
        UTF-8 text."""
        if self._request_cookies is None:
            self._request_cookies = request_cookies(self.environ)
        return cookie_value(self._request_cookies, name)

    def script_root(self) -> str:
        """What goes before the route in this request's bundle URLs: the mount point
        (SCRIPT_NAME), unless a URL prefix (a CDN origin) replaces it."""
        return self._root_for(self.environ.get("SCRIPT_NAME", ""))

    def _root_for(self, script_name: str) -> str:
        return "" if self.middleware.route.url_prefix else script_name.rstrip("/")

    # -- the request's variations, trees and URLs -------------------------------------------

    @property
    def variations(self) -> list[str]:
        """The request's matching variation ids, base id last: the ones set, else (on first read)
        the ones its sources give (`load_variations`)."""
        return self.load_variations()

    @property
    def lookup_chains(self) -> list[list[str]]:
        """The lookup chains of the request's variations (base folder last), loaded as `variations`."""
        self.load_variations()
        return self._chains or []

    @property
    def variations_set(self) -> bool:
        """Whether this request's variations are set yet (by `set_variations` or a first use)."""
        return self._variations is not None

    def set_variations(self, names: Iterable[str] | str) -> list[str]:
        """Set this request's variations (first call wins); returns the matching ids incl. base."""
        if self._variations is None:
            self._variations, self._chains = self.trees.variations_and_chains(
                split_variation_names(names)
            )
        return self._variations

    def load_variations(self) -> list[str]:
        """Set variations from the request's sources unless already set; returns matching ids."""
        if self._variations is None:
            if self._entry is False:
                entry = self._remembered()
                if entry is not None:  # (it set the variations)
                    return entry.variations
            return self.set_variations(self.requested_variations())
        return self._variations

    # -- the request memo: what a request key decides, worked out once ----------------------

    def request_key(self) -> tuple[Any, ...] | None:
        """The key of this request in the host's `request_memo`, when its variations, trees, URLs
        and tags follow from the key alone: the generation, the variations cookie's value (or its
        absence, without experiments) and the script root, in the host's memo of its mode
        (development or not). None (the full policy runs) when another source could decide: a QA
        token in the query or a cookie, the ``?mendel=`` override, an app hook, experiments
        without visitor choice; or when the Cookie header needs the full parser (quotes,
        non-ASCII)."""
        inputs = self._memo_inputs()
        return self._key_of(inputs) if inputs is not None else None

    def _memo_inputs(self) -> tuple[Any, ...] | None:
        """All `request_key` reads of this request, with the generation: (generation, query, Cookie
        header, script name), the key of the host's `input_memo`; None when the key is None
        whatever they say (variations set already, a class with its own policy, an app hook,
        experiments that assign)."""
        if self._variations is not None:
            return None
        cls = type(self)
        shape = _MEMO_SHAPE.get(cls)
        if shape is None:
            shape = _memo_shape(cls)
        if not shape:
            return None
        options = self.options
        # (the base class's `app_loader_configured` and `_key_inputs` inline, when a class keeps them)
        if (self.app_loader_configured() if shape & _OWN_LOADER_CHECK else options.variations_loader is not None):
            return None
        trees = self.trees
        if not options.visitor_choice and trees.config.experiments and not self.middleware.development:
            return None
        if shape & _OWN_KEY_INPUTS:
            return (trees.generation, *self._key_inputs())
        environ = self.environ
        return (trees.generation, environ.get("QUERY_STRING"), environ.get("HTTP_COOKIE"),
                environ.get("SCRIPT_NAME", ""))

    def _key_of(self, inputs: tuple[Any, ...]) -> tuple[Any, ...] | None:
        """`request_key` from `_memo_inputs`."""
        generation, query, header, script_name = inputs
        options = self.options
        if query and (QA_QUERY_PARAM in query or (options.query_override and QUERY_OVERRIDE_PARAM in query)):
            return None
        if header and len(header) > MEMO_HEADER_BYTES:
            return None  # (a flood of long made-up cookies must not fill the memos: the full policy)
        value = _cookie_key(header, options.cookie_name) if header else None
        if value is _NOT_A_KEY:
            return None
        if value is None and self.trees.config.experiments:
            return None  # (the experiments assign)
        # (`script_root`, which a memo-safe class keeps, of the same SCRIPT_NAME: "" for an app at
        # the root, whatever the rule)
        return (generation, value, self._root_for(script_name) if script_name else "")

    def _key_inputs(self) -> tuple[str | None, str | None, str]:
        """QUERY_STRING, the Cookie header and SCRIPT_NAME of this request: all `request_key` reads
        of it (an adapter that makes the environ only when asked reads them from its own request)."""
        environ = self.environ
        return environ.get("QUERY_STRING"), environ.get("HTTP_COOKIE"), environ.get("SCRIPT_NAME", "")

    def _remembered(self) -> RequestEntry | None:
        """This request's entry of the host's request memo (made by this request if it is the
        first with its key); None when the request has no key. Sets the variations from it.

        A returning visitor's request is one lookup: its inputs (`_memo_inputs`) in the host's
        `input_memo`, which holds, for the inputs seen lately, the entry of their key."""
        try:
            by_inputs: dict[tuple[Any, ...], RequestEntry] = self.middleware.input_memo  # type: ignore[attr-defined]
        except AttributeError:  # (a host without memos)
            by_inputs = None  # type: ignore[assignment]
        inputs = self._memo_inputs() if by_inputs is not None else None
        if inputs is None:
            self._entry = None
            return None
        entry = by_inputs.get(inputs)
        if entry is None:
            entry = self._entry_of(inputs, by_inputs)
            if entry is None:
                self._entry = None
                return None
            if len(by_inputs) >= INPUT_MEMO_SIZE:
                by_inputs.clear()
            by_inputs[inputs] = entry
            return entry
        self._variations, self._chains = entry.variations, entry.chains
        self.decided_by, self.requested = entry.decided_by, entry.requested
        self._entry = entry
        return entry

    def _entry_of(self, inputs: tuple[Any, ...], by_inputs: dict[tuple[Any, ...], RequestEntry]) -> RequestEntry | None:
        """`_remembered` for inputs not in the input memo: the entry of their key in the host's
        `request_memo` (made with the full policy, once per key); None without a key."""
        memo: dict[tuple[Any, ...], RequestEntry] | None = getattr(self.middleware, "request_memo", None)
        key = self._key_of(inputs) if memo is not None else None
        if memo is None or key is None:
            return None
        entry = memo.get(key)
        if entry is None:
            self._entry = None  # (the full policy, once)
            self.set_variations(self.requested_variations())
            entry = RequestEntry(self._variations or [], self._chains or [], self.decided_by, self.requested)
            oldest = next(iter(memo), None)
            if len(memo) >= REQUEST_MEMO_SIZE or (oldest is not None and oldest[0] != key[0]):
                memo.clear()  # (full, or made for another generation: its trees go with it)
                by_inputs.clear()  # (its entries are the memo's)
            memo[key] = entry
        else:
            self._variations, self._chains = entry.variations, entry.chains
            self.decided_by, self.requested = entry.decided_by, entry.requested
        self._entry = entry
        return entry

    def _memo_entry(self) -> RequestEntry | None:
        entry = self._entry
        if entry is False:
            if self._variations is not None:  # set by the app: its own, never remembered
                self._entry = None
                return None
            return self._remembered()
        return entry

    def tree(self, bundle: str) -> Tree:
        """The bundle's tree for this request's variations (memoized for the request)."""
        found = self._trees.get(bundle)
        if found is None:
            entry = self._memo_entry()
            found = entry.trees.get(bundle) if entry is not None else None
            if found is None:
                self.load_variations()
                found = self.trees.find_tree_for_variations(bundle, self._chains or [])
                if entry is not None:
                    entry.trees[bundle] = found
            self._trees = {**self._trees, bundle: found}  # (a page has a bundle or two)
        return found

    def render(self, bundle: str, props: Any = None) -> str:
        """This request's tree of `bundle` rendered on the server (the tree whose URL
        `bundle_url` gives), in its root element with the props for hydration; the client-rendered
        container on a sandbox fault (`mendel_py.ssr.page_html`)."""
        from ..ssr import SSR_ERRORS_KEY, page_html, renderer_for

        # in development a fault also goes to the dev overlay (`dev.loop`), with its file and line
        errors = self.environ.setdefault(SSR_ERRORS_KEY, []) if self.middleware.development else None
        tree = self.tree(bundle)
        return page_html(renderer_for(self.trees), bundle, tree, {} if props is None else props, errors=errors)

    def bundle_url(self, bundle: str) -> str:
        """The URL of the bundle for this request, e.g. "/mendel/<hash>/main.js"."""
        entry = self._memo_entry()
        url = entry.urls.get(bundle) if entry is not None else None
        if url is None:
            url = self.script_root() + self.middleware.url_for_hash(bundle, self.tree(bundle).hash)
            if entry is not None:
                entry.urls[bundle] = url
        self._used[bundle] = None
        if self.assignments and self.decided_by == ASSIGNED and not self.is_bot_request:
            self._expose(bundle)
        return url

    def _expose(self, bundle: str) -> None:
        """Record an exposure for each experiment whose arm this bundle's tree shows (once per
        request, and once per unit, experiment and arm within the middleware's window)."""
        dedup = self.middleware.exposure_dedup
        unit = self.unit_id()
        now = dedup.clock()
        exposed = self._exposed
        if exposed is None:
            exposed = self._exposed = set()
        for assignment in self.assignments:
            if assignment.reason not in EXPOSURE_REASONS or assignment.experiment in exposed:  # is_exposure
                continue
            key = (unit, assignment.experiment, assignment.index)
            if dedup.recent(key, now):  # shown lately: no tree comparison, no event
                exposed.add(assignment.experiment)
                continue
            if not self._arm_shows_memo(assignment, bundle):
                continue  # perhaps a later bundle of the page shows it
            exposed.add(assignment.experiment)
            if dedup.mark(key):
                record(
                    Exposure(
                        assignment.experiment, assignment.layer, assignment.index,
                        assignment.variation, key[0], bundle, assignment.reason,
                    ),
                    self.middleware.exposure_handler,
                )

    def _arm_shows_memo(self, assignment: Assignment, bundle: str) -> bool:
        """`arm_shows`, remembered per (generation, bundle, variations, arm): it depends on
        nothing else, and a returning unit whose arm this page can't show asks again."""
        memo = self.middleware.arm_shows_memo
        key = (self.trees.generation, bundle, tuple(self._variations or ()), assignment.experiment, assignment.index)
        found = memo.get(key)
        if found is None:
            found = self.arm_shows(assignment, bundle)
            if len(memo) >= ARM_SHOWS_MEMO_SIZE:
                memo.clear()
            memo[key] = found
        return found

    def arm_shows(self, assignment: Assignment, bundle: str) -> bool:
        """Whether this request's tree of `bundle` shows the assigned arm: for a variation, the
        tree differs from the one without it (not masked by a variation of higher priority); for
        the control, another arm of the experiment would change the tree. A deliberately empty
        arm (and the control beside one) shows wherever the page uses a bundle: the app applies
        it, not the bundles."""
        config = self.trees.config
        experiment = experiment_set(config).by_key.get(assignment.experiment)
        if experiment is None:
            return False
        arms = [v for v in experiment.variations if v is not None]
        if assignment.variation in config.empty_variations or (
            assignment.variation is None and any(v in config.empty_variations for v in arms)
        ):
            return True  # a deliberately empty arm: the app applies it, wherever the page is
        current = (self._variations or [])[:-1]
        tree = self.tree(bundle)
        chains = _chain_sets(self.trees.variations)
        try:
            if assignment.variation is not None:
                own = chains.get(assignment.variation)
                if own is None or assignment.variation not in current:
                    return False  # dropped (no folder): the page could not apply it
                others = frozenset().union(*(chains[n] for n in current if n != assignment.variation and n in chains))
                picked = tree.chosen_folders & own
                if picked - others:
                    return True  # a branch point took the arm's own file: without it, another
                if not picked:
                    return False  # nothing of the arm was chosen: the tree is the same without it
                # a folder the arm shares with another active variation: compare the trees
                return self._tree_with([n for n in current if n != assignment.variation], bundle).hash != tree.hash
            folders = self.trees.manifest(bundle).folders
            return any(
                self._tree_with([*current, arm], bundle).hash != tree.hash
                for arm in arms
                if arm not in current and chains.get(arm, frozenset()) & folders  # it has files here
            )
        except MendelError:  # a counterfactual tree that can't be walked shows nothing
            return False

    def _tree_with(self, names: list[str], bundle: str) -> Tree:
        _, chains = self.trees.variations_and_chains(names)
        return self.trees.find_tree_for_variations(bundle, chains)

    # -- what the page response carries -----------------------------------------------------

    def page_response_headers(self, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """Everything a page response gets from this request (what every server adapter adds):
        `response_headers` and, with the `preload` option, the `Link` header of the bundles used."""
        if self._cookies:
            headers = self.response_headers(headers)
        elif self._variations is None:
            return headers  # (the page did not use Mendel)
        else:  # (what `appended_marks` says, without its frame: a page pays for every one)
            for name, _value in headers:
                if name.lower() in _MERGED:  # a Vary or Cache-Control of the app's to merge with
                    headers = self.response_headers(headers)
                    break
            else:
                headers = [*headers, *_PAGE_MARKS[self.options.page_caching]]
        if self.options.preload is not None and self._used:
            link = self.link_header()
            if link:
                headers = [*headers, ("Link", link)]
        return headers

    def appended_marks(self) -> tuple[tuple[str, str], ...] | None:
        """The headers this request's marks come to on a page response that has no ``Vary`` and no
        ``Cache-Control`` header (nothing to merge): none when the page did not use Mendel; None
        when there is more than headers to append (cookies to set, preload links)."""
        if self._cookies or self.options.preload is not None:
            return None
        return _PAGE_MARKS[self.options.page_caching] if self._variations is not None else ()

    @property
    def sets_cookies(self) -> bool:
        """Whether the page response gets cookies from this request."""
        return bool(self._cookies)

    @property
    def used(self) -> bool:
        """Whether the page used this request's variations or set a cookie (its response is marked)."""
        return self._variations is not None or bool(self._cookies)

    def page_marks(self) -> PageMarks:
        """What this request's page response must carry (each adapter applies it its own way:
        werkzeug's headers for WSGI and ASGI, Django's cache utilities and cookies for Django)."""
        caching = self.options.page_caching
        vary = caching != "off" and self._variations is not None
        return PageMarks(tuple(self._cookies.values()), vary, vary and caching == "private")

    def response_headers(self, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """The page response's headers with this request's cookies and cache marking added (merged
        with the app's own `Vary` and `Cache-Control`; `page_response_headers` appends them to a
        page that has neither)."""
        if not self._cookies and self._variations is None:
            return headers
        marks = self.page_marks()
        out = Headers(headers)
        for cookie in marks.cookies:
            out.add("Set-Cookie", cookie.header())
        if marks.vary_cookie:
            _add_vary(out, "Cookie")
        if marks.private:
            _make_private(out)
        return out.to_wsgi_list()

    def _set_cookie(self, name: str, value: str, max_age: int | None = UNIT_COOKIE_MAX_AGE) -> None:
        secure = self.environ.get("wsgi.url_scheme") == "https"
        self._cookies = {**self._cookies, name: SetCookie(name, value, max_age, secure)}  # (rare: a copy)

    def integrity(self, bundle: str) -> str:
        """The bundle's Subresource Integrity value for this request (``sha384-...``)."""
        return self.middleware.tree_integrity(bundle, self.tree(bundle))

    def tag_attributes(self, bundle: str, integrity: bool | None = None) -> dict[str, str | None]:
        """`integrity` and `crossorigin` for the bundle's tag or preload (None: left out).

        `integrity`: None follows the middleware's setting. crossorigin goes with integrity when
        bundles come from another origin (a browser checks integrity there only in CORS mode).
        """
        if not (self.options.integrity if integrity is None else integrity):
            return {"integrity": None, "crossorigin": None}
        cross = tags.CROSS_ORIGIN if self.middleware.route.cross_origin else None
        return {"integrity": self.integrity(bundle), "crossorigin": cross}

    script_tag = _tag_method(
        tags.script_tag, "`<script src=...>` for the bundle (escaped HTML, as Markup); keyword arguments become "
        "attributes; `integrity=True/False` overrides the option for this tag."
    )
    stylesheet_tag = _tag_method(
        tags.stylesheet_tag, '`<link rel="stylesheet" href=...>` for the bundle (escaped HTML, as Markup).'
    )

    def _remembered_tag(self, bundle: str, integrity: bool | None, write: Callable[..., str]) -> Markup:
        """A tag without extra attributes, from this request key's entry when it has one (made
        and kept there otherwise): by the writer (with `integrity` when asked), then the bundle."""
        entry = self._entry
        if entry is False:
            entry = self._remembered() if self._variations is None else self._memo_entry()
        made = entry.tags.setdefault(write if integrity is None else (write, integrity), {}) if entry else {}
        found = made.get(bundle)
        if found is None:
            # (kept as Markup: escaped HTML, which a template then takes as it is, without a copy)
            found = made[bundle] = Markup(write(self.bundle_url(bundle), self.tag_attributes(bundle, integrity)))
        else:
            self._used[bundle] = None
        return found

    def preload_link(self, bundle: str, rel: str | None = None, integrity: bool | None = None) -> str:
        """A `Link` header value preloading the bundle (`rel`: the middleware's, else preload)."""
        rel = tags.check_preload_rel(rel) or self.options.preload or "preload"
        return tags.preload_link(
            self.bundle_url(bundle), is_css=self.middleware.is_css(bundle), rel=rel,
            **self.tag_attributes(bundle, integrity),
        )

    def link_header(self, rel: str | None = None) -> str | None:
        """One `Link` value preloading every bundle this request built a URL for; None if none."""
        used = list(self._used)
        return ", ".join(self.preload_link(bundle, rel) for bundle in used) or None

    def server_variation_map(self, bundle: str) -> dict[str, str]:
        """{module id: variation folder} for this request's variations (server-side files)."""
        self.load_variations()
        return self.trees.server_variation_map(bundle, self._chains or [])

    def bundle_entries(self, bundle: str) -> list[str]:
        """Public names of the bundle's roots: expose name, else module id (getBundleEntries)."""
        roots = (info for info in self.tree(bundle).modules if info.expose or info.entry)
        return [info.expose or info.id for info in roots]


REQUEST_MEMO_SIZE = 1024
"""Request keys a host remembers (then it starts again): a few hundred bytes each."""
INPUT_MEMO_SIZE = 4096
"""Request inputs a host remembers the entry of (then it starts again): a Cookie header each, at
most `MEMO_HEADER_BYTES`."""
# Cookie headers longer than this are never memo keys: the memos hold their keys, so entries stay
# small (a returning visitor's header is a few names and ids), and a flood of distinct long
# headers of made-up names keeps nothing (at most 1024 + 4096 keys of this size).
MEMO_HEADER_BYTES = 1024
_MEMO_SOURCES = ("variation_sources", "requested_variations", "qa_variations", "override_variations",
                 "cookie_variations", "assigned_variations", "set_variations", "script_root", "cookie")


class RequestEntry:
    """What one request key decides (`RequestResolver.request_key`): the variations, lookup
    chains and deciding source, and, filled as requests ask, the trees, URLs and tags."""

    __slots__ = ("chains", "decided_by", "requested", "tags", "trees", "urls", "variations")

    def __init__(self, variations: list[str], chains: list[list[str]], decided_by: str | None,
                 requested: list[str]):
        self.variations = variations
        self.chains = chains
        self.decided_by = decided_by
        self.requested = requested
        self.trees: dict[str, Tree] = {}
        self.urls: dict[str, str] = {}
        self.tags: dict[Any, dict[str, Markup]] = {}
        """The tags made, by writer (``(writer, integrity)`` when a tag asks for it), then bundle."""


_NOTHING: Mapping[str, Any] = MappingProxyType({})

_MEMO_SHAPE: dict[type, int] = {}
_MEMO_SAFE = 1
_OWN_LOADER_CHECK = 2
_OWN_KEY_INPUTS = 4


def _memo_shape(cls: type[RequestResolver]) -> int:
    """0 when a resolver class changes one of the base policy's sources (it is never answered from
    the memo: its own rule may read anything); else `_MEMO_SAFE`, with `_OWN_LOADER_CHECK` and
    `_OWN_KEY_INPUTS` when it has its own `app_loader_configured` or `_key_inputs`."""
    shape = _MEMO_SHAPE.get(cls)
    if shape is None:
        shape = 0
        if all(getattr(cls, name) is getattr(RequestResolver, name) for name in _MEMO_SOURCES):
            shape = _MEMO_SAFE
            if cls.app_loader_configured is not RequestResolver.app_loader_configured:
                shape |= _OWN_LOADER_CHECK
            if cls._key_inputs is not RequestResolver._key_inputs:
                shape |= _OWN_KEY_INPUTS
        _MEMO_SHAPE[cls] = shape
    return shape


_NOT_A_KEY = "\x00"


def _cookie_key(header: str, name: str | None) -> str | None:
    """The variations cookie's value in a Cookie header as werkzeug's parser reads it (None:
    absent), or `_NOT_A_KEY` when the header may carry a QA token or needs the full parser
    (quotes, non-ASCII). (Read once per header the input memo keeps.)"""
    if QA_COOKIE_NAME in header or '"' in header or not header.isascii():
        return _NOT_A_KEY
    if not name or name not in header:
        return None
    # without quotes werkzeug's parser reads each `;` segment alone: only the segments that may
    # hold the name are parsed (its first valid one wins, as in the full parse)
    for segment in header.split(";"):
        if name in segment:
            value = parse_cookie(segment).get(name)
            if value is not None:
                return value
    return None


class SetCookie(NamedTuple):
    """A cookie the page response sets (path ``/``, HttpOnly, SameSite=Lax; Secure over HTTPS)."""

    name: str
    value: str
    max_age: int | None
    secure: bool
    path: str = "/"
    httponly: bool = True
    samesite: str = "Lax"

    def header(self) -> str:
        """The Set-Cookie header value (werkzeug's `dump_cookie`)."""
        return dump_cookie(self.name, self.value, max_age=self.max_age, path=self.path, secure=self.secure,
                           httponly=self.httponly, samesite=self.samesite)


class PageMarks(NamedTuple):
    """What a page that used Mendel carries: cookies, ``Vary: Cookie``, ``Cache-Control: private``
    (never over an app's own private or no-store)."""

    cookies: tuple[SetCookie, ...]
    vary_cookie: bool
    private: bool


_VARY_COOKIE = ("Vary", "Cookie")
_PRIVATE = ("Cache-Control", "private")
_PAGE_MARKS: dict[str, tuple[tuple[str, str], ...]] = {
    "private": (_VARY_COOKIE, _PRIVATE), "vary": (_VARY_COOKIE,), "off": (),
}
"""The headers `page_marks` adds, by `page_caching`, to a page with none to merge and no cookie."""
_MERGED = frozenset(("vary", "cache-control"))

Marks = tuple[tuple[str, str], ...]
Form = TypeVar("Form")


def marks_as(marks: Marks, forms: dict[int, tuple[Marks, Form]], convert: Callable[[Marks], Form]) -> Form:
    """`convert(marks)` for one of `appended_marks`'s few constant tuples, made once and kept in
    `forms` (an adapter's own: ASGI bytes, Django's header store), found by the tuple's identity, so
    no tuple is hashed per page; the tuple is kept with it, so its id is not another's."""
    found = forms.get(id(marks))
    if found is None or found[0] is not marks:
        found = forms[id(marks)] = (marks, convert(marks))
    return found[1]


@lru_cache(maxsize=8)
def _chain_sets(variations: tuple[Variation, ...]) -> dict[str, frozenset[str]]:
    """{variation id: its folders without base} of a generation's variations (made once each)."""
    return {v.id: frozenset(v.chain[:-1]) for v in variations}


def _add_vary(headers: Headers, field: str) -> None:
    vary = parse_set(", ".join(headers.getlist("Vary")))
    if "*" not in vary:
        vary.add(field)
        headers["Vary"] = vary.to_header()


def _make_private(headers: Headers) -> None:
    """Cache-Control private, unless the app already kept the page out of shared caches."""
    control = parse_response_cache_control(headers.get("Cache-Control"))
    if control.private or control.no_store:
        return
    control.public = False
    control.s_maxage = None
    control.private = True
    headers["Cache-Control"] = control.to_header()

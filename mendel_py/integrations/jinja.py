"""Jinja loader that picks each template from the current request's variation chain.

Template folders live inside the variation folders (`<base>/templates`,
`<variations>/<v>/templates`). They are indexed once, at start-up; a request only looks names
up in that index. For every template name the request's lookup chains are searched the way
Mendel searches them for a module: chain by chain, folder by folder, first hit wins, the base
folder last.

Jinja caches compiled templates by name, which would hand one request's variation of a template
to the next request. `VariationTemplateCache` therefore adds the folder the current request would
load a name from to Jinja's cache key, so each (name, folder) pair is compiled once and reused.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from jinja2 import BaseLoader, ChoiceLoader, Environment, TemplateNotFound, pass_context
from markupsafe import Markup

from .jinja_functions import install_template_functions

if TYPE_CHECKING:
    from ..core.trees import MendelTrees
    from ..serving.request import RequestResolver

Chains = Sequence[Sequence[str]]
ChainsProvider = Callable[[], "Chains | None"]

TEMPLATES_SUBDIR = "templates"


def list_template_files(folder: str) -> dict[str, str]:
    """Map every file under `folder` to its absolute path, keyed by its Jinja name ('a/b.html')."""
    found: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for filename in sorted(filenames):
            path = os.path.join(dirpath, filename)
            name = os.path.relpath(path, folder).replace(os.sep, "/")
            found[name] = path
    return found


def index_template_folders(
    root: str, folders: Sequence[str], subdir: str = TEMPLATES_SUBDIR
) -> dict[str, dict[str, str]]:
    """Build {variation folder: {template name: path}} for the folders that have templates."""
    index: dict[str, dict[str, str]] = {}
    for folder in folders:
        templates_dir = os.path.join(root, folder, subdir)
        if os.path.isdir(templates_dir):
            index[folder] = list_template_files(templates_dir)
    return index


def folders_of(trees: MendelTrees) -> list[str]:
    """Every variation folder the configuration knows, base last, without duplicates."""
    folders: list[str] = []
    for variation in trees.variations:
        for folder in variation.chain:
            if folder not in folders:
                folders.append(folder)
    base = trees.config.base_dir
    if base in folders:
        folders.remove(base)
    folders.append(base)
    return folders


def has_base_templates(trees: MendelTrees, subdir: str = TEMPLATES_SUBDIR) -> bool:
    """True when the base folder has a templates folder (turns the loader on by default)."""
    return os.path.isdir(os.path.join(trees.config.root, trees.config.base_dir, subdir))


class VariationTemplateLoader(BaseLoader):
    """Loads `name` from the first folder of the request's lookup chains that has it."""

    def __init__(
        self,
        index: dict[str, dict[str, str]],
        base_dir: str,
        chains_provider: ChainsProvider | None = None,
    ):
        self.index = index
        self.base_dir = base_dir
        self.chains_provider = chains_provider
        self.names = frozenset(name for templates in index.values() for name in templates)

    @classmethod
    def from_trees(
        cls,
        trees: MendelTrees,
        chains_provider: ChainsProvider | None = None,
        subdir: str = TEMPLATES_SUBDIR,
    ) -> VariationTemplateLoader:
        """Index the template folders of every variation `trees` knows about."""
        index = index_template_folders(trees.config.root, folders_of(trees), subdir)
        return cls(index, trees.config.base_dir, chains_provider)

    def current_chains(self) -> Chains:
        """The lookup chains of the current request, or just base outside a request."""
        chains = self.chains_provider() if self.chains_provider else None
        return chains if chains else ((self.base_dir,),)

    def choose_folder(self, name: str, chains: Chains | None = None) -> str | None:
        """The variation folder `name` is loaded from for `chains`; None if no folder has it."""
        if name not in self.names:
            return None
        for chain in chains if chains is not None else self.current_chains():
            for folder in chain:
                if name in self.index.get(folder, ()):
                    return folder
        if name in self.index.get(self.base_dir, ()):
            return self.base_dir
        return None

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        folder = self.choose_folder(template)
        if folder is None:
            raise TemplateNotFound(template)
        path = self.index[folder][template]
        return read_source(path), path, unchanged_since(path)

    def list_templates(self) -> list[str]:
        return sorted(self.names)


def read_source(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def unchanged_since(path: str) -> Callable[[], bool]:
    """An `uptodate` callback for Jinja's auto-reload: the file's mtime hasn't moved."""
    try:
        mtime = os.path.getmtime(path)
    except OSError:
        return lambda: False

    def uptodate() -> bool:
        try:
            return os.path.getmtime(path) == mtime
        except OSError:
            return False

    return uptodate


class VariationTemplateCache(MutableMapping[Any, Any]):
    """Jinja's template cache with the chosen variation folder added to each key.

    Jinja keys its cache by `(loader ref, name)`; this wrapper turns that into
    `(loader ref, name, folder)`, where `folder` is where the current request's lookup chains
    find `name`. Two requests whose variations pick different files for one name get two cache
    entries; requests that pick the same file share one compiled template.
    """

    def __init__(
        self, inner: MutableMapping[Any, Any], loader: VariationTemplateLoader | DeferredVariationLoader
    ) -> None:
        self.inner = inner
        self.loader = loader

    def variation_key(self, key: Any) -> Any:
        if isinstance(key, tuple) and len(key) == 2 and isinstance(key[1], str):
            return (*key, self.loader.choose_folder(key[1]))
        return key

    def __getitem__(self, key: Any) -> Any:
        return self.inner[self.variation_key(key)]

    def get(self, key: Any, default: Any = None) -> Any:
        return self.inner.get(self.variation_key(key), default)

    def __setitem__(self, key: Any, value: Any) -> None:
        self.inner[self.variation_key(key)] = value

    def __delitem__(self, key: Any) -> None:
        del self.inner[self.variation_key(key)]

    def __contains__(self, key: object) -> bool:
        return self.variation_key(key) in self.inner

    def __iter__(self) -> Iterator[Any]:
        return iter(self.inner)

    def __len__(self) -> int:
        return len(self.inner)

    def clear(self) -> None:
        self.inner.clear()

    @property
    def capacity(self) -> int | None:
        return getattr(self.inner, "capacity", None)


def install_template_cache(
    environment: Environment, loader: VariationTemplateLoader | DeferredVariationLoader
) -> None:
    """Make `environment`'s template cache variation-aware (no-op when caching is off)."""
    cache = environment.cache
    if cache is None or isinstance(cache, VariationTemplateCache):
        return
    environment.cache = VariationTemplateCache(cache, loader)


# --------------------------------------------------------------------------- any framework

ResolverGetter = Callable[[], "RequestResolver | None"]


def as_markup(tag: str) -> Markup:
    """A resolver's tag (escaped HTML; often a Markup already) as Markup."""
    return tag if isinstance(tag, Markup) else Markup(tag)


TemplateFunctions = dict[str, Callable[..., Markup]]


def outside_a_request() -> RequestResolver:
    """The default `fallback` of `template_filters`: a Mendel function used outside a request."""
    raise RuntimeError("a Mendel template function was called outside a request Mendel's middleware saw")


def template_filters(current: ResolverGetter, fallback: Callable[[], RequestResolver] = outside_a_request
                     ) -> TemplateFunctions:
    """``mendel_script``, ``mendel_stylesheet``, ``mendel_bundle_url`` and ``mendel_render`` (the
    request's tree server-rendered, `RequestResolver.render`), each asking `current()` for the
    request's resolver, else `fallback()` (which makes one or raises outside a request), as the
    filters their calls in templates compile to (`jinja_functions`): the template's context first,
    unused (it is what keeps Jinja from calling them at compile time)."""

    # (each function inlines its lookup and passes keywords on only when there are any: a page calls
    # them often, and a frame or a keyword dictionary less is a tenth of what a tag costs)
    @pass_context
    def mendel_script(_context: Any, bundle: str, integrity: bool | None = None, **attributes: Any) -> Markup:
        resolver = current() or fallback()
        tag = (resolver.script_tag(bundle, integrity, **attributes) if attributes
               else resolver.script_tag(bundle, integrity))
        return tag if isinstance(tag, Markup) else Markup(tag)  # (`as_markup`, inline)

    @pass_context
    def mendel_stylesheet(_context: Any, bundle: str, integrity: bool | None = None, **attributes: Any) -> Markup:
        resolver = current() or fallback()
        tag = (resolver.stylesheet_tag(bundle, integrity, **attributes) if attributes
               else resolver.stylesheet_tag(bundle, integrity))
        return tag if isinstance(tag, Markup) else Markup(tag)

    @pass_context
    def mendel_bundle_url(_context: Any, bundle: str) -> Markup:
        return Markup.escape((current() or fallback()).bundle_url(bundle))

    @pass_context
    def mendel_render(_context: Any, bundle: str, props: Any = None) -> Markup:
        return Markup((current() or fallback()).render(bundle, props))  # (the renderer's HTML, props escaped there)

    return {"mendel_script": mendel_script, "mendel_stylesheet": mendel_stylesheet,
            "mendel_bundle_url": mendel_bundle_url, "mendel_render": mendel_render}


def template_globals(current: ResolverGetter, fallback: Callable[[], RequestResolver] = outside_a_request
                     ) -> TemplateFunctions:
    """`template_filters` as a Jinja environment's globals, without the context (for the hosts
    whose templates reach the request through `current`: Starlette's Jinja2Templates and Django's
    Jinja2 backend; the Flask extension has its own, on Flask's request context)."""
    return {name: partial(function, None) for name, function in template_filters(current, fallback).items()}


def use_current_request_functions(environment: Environment, missing: str) -> None:
    """Mendel's template functions in `environment`, over the request being served (as globals,
    and their calls compiled as filters: `jinja_functions`); `missing` is the error raised outside a
    request the middleware saw."""
    from ..serving.request import current_resolver

    def outside() -> RequestResolver:
        raise RuntimeError(missing)

    current = current_resolver.get  # (a method of the variable: no frame of ours per call)
    install_template_functions(environment, template_globals(current, outside), template_filters(current, outside))


def current_lookup_chains() -> list[list[str]] | None:
    """The lookup chains of the request being served (for the variation template loader); None
    outside one."""
    from ..serving.request import current_resolver

    resolver = current_resolver.get()
    return resolver.lookup_chains if resolver is not None else None


class DeferredVariationLoader(BaseLoader):
    """A `VariationTemplateLoader` made on first use from `trees()` (an ASGI app's trees load in
    lifespan, after its templates were configured); None from `trees()` means not loaded yet."""

    def __init__(self, trees: Callable[[], MendelTrees], chains_provider: ChainsProvider | None = None,
                 only_with_base_templates: bool = False):
        self.trees = trees
        self.chains_provider = chains_provider
        self.only_with_base_templates = only_with_base_templates
        """Index nothing unless the base folder has templates (the settings' default: None)."""
        self._loader: VariationTemplateLoader | None = None

    @property
    def loader(self) -> VariationTemplateLoader:
        if self._loader is None:
            trees = self.trees()
            if self.only_with_base_templates and not has_base_templates(trees):
                self._loader = VariationTemplateLoader({}, trees.config.base_dir, self.chains_provider)
            else:
                self._loader = VariationTemplateLoader.from_trees(trees, self.chains_provider)
        return self._loader

    def choose_folder(self, name: str, chains: Chains | None = None) -> str | None:
        return self.loader.choose_folder(name, chains)

    def get_source(self, environment: Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        return self.loader.get_source(environment, template)

    def list_templates(self) -> list[str]:
        return self.loader.list_templates()


def use_variation_templates(
    environment: Environment, trees: Callable[[], MendelTrees], chains_provider: ChainsProvider,
    only_with_base_templates: bool = False,
) -> None:
    """Search the variation folders' templates first (per request, `chains_provider()`), then
    `environment`'s own loader; the compiled-template cache keyed by the folder chosen. Nothing is
    loaded before the first template is (`trees()` is called then)."""
    loader = DeferredVariationLoader(trees, chains_provider, only_with_base_templates)
    loaders: list[BaseLoader] = [loader]
    if environment.loader is not None:
        loaders.append(environment.loader)
    environment.loader = ChoiceLoader(loaders)
    install_template_cache(environment, loader)

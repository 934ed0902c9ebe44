"""``{% load mendel %}``: ``{% mendel_script "main" %}``, ``{% mendel_stylesheet "css" %}`` and
``{% mendel_bundle_url "main" %}`` for the request's variations, and ``{% mendel_render "main" props %}``
(the request's tree server-rendered, with the client-rendered container as its fallback) (``request.mendel``; keyword
arguments become attributes, ``integrity=True/False`` overrides the setting for one tag).

``{% mendel_script "main" %}`` and ``{% mendel_stylesheet "css" %}`` with one quoted bundle name and
nothing else (a page's usual tags) compile to a node of their own (`BundleTagNode`, Django's
documented custom-tag pattern) that asks the resolver for the tag at once; every other spelling
(variables, keyword attributes, ``as``) is the simple tag."""
from __future__ import annotations

from typing import Any

from django import template
from django.template.base import Parser, Token
from django.utils.safestring import SafeString, mark_safe

from ...serving.request import RequestResolver, current_resolver

register = template.Library()


def _resolver(context: Any) -> RequestResolver:
    """The resolver of the request being rendered: its ``request.mendel`` (the RequestContext's
    request, else a ``request`` variable), else the one the middleware is serving."""
    request = getattr(context, "request", None)
    if request is None:
        request = context.get("request")
    resolver = getattr(request, "mendel", None) or current_resolver.get()
    if not isinstance(resolver, RequestResolver):
        raise template.TemplateSyntaxError(
            "no Mendel resolver for this template: add mendel_py.django.middleware.MendelMiddleware to MIDDLEWARE"
        )
    return resolver


def mendel_script(context: Any, bundle: str, integrity: bool | None = None, **attributes: Any) -> SafeString:
    return mark_safe(_resolver(context).script_tag(bundle, integrity, **attributes))  # (escaped by the core)


def mendel_stylesheet(context: Any, bundle: str, integrity: bool | None = None, **attributes: Any) -> SafeString:
    return mark_safe(_resolver(context).stylesheet_tag(bundle, integrity, **attributes))  # (escaped by the core)


class BundleTagNode(template.Node):
    """``{% mendel_script "main" %}`` (or the stylesheet's) with a constant bundle name: the
    resolver's tag, already escaped (`RequestResolver.script_tag`), without resolving arguments."""

    child_nodelists = ()

    def __init__(self, method: str, bundle: str):
        self.method = method
        self.bundle = bundle

    def render(self, context: Any) -> str:
        resolver = getattr(getattr(context, "request", None), "mendel", None)  # (`_resolver`'s usual answer)
        if not isinstance(resolver, RequestResolver):
            resolver = _resolver(context)
        tag: str = getattr(resolver, self.method)(self.bundle)
        return tag


def _bundle_tag(name: str, method: str, simple: Any) -> Any:
    """The tag `name`: a `BundleTagNode` for one quoted bundle name, else the simple tag `simple`."""

    def compile_tag(parser: Parser, token: Token) -> template.Node:
        bits = token.split_contents()
        if len(bits) == 2:
            bundle = parser.compile_filter(bits[1])
            if not bundle.is_var and not bundle.filters and isinstance(bundle.var, str):
                return BundleTagNode(method, str.__str__(bundle.var))  # (a plain str, not SafeString)
        node: template.Node = simple(parser, token)
        return node

    compile_tag.__name__ = name
    return compile_tag


for _name, _method, _function in (("mendel_script", "script_tag", mendel_script),
                                  ("mendel_stylesheet", "stylesheet_tag", mendel_stylesheet)):
    register.simple_tag(_function, takes_context=True)
    register.tag(_name, _bundle_tag(_name, _method, register.tags[_name]))


@register.simple_tag(takes_context=True)
def mendel_bundle_url(context: Any, bundle: str) -> str:
    return _resolver(context).bundle_url(bundle)  # (Django escapes it)


@register.simple_tag(takes_context=True)
def mendel_render(context: Any, bundle: str, props: Any = None) -> SafeString:
    return mark_safe(_resolver(context).render(bundle, props))  # (the renderer's HTML, props escaped there)

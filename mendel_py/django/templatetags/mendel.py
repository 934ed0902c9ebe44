"""``{% load mendel %}``: ``{% mendel_script "main" %}``, ``{% mendel_stylesheet "css" %}`` and
``{% mendel_bundle_url "main" %}`` for the request's variations, and ``{% mendel_render "main" props %}``
(the request's tree server-rendered, with the client-rendered container as its fallback) (``request.mendel``; keyword
arguments become attributes, ``integrity=True/False`` overrides the setting for one tag)."""
from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe

from ...serving.request import RequestResolver, current_resolver

register = template.Library()


def _resolver(context: Any) -> RequestResolver:
    request = context.get("request")
    resolver = getattr(request, "mendel", None) or current_resolver.get()
    if not isinstance(resolver, RequestResolver):
        raise template.TemplateSyntaxError(
            "no Mendel resolver for this template: add mendel_py.django.middleware.MendelMiddleware to MIDDLEWARE"
        )
    return resolver


@register.simple_tag(takes_context=True)
def mendel_script(context: Any, bundle: str, integrity: bool | None = None, **attributes: Any) -> SafeString:
    return mark_safe(_resolver(context).script_tag(bundle, integrity, **attributes))  # (escaped by the core)


@register.simple_tag(takes_context=True)
def mendel_stylesheet(context: Any, bundle: str, integrity: bool | None = None, **attributes: Any) -> SafeString:
    return mark_safe(_resolver(context).stylesheet_tag(bundle, integrity, **attributes))  # (escaped by the core)


@register.simple_tag(takes_context=True)
def mendel_bundle_url(context: Any, bundle: str) -> str:
    return _resolver(context).bundle_url(bundle)  # (Django escapes it)


@register.simple_tag(takes_context=True)
def mendel_render(context: Any, bundle: str, props: Any = None) -> SafeString:
    return mark_safe(_resolver(context).render(bundle, props))  # (the renderer's HTML, props escaped there)

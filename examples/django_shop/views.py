"""The shop's two views, as the Flask shop's (`shop.app`): the product list and the picker's POST."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from shop.app import COOKIE_MAX_AGE, COOKIE_NAME, LAYERS, PRODUCTS, chosen_variations


@require_GET
def show_products(request: HttpRequest) -> HttpResponse:
    mendel = request.mendel  # type: ignore[attr-defined]
    # no cache headers here: the middleware marks every page that used Mendel private, Vary: Cookie
    return render(request, "index.html", {
        "products": PRODUCTS,
        "active": mendel.variations[:-1],
        "layers": LAYERS,
        "assignments": mendel.assignments,
        "decided_by": mendel.decided_by,
        "visitor_choice": True,
    })


@require_POST
def choose_variations(request: HttpRequest) -> HttpResponse:
    # (the demo's form has no CSRF token, as under Flask: CsrfViewMiddleware is not installed)
    response = HttpResponseRedirect(reverse("index"), status=303)
    chosen = chosen_variations(request.POST)
    if chosen:
        response.set_cookie(COOKIE_NAME, ",".join(chosen), max_age=COOKIE_MAX_AGE, samesite="Lax", httponly=True)
    else:
        response.delete_cookie(COOKIE_NAME, samesite="Lax")
    return response

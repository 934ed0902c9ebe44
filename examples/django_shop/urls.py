from django.urls import path

from . import views

urlpatterns = [
    path("", views.show_products, name="index"),
    path("variations", views.choose_variations, name="choose_variations"),
]

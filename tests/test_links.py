"""{% link %} and {% asset %} (config/templatetags/links.py): looked up once per process, yet
the same URLs as {% url %} and {% static %}, and never a URL from before a settings change."""

from __future__ import annotations

import re

from django.core.management import call_command
from django.template import engines

ASSET = "{% load links %}{% asset 'css/site.css' %}"


def render(source: str) -> str:
    return engines["django"].from_string(source).render({})


def test_asset_is_the_static_url_and_follows_static_url(settings):
    settings.STATIC_URL = "/static/"
    assert render(ASSET) == "/static/css/site.css"
    assert render(ASSET) == "/static/css/site.css"  # the kept one
    settings.STATIC_URL = "https://cdn.example.com/s/"
    assert render(ASSET) == "https://cdn.example.com/s/css/site.css"


def test_asset_names_the_hashed_file_in_production(settings, tmp_path):
    settings.STATIC_URL = "/static/"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    assert render(ASSET) == "/static/css/site.css"  # kept: must not outlive the storage
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    call_command("collectstatic", interactive=False, verbosity=0)
    hashed = render(ASSET)
    assert re.fullmatch(r"/static/css/site\.[0-9a-f]{12}\.css", hashed), hashed
    assert hashed == render("{% load static %}{% static 'css/site.css' %}")
    assert (tmp_path / hashed.removeprefix("/static/")).is_file()


def test_link_is_the_reversed_url_and_follows_the_script_prefix():
    from django.urls import set_script_prefix

    source = "{% load links %}{% link 'checkout:cart' %}"
    assert render(source) == "/cart/"
    set_script_prefix("/shop/")
    try:
        assert render(source) == "/shop/cart/"
    finally:
        set_script_prefix("/")
    assert render(source) == "/cart/"

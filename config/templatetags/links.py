"""{% link 'checkout:cart' %}: the URL of a view that takes no arguments, reversed once per
process (and script prefix) instead of on every render. {% asset 'css/site.css' %}: a static
file's URL, looked up in the manifest once per process instead of on every render.

Django's {% url %} walks the resolver on every call; the header of every page names the same
seven views, and the product list named one per product, so reversing was a large share of a
page's time. A URL without arguments cannot change while the process runs (the URLconf is
fixed), except for the script prefix a server may set per request and the URLconf a test may
swap in, which are part of the key.
Views with arguments keep using {% url %}. A static file's URL (its hashed name in production)
is fixed once the files are collected; the storage and STATIC_URL are part of the key, as
settings a test may change.
"""

from __future__ import annotations

from functools import lru_cache

from django import template
from django.conf import settings
from django.contrib.staticfiles.storage import staticfiles_storage
from django.templatetags.static import static
from django.urls import get_script_prefix, get_urlconf, reverse

register = template.Library()


@lru_cache(maxsize=256)
def _reversed(name: str, prefix: str, urlconf: str) -> str:
    return reverse(name, urlconf=urlconf)


@register.simple_tag
def link(name: str) -> str:
    return _reversed(name, get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF)


@lru_cache(maxsize=256)
def _static(path: str, static_url: str, storage: int) -> str:
    return static(path)


@register.simple_tag
def asset(path: str) -> str:
    # The storage object itself: a test that changes STORAGES gets a new one.
    return _static(path, settings.STATIC_URL, id(getattr(staticfiles_storage, "_wrapped", None)))

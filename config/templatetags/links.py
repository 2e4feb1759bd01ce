"""{% link 'checkout:cart' %}: the URL of a view that takes no arguments, reversed once per
process (and script prefix) instead of on every render. {% asset 'css/site.css' %}: a static
file's URL, looked up in the manifest once per process instead of on every render.

Django's {% url %} walks the resolver on every call; the header of every page names the same
seven views, and the product list named one per product, so reversing was a large share of a
page's time. A URL without arguments cannot change while the process runs (the URLconf is
fixed), except for the script prefix a server may set per request and the URLconf a test may
swap in, which are part of the key.
Views with arguments keep using {% url %}. A static file's URL (its hashed name in production)
is fixed once the files are collected and the process started; a test that changes the
static settings clears the kept ones.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django import template
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
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
def _static(path: str, static_url: str) -> str:
    return static(path)


@register.simple_tag
def asset(path: str) -> str:
    return _static(path, settings.STATIC_URL)


@receiver(setting_changed)
def _forget_static_urls(*, setting: str, **kwargs: Any) -> None:
    """A test that changes where static files live or how they are named (the manifest's
    hashes) gets URLs from the new settings."""
    if setting in ("STATIC_URL", "STATIC_ROOT", "STORAGES"):
        _static.cache_clear()

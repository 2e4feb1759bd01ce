"""{% link 'checkout:cart' %}: the URL of a view that takes no arguments, reversed once per
process (and script prefix) instead of on every render.

Django's {% url %} walks the resolver on every call; the header of every page names the same
seven views, and the product list named one per product, so reversing was a large share of a
page's time. A URL without arguments cannot change while the process runs (the URLconf is
fixed), except for the script prefix a server may set per request and the URLconf a test may
swap in, which are part of the key.
Views with arguments keep using {% url %}.
"""

from __future__ import annotations

from functools import lru_cache

from django import template
from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse

register = template.Library()


@lru_cache(maxsize=256)
def _reversed(name: str, prefix: str, urlconf: str) -> str:
    return reverse(name, urlconf=urlconf)


@register.simple_tag
def link(name: str) -> str:
    return _reversed(name, get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF)

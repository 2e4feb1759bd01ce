"""Limits on what anyone, signed in or not, can make the desk send: each new ticket, chat or
transcript emails someone, so they are counted per client address (and per chat)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from accounts import ratelimit
from accounts.client_ip import client_ip


def refused(request: HttpRequest, name: str, ident: object = None) -> HttpResponse | None:
    """None when allowed; else the 429 page saying when to try again."""
    from accounts.views import too_many_requests

    limit, window = settings.SUPPORT_RATE_LIMITS[name]
    who = ident if ident is not None else client_ip(request)
    result = ratelimit.hit(f"support:{name}:{who}", limit, window)
    return None if result.allowed else too_many_requests(request, result.retry_after)

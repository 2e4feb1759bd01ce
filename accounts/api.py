"""API-wide pieces owned by accounts: throttles keyed on the real client IP, and the words of a
429 answer saying, in the caller's language, when to try again (config.api_errors answers it)."""

from __future__ import annotations

import math
from typing import Any

from django.utils.translation import ngettext
from rest_framework.request import Request
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

from . import ratelimit
from .client_ip import client_ip


class AnonThrottle(AnonRateThrottle):
    def get_ident(self, request: Request) -> str:
        # DRF's own ident trusts the whole X-Forwarded-For header when NUM_PROXIES is unset,
        # which a client can vary on every request.
        return client_ip(request._request) or super().get_ident(request)

    def allow_request(self, request: Request, view: Any) -> bool:
        # DRF reads and writes the cache with no fallback: an unreachable Redis made every
        # API call a 500. Allowed (and logged) instead.
        allow = super().allow_request
        return ratelimit.fail_open("API throttle anon", lambda: allow(request, view), True)


class UserThrottle(UserRateThrottle):
    def get_ident(self, request: Request) -> str:
        return client_ip(request._request) or super().get_ident(request)

    def allow_request(self, request: Request, view: Any) -> bool:
        allow = super().allow_request
        return ratelimit.fail_open("API throttle user", lambda: allow(request, view), True)


def retry_message(seconds: int) -> str:
    if seconds >= 120:
        minutes = math.ceil(seconds / 60)
        return ngettext(
            "Too many requests. Please try again in %(n)d minute.",
            "Too many requests. Please try again in %(n)d minutes.",
            minutes,
        ) % {"n": minutes}
    return ngettext(
        "Too many requests. Please try again in %(n)d second.",
        "Too many requests. Please try again in %(n)d seconds.",
        seconds,
    ) % {"n": seconds}

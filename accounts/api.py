"""API-wide pieces owned by accounts: throttles keyed on the real client IP, and 429 answers
that say, in the caller's language, when to try again."""

from __future__ import annotations

import math
from typing import Any

from django.utils.translation import ngettext
from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.response import Response
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


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    # Imported here: rest_framework.views reads DEFAULT_THROTTLE_CLASSES (this module) at import.
    from rest_framework.views import exception_handler as drf_exception_handler

    response = drf_exception_handler(exc, context)
    if isinstance(exc, Throttled) and response is not None:
        # Throttled.__init__ sets .wait; djangorestframework-stubs do not declare it.
        seconds = max(1, math.ceil(exc.wait or 1))  # type: ignore[attr-defined]
        response.data = {"detail": retry_message(seconds), "retry_after": seconds}
        response["Retry-After"] = str(seconds)
    return response

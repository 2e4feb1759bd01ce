"""API-wide pieces owned by accounts: throttles keyed on the real client IP, and the words of a
429 answer saying, in the caller's language, when to try again (config.api_errors answers it)."""

from __future__ import annotations

import math
from typing import Any

from django.utils.translation import ngettext
from rest_framework.request import Request
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle

from . import ratelimit
from .client_ip import client_ip


class FixedWindowThrottle(SimpleRateThrottle):
    """DRF's rate throttle, counted in fixed windows instead of a history of timestamps.

    DRF's SimpleRateThrottle keeps every allowed request's timestamp in a list, reads the whole
    list, trims it and writes it back on every request: at 300/min that is up to 300 floats
    pickled twice per call, and an API read under load spent more time throttling than
    answering. Here a window is a clock-aligned slice of `duration` seconds (12:00:00-12:00:59
    for "/min"), its counter's key carries the window's number, and a request costs one
    `add` (creates the counter at 0, atomic) and one `incr` (atomic on Redis), whatever the
    rate. The price: a burst straddling two windows may get up to twice the rate in a short
    span, which is fine for a throttle meant to stop floods, not to meter.
    """

    window_end = 0.0
    now = 0.0
    # Set by SimpleRateThrottle.__init__ from the rate ("300/min": 300 and 60).
    num_requests: int
    duration: int

    def allow_request(self, request: Request, view: Any) -> bool:
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        self.window_end = (window + 1) * self.duration
        counter = f"{key}:w{window}"
        # Kept to the window's end (and a second of slack), never longer.
        lifetime = max(1, math.ceil(self.window_end - self.now) + 1)

        def count() -> int:
            self.cache.add(counter, 0, lifetime)
            try:
                return int(self.cache.incr(counter))
            except ValueError:  # expired between the two calls: a new window, the first hit
                return 1

        # DRF reads and writes the cache with no fallback: an unreachable Redis made every
        # API call a 500. Allowed (and logged) instead.
        return ratelimit.fail_open(f"API throttle {self.scope}", count, 0) <= self.num_requests

    def wait(self) -> float:
        return max(1.0, self.window_end - self.now)


class AnonThrottle(FixedWindowThrottle, AnonRateThrottle):
    def get_ident(self, request: Request) -> str:
        # DRF's own ident trusts the whole X-Forwarded-For header when NUM_PROXIES is unset,
        # which a client can vary on every request.
        return client_ip(request._request) or super().get_ident(request)


class UserThrottle(FixedWindowThrottle, UserRateThrottle):
    def get_ident(self, request: Request) -> str:
        return client_ip(request._request) or super().get_ident(request)


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

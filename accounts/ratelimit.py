"""Cache-backed rate limits (the default cache: Redis in production, so every web process and
worker shares the counts).

A limit is `limit` hits per `window` seconds for one key. The window starts at the first hit
and the count resets when it ends; a refused hit does not move the end, so "try again in N
minutes" stays true. Counting uses cache.incr, which is atomic on Redis, so concurrent requests
cannot both take the last slot.

The counter's key carries its window's start, so a count can never outlive its window: on
backends whose incr() rewrites the value with the default timeout (Django's file and database
caches do), the old counter used to live on past the window's end, and someone who kept trying
every few seconds was refused forever while the page said "in 1 minute".

Keys are hashed: an email address or a phone number never appears in the cache as text.

When the cache does not answer (Redis stopped, frozen, out of memory) every limit here and the
API throttles fail open: the request is allowed and a warning is logged (`fail_open`). A limit
that cannot count must not turn the whole shop into error pages; the protection that matters
most, the sign-in lockout, is kept in the database by django-axes and does not depend on this.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

T = TypeVar("T")

# What an unreachable cache raises: redis-py's connection, timeout and server errors (all
# RedisError), and OSError from a socket or from the file cache of the embedded setup.
CACHE_ERRORS: tuple[type[Exception], ...] = (RedisError, OSError)


def fail_open(what: str, call: Callable[[], T], fallback: T) -> T:
    """Run `call` (which reads or writes the cache); if the cache is unreachable, log a warning
    naming `what` and return `fallback` (for a limit: allowed). The one place cache errors of
    limits and throttles are caught, so each stays one line at its call site."""
    try:
        return call()
    except CACHE_ERRORS as exc:
        logger.warning(
            "cache unreachable, %s fails open (allowed): %s: %s", what, type(exc).__name__, exc
        )
        return fallback


@dataclass(frozen=True)
class RateResult:
    allowed: bool
    # Seconds until the window ends; 0 when allowed.
    retry_after: int
    count: int


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:40]


def _start_key(key: str) -> str:
    return f"rl:{_digest(key)}:start"


def _count_key(key: str, start: float) -> str:
    # Named after the window it counts: a new window starts a new counter at 0, whatever the
    # backend did to the old one's expiry.
    return f"rl:{_digest(key)}:n:{round(start * 1000)}"


def _window_start(key: str, window: int, now: float) -> float:
    start_key = _start_key(key)
    start = cache.get(start_key)
    if start is not None and now - start >= window:
        # Expired by the clock but not yet by the cache (a cache whose expiry runs on another
        # clock, or a test that travels in time): start a fresh window.
        cache.delete_many([start_key, _count_key(key, start)])
        start = None
    if start is None:
        # add() is atomic: among concurrent first hits, one start time wins for everyone.
        cache.add(start_key, now, window)
        start = cache.get(start_key, now)
    return float(start)


def _result(count: int, limit: int, start: float, window: int, now: float) -> RateResult:
    if count <= limit:
        return RateResult(allowed=True, retry_after=0, count=count)
    return RateResult(
        allowed=False, retry_after=max(1, math.ceil(start + window - now)), count=count
    )


# Returned when the cache cannot count: allowed, nothing counted.
UNCOUNTED = RateResult(allowed=True, retry_after=0, count=0)


def hit(key: str, limit: int, window: int) -> RateResult:
    """Count one hit; allowed while at most `limit` hits fell in the current window (and
    allowed, with a warning, when the cache is unreachable)."""
    return fail_open(
        f"rate limit {key.split(':', 1)[0]}", lambda: _hit(key, limit, window), UNCOUNTED
    )


def _hit(key: str, limit: int, window: int) -> RateResult:
    now = timezone.now().timestamp()
    start = _window_start(key, window, now)
    count_key = _count_key(key, start)
    # Kept to the window's end (plus a second of slack for clocks), never longer.
    lifetime = max(1, math.ceil(start + window - now) + 1)
    cache.add(count_key, 0, lifetime)
    try:
        count = cache.incr(count_key)
    except ValueError:  # the counter expired between the two calls
        cache.add(count_key, 0, lifetime)
        count = cache.incr(count_key)
    # The file and database caches' incr() stores the new value with the default timeout
    # (300 s): put the window's end back, or a long window's count would vanish mid-window.
    cache.touch(count_key, lifetime)
    return _result(count, limit, start, window, now)


def peek(key: str, limit: int, window: int) -> RateResult:
    """Would one more hit be allowed? Counts nothing (for limits counted elsewhere, such as
    failed sign-ins, checked before trying)."""
    return fail_open(
        f"rate limit {key.split(':', 1)[0]}", lambda: _peek(key, limit, window), UNCOUNTED
    )


def _peek(key: str, limit: int, window: int) -> RateResult:
    now = timezone.now().timestamp()
    start = cache.get(_start_key(key))
    if start is None or now - start >= window:
        return RateResult(allowed=True, retry_after=0, count=0)
    count = int(cache.get(_count_key(key, start), 0))
    return _result(count + 1, limit, float(start), window, now)


def reset(key: str) -> None:
    fail_open("rate limit reset", lambda: _reset(key), None)


def _reset(key: str) -> None:
    start = cache.get(_start_key(key))
    keys = [_start_key(key)] + ([_count_key(key, start)] if start is not None else [])
    cache.delete_many(keys)


def _named(name: str) -> tuple[int, int]:
    limit, window = settings.ACCOUNTS_RATE_LIMITS[name]
    return int(limit), int(window)


def hit_named(name: str, ident: str | int | None) -> RateResult:
    """hit() with the limit and window of settings.ACCOUNTS_RATE_LIMITS[name]."""
    limit, window = _named(name)
    return hit(f"{name}:{ident}", limit, window)


def hit_each(*limits: tuple[str, str | int | None]) -> RateResult | None:
    """hit_named() for each (name, ident) in order, stopping at the first refusal, which is
    returned (None when all allowed): a try refused by a short limit does not also use up a
    longer one."""
    for name, ident in limits:
        result = hit_named(name, ident)
        if not result.allowed:
            return result
    return None


def first_refusal(*results: RateResult) -> RateResult | None:
    """The refusal that lasts longest among these, or None when all are allowed."""
    refused = [r for r in results if not r.allowed]
    return max(refused, key=lambda r: r.retry_after) if refused else None

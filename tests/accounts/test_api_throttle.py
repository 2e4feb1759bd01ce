"""The API throttles count in fixed windows: they still limit (literal numbers, per client IP,
per window), and each request costs the cache the same two calls and the database nothing,
however many requests the window has seen (DRF's own throttle rewrote a growing list)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client

from accounts.api import AnonThrottle, UserThrottle

pytestmark = pytest.mark.django_db

URL = "/api/v1/products/"
HOME = {"REMOTE_ADDR": "198.51.100.7"}
ELSEWHERE = {"REMOTE_ADDR": "203.0.113.9"}
# 12:00:10 UTC: 50 seconds left in the minute's window.
START = datetime(2026, 11, 27, 12, 0, 10, tzinfo=UTC)


@pytest.fixture
def three_a_minute(monkeypatch, shop):
    cache.clear()
    monkeypatch.setattr(AnonThrottle, "THROTTLE_RATES", {"anon": "3/min", "user": "100/min"})


def test_three_a_minute_means_three_then_429_until_the_minute_ends(three_a_minute):
    client = Client(**HOME)
    with time_machine.travel(START, tick=False):
        assert [client.get(URL).status_code for _ in range(5)] == [200, 200, 200, 429, 429]
        refused = client.get(URL)
        assert refused.json()["retry_after"] == 50 and refused["Retry-After"] == "50"
        # Another address has its own count.
        assert [Client(**ELSEWHERE).get(URL).status_code for _ in range(4)] == [200] * 3 + [429]
    with time_machine.travel(datetime(2026, 11, 27, 12, 0, 59, tzinfo=UTC), tick=False):
        assert client.get(URL).status_code == 429
    with time_machine.travel(datetime(2026, 11, 27, 12, 1, 0, tzinfo=UTC), tick=False):
        assert [client.get(URL).status_code for _ in range(4)] == [200, 200, 200, 429]


class CountingCache:
    """The default cache, recording which calls each throttle makes."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(cache, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            self.calls.append((name, result))
            return result

        return call


def test_each_request_costs_two_cache_calls_and_no_query_however_full_the_window(
    monkeypatch, shop, django_assert_num_queries
):
    cache.clear()
    monkeypatch.setattr(AnonThrottle, "THROTTLE_RATES", {"anon": "1000/min", "user": "1000/min"})
    counting = CountingCache()
    monkeypatch.setattr(AnonThrottle, "cache", counting)
    monkeypatch.setattr(UserThrottle, "cache", counting)
    client = Client(**HOME)
    with time_machine.travel(START, tick=False):
        for _ in range(200):
            client.get(URL)
        counting.calls.clear()
        # The products themselves: one query; the throttles: none.
        with django_assert_num_queries(1):
            assert client.get(URL).status_code == 200
    # Anon and user throttle (an anonymous caller is counted by both): add (the counter
    # already exists: False) and incr, each; the count is a number, not a list of times.
    assert counting.calls == [("add", False), ("incr", 201), ("add", False), ("incr", 201)]

from __future__ import annotations

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_limits():
    """Rate-limit counters live in the cache, and every LocMemCache without a LOCATION shares
    one store for the whole run: start each test from zero."""
    cache.clear()
    yield
    cache.clear()

"""Times a shopper reads ("try again at 12:50", "expected back by ...", "paused until 14:05")
are shown in the shopper's own time zone.

The browser tells us its zone: static/js/timezone.js (a file: the CSP allows no inline code)
puts Intl's zone name in the `tz` cookie, and ShopperTimeZoneMiddleware activates it for the
request when zoneinfo knows it. Without one (the very first page, no JavaScript, an email
rendered by a worker) times are in the server's zone and say so: "14:05 UTC", never a bare
time the reader would take for their own.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import cache
from urllib.parse import unquote
from zoneinfo import ZoneInfo, available_timezones

from asgiref.local import Local
from django.http import HttpRequest, HttpResponseBase
from django.utils import formats, timezone

COOKIE = "tz"

# Per request (and per task): whether the active zone is the shopper's own. asgiref's Local,
# as django.utils.timezone uses, so it follows the request into sync_to_async threads.
_state = Local()


@cache
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def zone_named(name: str) -> ZoneInfo | None:
    """The zone for an IANA name a browser sent, or None for anything zoneinfo does not list
    (a typo, a path, a megabyte of junk)."""
    name = unquote(name or "").strip()
    if not name or len(name) > 64 or name not in _known_zones():
        return None
    return ZoneInfo(name)


def shopper_zone_known() -> bool:
    return bool(getattr(_state, "known", False))


@contextmanager
def shopper_zone(zone: ZoneInfo | None) -> Iterator[None]:
    """Show times in `zone` (the shopper's) inside the block; None: the server's, named."""
    before = getattr(_state, "known", False)
    if zone is None:
        timezone.deactivate()
        _state.known = False
    else:
        timezone.activate(zone)
        _state.known = True
    try:
        yield
    finally:
        timezone.deactivate()
        _state.known = before


class ShopperTimeZoneMiddleware:
    """Activate the zone in the `tz` cookie for this request, when it is a real zone."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        with shopper_zone(zone_named(request.COOKIES.get(COOKIE, ""))):
            return self.get_response(request)


def time_label(moment: datetime) -> str:
    """`moment` as the shopper reads it: 14:05 (24-hour, so no "p.m." ends a sentence twice),
    rounded up to the minute so acting at the time shown works, with the date in front when it
    is not today, and the zone's name after it when the shopper's own zone is unknown."""
    local = timezone.localtime(moment)
    seconds = local.second + local.microsecond / 1_000_000
    local = local.replace(second=0, microsecond=0) + timedelta(minutes=math.ceil(seconds / 60))
    label = formats.date_format(local, "H:i")
    if local.date() != timezone.localdate():
        label = f"{formats.date_format(local, 'DATE_FORMAT')} {label}"
    if not shopper_zone_known():
        label = f"{label} {local.tzname()}"
    return label

"""Rate limits of the support desk, in the shared cache (accounts' limiter), so they hold
across web processes: what anyone, signed in or not, can make the desk send (each new ticket,
chat or transcript emails someone: counted per client address, and per chat), and how fast one
person may write in a chat (pages and websocket alike)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from accounts import ratelimit
from accounts.client_ip import client_ip
from accounts.responses import too_many_requests


def refused(request: HttpRequest, name: str, ident: object = None) -> HttpResponse | None:
    """None when allowed; else the 429 page saying when to try again."""
    limit, window = settings.SUPPORT_RATE_LIMITS[name]
    who = ident if ident is not None else client_ip(request)
    result = ratelimit.hit(f"support:{name}:{who}", limit, window)
    return None if result.allowed else too_many_requests(request, result.retry_after)


def rate_limit(kind: str, who: str) -> int:
    """0 when allowed, else the seconds until the person may send again. In the shared cache
    (accounts' limiter), so the limit holds across web processes."""
    return ratelimit.hit(
        f"support:chat:{kind}:{who}",
        settings.SUPPORT_CHAT_RATE_MESSAGES,
        settings.SUPPORT_CHAT_RATE_SECONDS,
    ).retry_after


def rate_key(user: Any, session_key: str | None, fallback: str = "") -> str:
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"session:{session_key or fallback}"


def rate_limited_message(retry_after: int) -> str:
    return _("You are sending messages very fast. Please wait %(seconds)d seconds.") % {
        "seconds": retry_after
    }

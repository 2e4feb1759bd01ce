"""Sign-in limits that django-axes does not have.

django-axes counts failures per lockout-parameter combination, but with a single
AXES_FAILURE_LIMIT for all of them (8.x: `get_failure_limit` returns one number): listing
"ip_address" beside ["username", "ip_address"] would lock a whole office after 5 typos. So the
higher per-IP limit against password spraying lives here, counted in the cache:

* failures per client IP across all accounts (ACCOUNTS_IP_FAILURE_LIMIT per
  ACCOUNTS_IP_FAILURE_WINDOW_MINUTES),
* failures per account across all clients (ASVS 2.2.1: at most 100 an hour),
* sign-in attempts per client IP (ACCOUNTS_RATE_LIMITS["login_ip"]), a plain rate limit.

This backend sits right after AxesStandaloneBackend. When a limit is reached it marks the
request the way django-axes does (`axes_locked_out`), so AxesMiddleware answers with our
locked page (accounts.views.locked_out, HTTP 429) and axes does not count the refused try as
one more failure of that account.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from . import ratelimit
from .client_ip import client_ip


def axes_username(request: HttpRequest | None, credentials: dict | None = None) -> str | None:
    """The username django-axes counts under: the email as sign-in matches it, ignoring case
    and spaces, so "ALICE@example.com" shares alice@example.com's five tries."""
    source = credentials if credentials else getattr(request, "POST", None) or {}
    username = source.get(settings.AXES_USERNAME_FORM_FIELD)
    return username.strip().lower() if isinstance(username, str) else username


def ip_failure_key(ip: str | None) -> str:
    return f"login-fail-ip:{ip}"


def account_failure_key(username: str) -> str:
    return f"login-fail-account:{username.strip().lower()}"


def _ip_limit() -> tuple[int, int]:
    return settings.ACCOUNTS_IP_FAILURE_LIMIT, settings.ACCOUNTS_IP_FAILURE_WINDOW_MINUTES * 60


def record_failure(request: HttpRequest | None, username: str | None) -> None:
    """One failed sign-in (connected to django's user_login_failed signal)."""
    if request is None or getattr(request, "accounts_limit", None):
        return  # a refused try is not a new failure
    ip = client_ip(request)
    if ip:
        ratelimit.hit(ip_failure_key(ip), *_ip_limit())
    if username:
        ratelimit.hit(account_failure_key(username), settings.ACCOUNTS_ACCOUNT_FAILURE_LIMIT, 3600)


def check_sign_in(request: HttpRequest, username: str | None) -> tuple[str, int] | None:
    """(reason, retry_after seconds) when this sign-in must be refused before the password is
    even checked, else None."""
    ip = client_ip(request)
    if ip:
        sprayed = ratelimit.peek(ip_failure_key(ip), *_ip_limit())
        if not sprayed.allowed:
            return "ip", sprayed.retry_after
    if username:
        key = account_failure_key(username)
        hourly = ratelimit.peek(key, settings.ACCOUNTS_ACCOUNT_FAILURE_LIMIT, 3600)
        if not hourly.allowed:
            return "account", hourly.retry_after
    if ip:
        rate = ratelimit.hit_named("login_ip", ip)
        if not rate.allowed:
            return "rate", rate.retry_after
    return None


class SignInLimitsBackend:
    """Authenticates nobody; refuses sign-ins over the limits above."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        if request is None:
            return None
        refusal = check_sign_in(request, username)
        if refusal is None:
            return None
        request.accounts_limit = refusal  # type: ignore[attr-defined]
        # Read by AxesMiddleware, which then renders AXES_LOCKOUT_CALLABLE.
        request.axes_locked_out = True  # type: ignore[attr-defined]
        raise PermissionDenied("sign-in limit reached")

    # No get_user(): a session is never tied to this backend (force_login and
    # login() without a backend pick the first backend that has one).

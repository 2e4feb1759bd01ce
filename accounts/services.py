"""Writes for accounts: registration, lockouts, and what a password reset must also undo."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import ratelimit
from .backends import account_failure_key
from .models import LockoutClearance, User


class LockoutState(TypedDict):
    email: str
    locked: bool
    locked_until: datetime | None
    failures: int
    clients: int
    last_failure_at: datetime


@transaction.atomic
def user_register(*, email: str, password: str, full_name: str = "") -> User:
    """A new customer account; the form has already checked the email and the password."""
    return User.objects.create_user(
        email=email.strip().lower(), password=password, full_name=full_name.strip()
    )


def _recent_attempts(email: str) -> list[AccessAttempt]:
    # django-axes stores the username as typed, so "Alice@Example.com" and "alice@example.com"
    # are separate rows of one account: match ignoring case.
    attempts = AccessAttempt.objects.filter(username__iexact=email.strip())
    cool_off = get_cool_off()
    if cool_off is not None:
        attempts = attempts.filter(attempt_time__gte=timezone.now() - cool_off)
    return list(attempts)


def lockout_state(email: str) -> LockoutState | None:
    """Where sign-in stands for this email: None when there are no recent failures, else
    whether any client is locked, until when, and how many failures were counted.

    Locks are per account *and* client IP (AXES_LOCKOUT_PARAMETERS), so one account may be
    locked from one place and open from another; `locked` is true if any client is locked, and
    `locked_until` is the latest of those unlock times. Support reads this on a ticket."""
    attempts = _recent_attempts(email)
    if not attempts:
        return None
    limit = settings.AXES_FAILURE_LIMIT
    cool_off = get_cool_off()
    per_client: dict[str | None, list[AccessAttempt]] = {}
    for attempt in attempts:
        per_client.setdefault(attempt.ip_address, []).append(attempt)
    unlock_times: list[datetime] = []
    locked = False
    for rows in per_client.values():
        if sum(r.failures_since_start for r in rows) >= limit:
            locked = True
            if cool_off is not None:
                unlock_times.append(max(r.attempt_time for r in rows) + cool_off)
    return {
        "email": email.strip().lower(),
        "locked": locked,
        "locked_until": max(unlock_times) if unlock_times else None,
        "failures": sum(a.failures_since_start for a in attempts),
        "clients": len(per_client),
        "last_failure_at": max(a.attempt_time for a in attempts),
    }


@transaction.atomic
def lockout_clear(email: str, actor: User | None, *, reason: str = "") -> LockoutClearance:
    """Lift every sign-in lockout on this email (from every client) and record who did it.

    Always writes a LockoutClearance row, even when nothing was locked: the log answers "did
    someone unlock this account, and when" either way. `actor` is None when the account holder
    lifted it themselves (a password reset)."""
    state = lockout_state(email)
    rows = AccessAttempt.objects.select_for_update().filter(username__iexact=email.strip())
    failures = sum(rows.values_list("failures_since_start", flat=True))
    rows.delete()
    return LockoutClearance.objects.create(
        email=email.strip().lower(),
        actor=actor,
        actor_label=actor.email if actor is not None else "",
        reason=reason[:200],
        attempts_cleared=failures,
        was_locked=bool(state and state["locked"]),
    )


def user_password_was_reset(*, user: User) -> None:
    """A successful reset proves who they are: lift any sign-in lockout on the account.

    Other sessions end by themselves: Django ties each session to the password hash."""
    ratelimit.reset(account_failure_key(user.email))
    if AccessAttempt.objects.filter(username__iexact=user.email).exists():
        lockout_clear(user.email, None, reason="password reset")

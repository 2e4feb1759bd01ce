"""Risk rules, checked before an attempt is sent. Each rule looks at the attempt and says
allow, review (send it, but flag it for staff) or refuse (do not send; the customer is told what
they can do, never the rule's thresholds). The strictest answer wins; its rule's name is kept on
the attempt. Thresholds are settings (`RISK_*`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from .models import PaymentAttempt

ALLOW, REVIEW, REFUSE = "allow", "review", "refuse"
_SEVERITY = {ALLOW: 0, REVIEW: 1, REFUSE: 2}


@dataclass(frozen=True)
class Decision:
    outcome: str
    rule: str = ""
    detail: str = ""


def velocity(attempt: PaymentAttempt) -> Decision:
    """Many attempts in a short time from one account, one email, one address or one card
    (the same card fingerprint across different accounts is how card testing looks)."""
    since = timezone.now() - timedelta(minutes=settings.RISK_VELOCITY_WINDOW_MINUTES)
    same = Q(order__email__iexact=attempt.order.email)
    if attempt.user_id:
        same |= Q(user_id=attempt.user_id)
    if attempt.client_ip:
        same |= Q(client_ip=attempt.client_ip)
    if attempt.card_fingerprint:
        same |= Q(card_fingerprint=attempt.card_fingerprint)
    recent = (
        PaymentAttempt.objects.filter(same, created_at__gte=since).exclude(pk=attempt.pk).count()
    )
    detail = f"{recent} other attempts in {settings.RISK_VELOCITY_WINDOW_MINUTES} min"
    if recent >= settings.RISK_VELOCITY_REFUSE:
        return Decision(REFUSE, "velocity", detail)
    if recent >= settings.RISK_VELOCITY_REVIEW:
        return Decision(REVIEW, "velocity", detail)
    return Decision(ALLOW)


def amount_for_account_age(attempt: PaymentAttempt) -> Decision:
    """A large amount from a guest or an account younger than a day."""
    user = attempt.order.user
    young = timedelta(hours=settings.RISK_NEW_ACCOUNT_HOURS)
    if user is not None and timezone.now() - user.date_joined >= young:
        return Decision(ALLOW)
    detail = f"{attempt.amount} {attempt.currency} from a new or guest account"
    if attempt.amount >= settings.RISK_NEW_ACCOUNT_REFUSE_AMOUNT:
        return Decision(REFUSE, "amount_for_account_age", detail)
    if attempt.amount >= settings.RISK_NEW_ACCOUNT_REVIEW_AMOUNT:
        return Decision(REVIEW, "amount_for_account_age", detail)
    return Decision(ALLOW)


def failure_streak(attempt: PaymentAttempt) -> Decision:
    """The same buyer's last attempts all failed: card testing, or a customer who needs a human."""
    since = timezone.now() - timedelta(minutes=settings.RISK_FAILURE_STREAK_MINUTES)
    limit = settings.RISK_FAILURE_STREAK
    last = list(
        PaymentAttempt.objects.filter(
            order__email__iexact=attempt.order.email, created_at__gte=since
        )
        .exclude(pk=attempt.pk)
        .order_by("-created_at")
        .values_list("status", flat=True)[:limit]
    )
    if len(last) >= limit and all(status == PaymentAttempt.Status.FAILED for status in last):
        return Decision(REFUSE, "failure_streak", f"last {limit} attempts failed")
    return Decision(ALLOW)


RULES: tuple[Callable[[PaymentAttempt], Decision], ...] = (
    velocity,
    amount_for_account_age,
    failure_streak,
)


def assess(attempt: PaymentAttempt) -> Decision:
    decisions = [rule(attempt) for rule in RULES]
    return max(decisions, key=lambda d: _SEVERITY[d.outcome])

"""Risk rules, checked before an attempt is sent. Each rule looks at who is paying and says
allow, review (send it, but flag it for staff) or refuse (do not send; the customer is told what
they can do, never the rule's thresholds). The strictest answer wins; its rule's name is kept on
the attempt. Thresholds are settings (`RISK_*`).

An address is not a buyer: carrier NAT, offices and a demo on one machine put many honest
shoppers behind one IP. So only counts of one buyer (account, email, card) may refuse; a busy
address may at most ask for review.

The same rules answer "would this buyer be refused right now, and until when?" without an
attempt (`refusal_for`), so the pages never offer a way to pay that the rules would refuse."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from .models import PaymentAttempt

ALLOW, REVIEW, REFUSE = "allow", "review", "refuse"
_SEVERITY = {ALLOW: 0, REVIEW: 1, REFUSE: 2}


@dataclass(frozen=True)
class Decision:
    outcome: str
    rule: str = ""
    detail: str = ""
    # When a refusal lifts by itself; None when waiting does not help (a person must review it).
    until: datetime | None = None


@dataclass(frozen=True)
class Buyer:
    """Who is paying, what and from where: everything the rules look at."""

    email: str
    user_id: int | None
    # The order's owner, whose account age the amount rule weighs (None for a guest order).
    owner: Any
    amount: int
    currency: str
    card_fingerprint: str = ""
    client_ip: str | None = None
    # The attempt being judged, left out of its own history.
    attempt_pk: int | None = None

    @classmethod
    def of_attempt(cls, attempt: PaymentAttempt) -> Buyer:
        order = attempt.order
        return cls(
            email=order.email,
            user_id=attempt.user_id,
            owner=order.user,
            amount=attempt.amount,
            currency=attempt.currency,
            card_fingerprint=attempt.card_fingerprint,
            client_ip=attempt.client_ip,
            attempt_pk=attempt.pk,
        )

    def same_buyer(self, *, card: bool = True) -> Q:
        """Attempts by this buyer: by account, by email, and (for velocity) by card."""
        same = Q(order__email__iexact=self.email)
        if self.user_id:
            same |= Q(user_id=self.user_id)
        if card and self.card_fingerprint:
            same |= Q(card_fingerprint=self.card_fingerprint)
        return same

    def history(self, *, card: bool = True) -> QuerySet[PaymentAttempt]:
        """This buyer's other attempts."""
        return PaymentAttempt.objects.filter(self.same_buyer(card=card)).exclude(self.itself())

    def itself(self) -> Q:
        """The attempt being judged (none when asking ahead of an attempt)."""
        return Q(pk=self.attempt_pk) if self.attempt_pk is not None else Q(pk__in=[])


def _window(minutes: int) -> tuple[datetime, timedelta]:
    """(since, window): attempts made after `since` count, so a refusal based on an attempt
    made at T lifts at exactly T + window, the time the customer is shown."""
    window = timedelta(minutes=minutes)
    return timezone.now() - window, window


def _nth_latest(attempts: QuerySet[PaymentAttempt], n: int) -> datetime:
    """When the n-th most recent of `attempts` was made (n >= 1)."""
    return attempts.order_by("-created_at").values_list("created_at", flat=True)[n - 1]


def velocity(buyer: Buyer) -> Decision:
    """Many attempts in a short time from one account, one email or one card (the same card
    fingerprint across different accounts is how card testing looks): review, then refuse.
    Many from one address, whoever made them, only ask for review: an address is shared by
    everyone behind one NAT, office or demo machine. Both counted in one query."""
    minutes = settings.RISK_VELOCITY_WINDOW_MINUTES
    since, window = _window(minutes)
    mine = buyer.same_buyer()
    same_ip = Q(client_ip=buyer.client_ip) if buyer.client_ip else Q(pk__in=[])
    counts = (
        PaymentAttempt.objects.filter(mine | same_ip, created_at__gt=since)
        .exclude(buyer.itself())
        .aggregate(buyer=Count("pk", filter=mine), ip=Count("pk", filter=same_ip))
    )
    count = counts["buyer"]
    detail = f"{count} other attempts by this buyer in {minutes} min"
    if count >= settings.RISK_VELOCITY_REFUSE:
        # Lifts when the attempt that reached the threshold leaves the window.
        recent = buyer.history().filter(created_at__gt=since)
        until = _nth_latest(recent, settings.RISK_VELOCITY_REFUSE) + window
        return Decision(REFUSE, "velocity", detail, until)
    if count >= settings.RISK_VELOCITY_REVIEW:
        return Decision(REVIEW, "velocity", detail)
    if counts["ip"] >= settings.RISK_IP_VELOCITY_REVIEW:
        return Decision(
            REVIEW, "ip_velocity", f"{counts['ip']} other attempts from this IP in {minutes} min"
        )
    return Decision(ALLOW)


def amount_for_account_age(buyer: Buyer) -> Decision:
    """A large amount from a guest or an account younger than a day."""
    young = timedelta(hours=settings.RISK_NEW_ACCOUNT_HOURS)
    owner = buyer.owner
    if owner is not None and timezone.now() - owner.date_joined >= young:
        return Decision(ALLOW)
    detail = f"{buyer.amount} {buyer.currency} from a new or guest account"
    if buyer.amount >= settings.RISK_NEW_ACCOUNT_REFUSE_AMOUNT:
        # A young account grows out of it; a guest order never does by waiting.
        until = owner.date_joined + young if owner is not None else None
        return Decision(REFUSE, "amount_for_account_age", detail, until)
    if buyer.amount >= settings.RISK_NEW_ACCOUNT_REVIEW_AMOUNT:
        return Decision(REVIEW, "amount_for_account_age", detail)
    return Decision(ALLOW)


def failure_streak(buyer: Buyer) -> Decision:
    """The same buyer's last attempts all failed: card testing, or a customer who needs a human.
    Counted by account and email, not card: the buyer's next try may be with another method."""
    since, window = _window(settings.RISK_FAILURE_STREAK_MINUTES)
    limit = settings.RISK_FAILURE_STREAK
    last = list(
        buyer.history(card=False)
        .filter(created_at__gt=since)
        .order_by("-created_at")
        .values_list("status", "created_at")[:limit]
    )
    if len(last) >= limit and all(status == PaymentAttempt.Status.FAILED for status, _ in last):
        # Lifts when the oldest failure of the streak leaves the window.
        until = last[-1][1] + window
        return Decision(REFUSE, "failure_streak", f"last {limit} attempts failed", until)
    return Decision(ALLOW)


RULES: tuple[Callable[[Buyer], Decision], ...] = (
    velocity,
    amount_for_account_age,
    failure_streak,
)


def assess(attempt: PaymentAttempt) -> Decision:
    """The verdict on a created attempt: the strictest rule's answer."""
    buyer = Buyer.of_attempt(attempt)
    decisions = [rule(buyer) for rule in RULES]
    return max(decisions, key=lambda d: _SEVERITY[d.outcome])


def refusal_for(*, attempt: PaymentAttempt, same_card: bool = False) -> Decision | None:
    """Would this buyer's next attempt to pay `attempt`'s order be refused right now, and until
    when? None when it would not. Asked before offering any way to pay after `attempt`.

    The next attempt is the same buyer, order and address; its card is unknown unless the
    customer tries the same card again (`same_card`). `attempt` itself now counts as history.
    """
    buyer = replace(
        Buyer.of_attempt(attempt),
        card_fingerprint=attempt.card_fingerprint if same_card else "",
        attempt_pk=None,
    )
    refusals = [d for d in (rule(buyer) for rule in RULES) if d.outcome == REFUSE]
    if not refusals:
        return None
    # Every refusal must have lifted before paying can work; one that never lifts by waiting wins.
    if any(d.until is None for d in refusals):
        return next(d for d in refusals if d.until is None)
    return max(refusals, key=lambda d: d.until or timezone.now())

"""Where money going back is, as the customer sees it: the steps, when it should arrive, and
what a failure means for them.

The steps are derived from the refund's own state (status, provider reference, what the
provider last said, dates): they are words for a person, not a second state machine. The one
state machine stays `REFUND_ALLOWED` in payments/models/refunds.py.

One table for when money sent back arrives, per kind of method (`ARRIVAL_DAYS` for the
date we promise, `ARRIVAL` for the words the withdrawal page shows before confirming): a card
says the same thing on every page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from .models import Refund

# How long money going back takes to arrive, per payment method kind, in business days
# (Monday to Friday) from the moment the provider accepted it. Banks say "5 to 10 working
# days" for cards: we promise the far end. A wallet refund is there at once.
ARRIVAL_DAYS: dict[str, int] = {
    "card": 10,
    "alipay": 1,
    "wechat_pay": 1,
    "wallet": 0,
}
# A method kind missing from the table (a new one) is promised the slowest we know.
ARRIVAL_DAYS_DEFAULT = 10


class Step(StrEnum):
    REQUESTED = "requested"
    SENT = "sent"
    ON_ITS_WAY = "on_its_way"
    ARRIVED = "arrived"
    FAILED = "failed"


# The customer's words for each step, in the order the page shows them.
STEP_LABELS: dict[Step, Promise] = {
    Step.REQUESTED: _("Requested"),
    Step.SENT: _("Sent to the provider"),
    Step.ON_ITS_WAY: _("On its way"),
    Step.ARRIVED: _("Arrived"),
    Step.FAILED: _("Not sent"),
}
PROGRESS = (Step.REQUESTED, Step.SENT, Step.ON_ITS_WAY, Step.ARRIVED)

# What the provider may say about a refund it accepted but has not finished.
PROVIDER_IN_TRANSIT = frozenset({"pending", "processing", "requires_action"})

# Why a refund did not go, and what happens next, from its failure reason. One table for the
# page, the email and the API. `None` is every reason not listed.
FAILURE_WORDS: dict[str | None, tuple[Promise, Promise]] = {
    "expired_or_canceled_card": (
        _("The card you paid with is expired or canceled, so the bank could not take it back."),
        _("Our team will contact you within 2 working days to send it another way."),
    ),
    "lost_or_stolen_card": (
        _("The card you paid with was reported lost or stolen."),
        _("Our team will contact you within 2 working days to send it another way."),
    ),
    "no_answer": (
        _("The provider did not confirm the refund in time."),
        _("Our team is checking with the provider and will contact you within 2 working days."),
    ),
    None: (
        _("The provider could not send the refund."),
        _("Our team will contact you within 2 working days to send it another way."),
    ),
}
# A wallet top-up's refund that did not go leaves the money in the wallet.
TOP_UP_NEXT_STEP = _("The money stays in your wallet: nothing was taken from you.")


def add_business_days(start: datetime, days: int) -> datetime:
    """`start` moved `days` Monday-to-Friday days on (a weekend start counts from Monday)."""
    moment = start
    left = days
    while left > 0:
        moment += timedelta(days=1)
        if moment.weekday() < 5:
            left -= 1
    return moment


def arrival_days(*, method_kind: str, destination: str) -> int:
    if destination == "wallet":
        return ARRIVAL_DAYS["wallet"]
    return ARRIVAL_DAYS.get(method_kind, ARRIVAL_DAYS_DEFAULT)


def expected_by(*, sent_at: datetime, method_kind: str, destination: str) -> datetime:
    """When the money should be there at the latest, counted from when the provider took it."""
    return add_business_days(
        sent_at, arrival_days(method_kind=method_kind, destination=destination)
    )


def customer_step(
    *, status: str, provider_reference: str, provider_status: str, sent_at: datetime | None
) -> Step:
    """The customer's step from the refund's state (tested as a literal table)."""
    if status == "failed":
        return Step.FAILED
    if status == "succeeded":
        return Step.ARRIVED
    if not provider_reference or sent_at is None:
        return Step.REQUESTED
    if provider_status in PROVIDER_IN_TRANSIT:
        return Step.ON_ITS_WAY
    return Step.SENT


@dataclass(frozen=True)
class MoneyBack:
    """One refund as the customer (and the agent beside their ticket) reads it."""

    refund: Refund
    step: Step
    expected_by: datetime | None
    overdue: bool
    reason: Promise | None
    next_step: Promise | None

    @property
    def label(self) -> Promise:
        return STEP_LABELS[self.step]

    @property
    def steps(self) -> list[tuple[Promise, str]]:
        """(label, "done" | "current" | "todo") for the progress list on the status page."""
        if self.step == Step.FAILED:
            return [(STEP_LABELS[Step.REQUESTED], "done"), (STEP_LABELS[Step.FAILED], "current")]
        at = PROGRESS.index(self.step)
        return [
            (STEP_LABELS[s], "done" if i < at else "current" if i == at else "todo")
            for i, s in enumerate(PROGRESS)
        ]


def money_back(refund: Refund, *, now: datetime, top_up: bool = False) -> MoneyBack:
    step = customer_step(
        status=refund.status,
        provider_reference=refund.provider_reference,
        provider_status=refund.provider_status,
        sent_at=refund.sent_at,
    )
    overdue = bool(
        step in (Step.SENT, Step.ON_ITS_WAY)
        and refund.expected_by is not None
        and now > refund.expected_by
    )
    reason = next_step = None
    if step == Step.FAILED:
        reason, next_step = FAILURE_WORDS.get(refund.failure_reason) or FAILURE_WORDS[None]
        if top_up:
            next_step = TOP_UP_NEXT_STEP
    return MoneyBack(
        refund=refund,
        step=step,
        expected_by=refund.expected_by,
        overdue=overdue,
        reason=reason,
        next_step=next_step,
    )


# Before a withdrawal is confirmed: method kind -> (shortest, longest) business days, and the
# words shown. The longest is never later than ARRIVAL_DAYS' promise (a test checks).
ARRIVAL: dict[str, tuple[int, int, Promise]] = {
    "card": (5, 10, _("usually 5–10 business days")),
    "alipay": (0, 0, _("usually within minutes")),
    "wechat_pay": (0, 0, _("usually within minutes")),
    "wallet": (0, 0, _("at once")),
}


def arrival_words(kind: str) -> str:
    """The expected arrival of money sent back to a method of this kind, in words."""
    row = ARRIVAL.get(kind)
    return str(row[2]) if row else str(_("the time your payment provider takes"))

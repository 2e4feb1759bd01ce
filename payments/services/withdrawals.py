"""Cashing out the wallet: a withdrawal is held at once and paid back as refunds of what funded
the balance, oldest first, each through its provider under its own key.

`withdrawal_request` does everything that must be true together in one transaction: it locks
the attempts it will refund and then the wallet (the order refunds lock them in, so the two
never wait on each other), plans again under those locks, takes each part out of the wallet
(so the amount cannot be spent meanwhile), creates the withdrawal and its parts, and queues the
sends in the outbox. The parts then live the life of any refund (sent, retried, given up); a
part that fails gives its hold back in the transaction that records the failure
(withdrawal_parts.part_return) and the customer is emailed once for it.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from outbox.services import outbox_enqueue

from ..models import PaymentAttempt, PaymentEvent, Refund, Withdrawal
from ..money import format_money
from ..selectors import WithdrawalPlan, withdrawal_plan
from .errors import IdempotencyConflict, PaymentError
from .refunds import _retry_delay, refund_send
from .wallet import _wallet_locked
from .withdrawal_parts import part_hold, withdrawal_transition

logger = logging.getLogger(__name__)
W = Withdrawal.Status


class WithdrawalNotAllowed(PaymentError):
    """The amount cannot be withdrawn (more than is withdrawable, or nothing); worded for the
    customer."""

    code = "withdrawal_not_allowed"


class WithdrawalKeyConflict(IdempotencyConflict):
    """A withdrawal's idempotency key was already used for a different request."""


def _fingerprint(*, user: Any, currency: str, amount: int) -> str:
    return hashlib.sha256(f"{user.pk}|{currency}|{amount}".encode()).hexdigest()


def _replay(*, key: str, fingerprint: str) -> Withdrawal | None:
    existing = Withdrawal.objects.filter(idempotency_key=key).first()
    if existing is not None and existing.request_fingerprint != fingerprint:
        raise WithdrawalKeyConflict("This idempotency key was already used for another request.")
    return existing


def _locked_plan(*, user: Any, currency: str, amount: int) -> WithdrawalPlan:
    """Lock the attempts the parts come from, then the wallet (the order a refund of a top-up
    locks them in), and plan again under the locks. When the plan moved to other attempts
    meanwhile (a refund was made, a top-up settled), lock those too and plan again."""
    locked: set[int] = set()
    for _round in range(5):
        plan = withdrawal_plan(user=user, currency=currency, amount=amount)
        wanted = {part.source.attempt.pk for part in plan.parts}
        if wanted <= locked:
            return plan
        # In primary-key order, so two withdrawals of one wallet lock them alike.
        for pk in sorted(wanted - locked):
            PaymentAttempt.objects.select_for_update(of=("self",)).get(pk=pk)
        locked |= wanted
        _wallet_locked(user=user, currency=currency)
    raise WithdrawalNotAllowed(_("Your balance is changing right now. Please try again."))


@transaction.atomic
def withdrawal_request(
    *, user: Any, currency: str, amount: int, idempotency_key: str
) -> tuple[Withdrawal, bool]:
    """Hold `amount` of the wallet and plan its way back; returns (withdrawal, created).

    The same key with the same request returns the first withdrawal; with another, it raises
    WithdrawalKeyConflict. An amount that is not withdrawable raises WithdrawalNotAllowed.
    Nothing is sent here: the parts go out after commit (outbox `payments.withdrawal_send`).
    """
    currency = currency.upper()
    fingerprint = _fingerprint(user=user, currency=currency, amount=amount)
    existing = _replay(key=idempotency_key, fingerprint=fingerprint)
    if existing is not None:
        return existing, False
    if amount <= 0:
        raise WithdrawalNotAllowed(_("Enter an amount greater than zero."))
    plan = _locked_plan(user=user, currency=currency, amount=amount)
    # Under the wallet lock: a replay of the same key raced us and was first.
    existing = _replay(key=idempotency_key, fingerprint=fingerprint)
    if existing is not None:
        return existing, False
    if not plan.covered:
        raise WithdrawalNotAllowed(
            _("You can withdraw at most %(amount)s right now.")
            % {"amount": format_money(plan.withdrawable, currency)}
        )
    try:
        with transaction.atomic():
            withdrawal = Withdrawal.objects.create(
                user=user,
                currency=currency,
                amount=amount,
                idempotency_key=idempotency_key,
                request_fingerprint=fingerprint,
            )
    except IntegrityError:
        # Another customer's request with the same key: theirs, not a replay of ours.
        raise WithdrawalKeyConflict("This idempotency key is already in use.") from None
    actor = f"customer:{user.pk}"
    now = timezone.now()
    for number, part in enumerate(plan.parts, start=1):
        attempt = part.source.attempt
        refund = Refund.objects.create(
            attempt=attempt,
            amount=part.amount,
            currency=currency,
            destination=Refund.Destination.ORIGINAL,
            reason=f"wallet withdrawal {withdrawal.public_id}",
            created_by=actor,
            idempotency_key=f"withdrawal-{withdrawal.public_id}-{number}",
            request_fingerprint=fingerprint,
            created_at=now,
            next_send_at=now + _retry_delay(1),
            withdrawal=withdrawal,
        )
        # The hold: this part's amount leaves the balance now, under the wallet lock.
        part_hold(refund=refund, user=user, actor=actor)
        if part.source.kind == "top_up":
            # A re-routed wallet refund was reserved when it went to the wallet; a top-up's
            # refund reserves its amount like any refund does.
            attempt.refunded_amount += part.amount
            attempt.save(update_fields=["refunded_amount", "updated_at"])
        PaymentEvent.objects.create(
            attempt=attempt,
            kind=PaymentEvent.Kind.REFUND,
            to_status=Refund.Status.PENDING,
            actor=actor,
            message=f"withdrawal part of {part.amount} requested"[:500],
            payload={
                "refund": str(refund.public_id),
                "amount": part.amount,
                "withdrawal": str(withdrawal.public_id),
            },
        )
    outbox_enqueue(
        kind="payments.withdrawal_send",
        payload={"withdrawal_id": withdrawal.pk},
        key=f"withdrawal_send:{withdrawal.pk}",
    )
    return withdrawal, True


def withdrawal_send(*, withdrawal_id: int) -> Withdrawal:
    """Send every pending part under its own key (a replay at the provider when sent before).
    Safe to run twice; a part without an answer stays pending for the refund sweep."""
    with transaction.atomic():
        withdrawal = Withdrawal.objects.select_for_update().get(pk=withdrawal_id)
        if withdrawal.status == W.REQUESTED:
            withdrawal_transition(withdrawal=withdrawal, to=W.SENDING, actor="withdrawal-send")
    parts = Refund.objects.filter(withdrawal_id=withdrawal_id, status=Refund.Status.PENDING)
    for refund in parts.select_related("attempt__order"):
        refund_send(refund=refund)
    withdrawal.refresh_from_db()
    return withdrawal

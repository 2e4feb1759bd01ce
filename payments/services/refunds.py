"""Refunds: full or partial, to the original method or to the wallet, never more than was paid,
each one exactly once.

The attempt row is locked while the amount is reserved (`refunded_amount`, which a database
constraint keeps within the paid amount); the provider is called outside the lock with a key
derived from the refund, so a retry is a replay. Staff's own request carries an idempotency key
too, so a retried POST finds the refund it already made. A failed refund gives its reservation
back (and, for a wallet top-up, the wallet credit it took) in the transaction that records it.
A refund the provider does not answer is sent again by a sweep, and given up loudly after a limit.

A payment split between the wallet and a provider is refunded provider part first: a refund
takes from what the provider charged until that is all given back, and only then from what the
wallet paid (`Refund.wallet_amount`). With the original destination each part goes back where it
came from: the provider's part to the method, the wallet's to the wallet, credited in the
transaction that records the refund's success (so a failed refund moves no wallet money). With
the wallet destination all of it goes to the wallet. E.g. 1600 charged + 800 from the wallet:
a refund of 1000 sends 1000 to the card; a second of 1000 sends 600 to the card, 400 to the
wallet; a third of 400 sends 400 to the wallet.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config import metrics
from outbox.services import outbox_enqueue

from ..arrival import expected_by
from ..gateways import GatewayError, RefundResult, get_gateway
from ..models import (
    PAID,
    REFUND_ALLOWED,
    REFUND_LATE_SUCCESS,
    REFUND_NO_ANSWER,
    PaymentAttempt,
    PaymentEvent,
    Refund,
    WalletEntry,
)
from ..orders import OrderState, order_book
from .errors import IdempotencyConflict, InvalidTransition, PaymentError
from .transition import attempt_transition
from .wallet import WalletInsufficient, wallet_move
from .withdrawal_parts import part_hold, part_reroutes, part_return, withdrawal_follow

logger = logging.getLogger(__name__)
S = PaymentAttempt.Status
R = Refund.Status


class RefundNotAllowed(PaymentError):
    """Raised with the reason in words for staff (translated when shown)."""

    code = "refund_not_allowed"


class RefundKeyConflict(IdempotencyConflict):
    """A refund's Idempotency-Key was already used for a different refund."""


def refund_transition(
    *,
    refund: Refund,
    to: str,
    actor: str,
    message: str = "",
    payload: dict[str, Any] | None = None,
    extra_fields: tuple[str, ...] = (),
) -> Refund:
    """Move a locked refund along the transition table and write the event. Illegal moves raise.

    Every status change of a refund comes through here. A settled refund queues the customer's
    email after commit (the task sends it once per refund).
    """
    late = (refund.status, to) == REFUND_LATE_SUCCESS and refund.failure_reason == REFUND_NO_ANSWER
    if to not in REFUND_ALLOWED[refund.status] and not late:
        raise InvalidTransition(f"refund {refund.public_id}: {refund.status} -> {to}")
    from_status = refund.status
    refund.status = to
    refund.settled_at = timezone.now()
    fields = ["status", "settled_at", *extra_fields]
    if to == R.SUCCEEDED and refund.sent_at is None:
        # Done at once (a wallet, a fast provider): sent and arrived in the same moment.
        fields += _mark_sent(refund)
    refund.save(update_fields=fields)
    PaymentEvent.objects.create(
        attempt_id=refund.attempt_id,
        kind=PaymentEvent.Kind.REFUND,
        from_status=from_status,
        to_status=to,
        actor=actor[:120],
        message=(message or f"refund of {refund.amount} {to}")[:500],
        payload={"refund": str(refund.public_id), "amount": refund.amount, **(payload or {})},
    )
    metrics.record_refund(status=to)
    if to == R.FAILED:
        # One notice per refund that did not go; the task's own mark keeps it to one.
        outbox_enqueue(
            kind="payments.refund_customer",
            payload={"refund_id": refund.pk, "notice": "failed"},
            key=f"refund_customer:{refund.pk}:failed",
        )
    if refund.withdrawal_id is not None:
        withdrawal_follow(refund=refund, actor=actor)
    return refund


def _mark_sent(refund: Refund) -> list[str]:
    """The provider accepted a locked refund: note when, promise an arrival date, and queue
    the customer's "sent" email (once per refund: keyed, and the task keeps its own mark).
    Returns the fields to save with the caller's change."""
    refund.sent_at = timezone.now()
    refund.expected_by = expected_by(
        sent_at=refund.sent_at,
        method_kind=refund.attempt.method.kind,
        destination=refund.destination,
    )
    outbox_enqueue(
        kind="payments.refund_customer",
        payload={"refund_id": refund.pk, "notice": "sent"},
        key=f"refund_customer:{refund.pk}:sent",
    )
    return ["sent_at", "expected_by"]


@transaction.atomic
def refund_provider_update(*, refund: Refund, reference: str, provider_status: str) -> Refund:
    """The provider says a refund of ours is accepted but not finished (pending, processing):
    keep its reference and word, and mark it sent the first time."""
    refund = (
        Refund.objects.select_for_update(of=("self",))
        .select_related("attempt__method")
        .get(pk=refund.pk)
    )
    if refund.status != R.PENDING:
        return refund  # late news of a settled refund changes nothing
    fields = ["provider_status"]
    refund.provider_status = provider_status[:30]
    if reference and not refund.provider_reference:
        refund.provider_reference = reference[:100]
        fields.append("provider_reference")
    if refund.provider_reference and refund.sent_at is None:
        fields += _mark_sent(refund)
    refund.save(update_fields=fields)
    return refund


def _fingerprint(*, attempt: PaymentAttempt, amount: int, destination: str, reason: str) -> str:
    raw = f"{attempt.pk}|{amount}|{destination}|{reason}"
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def refund_request(
    *,
    attempt: PaymentAttempt,
    amount: int,
    destination: str,
    reason: str,
    actor: str,
    idempotency_key: str = "",
) -> tuple[Refund, bool]:
    """Reserve a refund of a paid attempt, or return the one this idempotency key already made.

    Returns (refund, created). A key already used with other values raises IdempotencyConflict.
    Nothing is sent here: call `refund_send` with a new refund (outside this transaction).
    """
    # The lock serialises every refund of this attempt: the remaining amount read here cannot
    # be spent by a concurrent request before our reservation is saved.
    attempt = (
        PaymentAttempt.objects.select_for_update(of=("self",))
        .select_related("order")
        .get(pk=attempt.pk)
    )
    reason = reason[:200]
    fingerprint = _fingerprint(
        attempt=attempt, amount=amount, destination=destination, reason=reason
    )
    if idempotency_key:
        existing = Refund.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            if existing.request_fingerprint != fingerprint:
                raise RefundKeyConflict(
                    "This idempotency key was already used for a different refund request."
                )
            return existing, False
    remaining = attempt.amount + attempt.wallet_amount - attempt.refunded_amount
    if attempt.status not in PAID:
        raise RefundNotAllowed(_("Only a paid payment can be refunded."))
    if not 0 < amount <= remaining:
        raise RefundNotAllowed(
            _("The refund must be between 1 and %(remaining)d (minor units).")
            % {"remaining": remaining}
        )
    order = attempt.order
    if destination == Refund.Destination.WALLET and order.user is None:
        raise RefundNotAllowed(_("A guest order has no wallet to refund to."))
    if destination == Refund.Destination.WALLET and attempt.provider == "wallet":
        destination = Refund.Destination.ORIGINAL  # the same thing: back to the wallet
    now = timezone.now()
    try:
        with transaction.atomic():
            refund = Refund.objects.create(
                attempt=attempt,
                amount=amount,
                wallet_amount=_wallet_part(attempt=attempt, amount=amount),
                currency=attempt.currency,
                destination=destination,
                reason=reason,
                created_by=actor,
                idempotency_key=idempotency_key or f"auto-{uuid.uuid4()}",
                request_fingerprint=fingerprint,
                created_at=now,
                next_send_at=now + _retry_delay(1),
            )
    except IntegrityError:
        # The same key raced us on another attempt: theirs, not a replay of ours.
        raise RefundKeyConflict("This idempotency key is already in use.") from None
    if order.is_wallet_top_up:
        _take_back_top_up(attempt=attempt, refund=refund, actor=actor)
    attempt.refunded_amount += amount
    attempt.save(update_fields=["refunded_amount", "updated_at"])
    PaymentEvent.objects.create(
        attempt=attempt,
        kind=PaymentEvent.Kind.REFUND,
        to_status=R.PENDING,
        actor=actor,
        message=f"refund of {amount} to {destination} requested: {reason}"[:500],
        payload={"refund": str(refund.public_id), "amount": amount, "to": destination},
    )
    return refund, True


def _wallet_part(*, attempt: PaymentAttempt, amount: int) -> int:
    """How much of a new refund of a locked attempt gives back what the wallet paid: the
    provider's part goes first, so only what exceeds the provider's part still to give back."""
    if not attempt.wallet_amount:
        return 0
    reserved = attempt.refunds.filter(status__in=[R.PENDING, R.SUCCEEDED]).values_list(
        "amount", "wallet_amount"
    )
    provider_left = max(attempt.amount - sum(a - w for a, w in reserved), 0)
    return max(amount - provider_left, 0)


def _wallet_part_back(*, refund: Refund, actor: str) -> None:
    """A succeeded refund to the original method returns its wallet part to the wallet, once."""
    if not refund.wallet_amount or refund.destination != Refund.Destination.ORIGINAL:
        return
    attempt = refund.attempt
    entry = wallet_move(
        user=attempt.order.user,
        currency=refund.currency,
        amount=refund.wallet_amount,
        kind=WalletEntry.Kind.REFUND,
        reference=f"{refund.provider_key}-wallet",
        note=refund.reason,
        actor=actor,
    )
    if not refund.provider_reference:
        # All of it was the wallet's part: the wallet entry is what names it.
        refund.provider_reference = f"wallet-{entry.pk}"
        refund.save(update_fields=["provider_reference"])


def refund_create(
    *,
    attempt: PaymentAttempt,
    amount: int,
    destination: str,
    reason: str,
    actor: str,
    idempotency_key: str = "",
) -> Refund:
    """Refund `amount` of a paid attempt. Returns the refund: succeeded, pending or failed.

    With a key already used for the same request, returns that refund; a still pending one is
    sent again under its own key (a replay at the provider), so a retry learns the outcome.
    """
    refund, created = refund_request(
        attempt=attempt,
        amount=amount,
        destination=destination,
        reason=reason,
        actor=actor,
        idempotency_key=idempotency_key,
    )
    return refund_send(refund=refund) if created or refund.status == R.PENDING else refund


def _take_back_top_up(*, attempt: PaymentAttempt, refund: Refund, actor: str) -> None:
    """Refunding a top-up takes the credit back out of the wallet first; spent money stays."""
    try:
        wallet_move(
            user=attempt.order.user,
            currency=attempt.currency,
            amount=-refund.amount,
            kind=WalletEntry.Kind.ADJUSTMENT,
            reference=f"top-up-refund-{refund.public_id}",
            note="top-up refunded",
            actor=actor,
        )
    except WalletInsufficient as exc:
        raise RefundNotAllowed(_("The wallet no longer holds this top-up.")) from exc


def _give_back_top_up(*, refund: Refund, actor: str) -> None:
    """The money did not leave: the top-up credit taken for it goes back, once per refund."""
    if refund.withdrawal_id is not None:
        part_return(refund=refund, actor=actor)  # a withdrawal part: its hold goes back
        return
    attempt = refund.attempt
    if not attempt.order.is_wallet_top_up:
        return
    wallet_move(
        user=attempt.order.user,
        currency=attempt.currency,
        amount=refund.amount,
        kind=WalletEntry.Kind.ADJUSTMENT,
        reference=f"top-up-refund-back-{refund.public_id}",
        note="top-up refund did not go through",
        actor=actor,
    )


def refund_send(*, refund: Refund) -> Refund:
    """Send a pending refund under its own key. A provider that does not answer leaves it
    pending; the sweep sends it again with the same key."""
    attempt = refund.attempt
    key = refund.provider_key
    try:
        if refund.destination == Refund.Destination.WALLET:
            entry = wallet_move(
                user=attempt.order.user,
                currency=refund.currency,
                amount=refund.amount,
                kind=WalletEntry.Kind.REFUND,
                reference=key,
                note=refund.reason,
                actor=refund.created_by,
            )
            result = RefundResult(True, f"wallet-{entry.pk}")
        elif refund.amount == refund.wallet_amount:
            # Only the wallet part of a split payment: nothing to ask the provider.
            result = RefundResult(True, "")
        else:
            result = get_gateway(attempt.provider).refund(
                reference=attempt.provider_reference,
                amount=refund.amount - refund.wallet_amount,
                idempotency_key=key,
            )
    except GatewayError as exc:
        logger.info("refund %s: no answer from the provider (%s)", refund.public_id, exc)
        return refund
    return refund_settle(refund=refund, result=result)


@transaction.atomic
def refund_settle(*, refund: Refund, result: RefundResult, actor: str = "provider") -> Refund:
    """Record the provider's answer once; move the attempt and the order on a success.

    A refund we gave up on (`no_answer`) that the provider says succeeded is recorded too: the
    money went back, so the amount is reserved again and staff are told.
    """
    attempt = PaymentAttempt.objects.select_for_update().get(pk=refund.attempt_id)
    refund = (
        Refund.objects.select_for_update(of=("self",))
        .select_related("attempt__order")
        .get(pk=refund.pk)
    )
    late = refund.status == R.FAILED and refund.failure_reason == REFUND_NO_ANSWER
    if refund.status != R.PENDING and not (late and result.succeeded):
        return refund
    refund.provider_reference = refund.provider_reference or result.reference
    if result.pending:
        # The provider finishes later and tells us by webhook; keep its id to match it then.
        # It has accepted the refund: the customer is told it was sent, and when to expect it.
        fields = ["provider_reference"]
        if refund.provider_reference and refund.sent_at is None:
            fields += _mark_sent(refund)
        refund.save(update_fields=fields)
        return refund
    if not result.succeeded:
        refund.failure_reason = (result.failure_reason or "failed")[:100]
        refund_transition(
            refund=refund,
            to=R.FAILED,
            actor=actor,
            message=f"refund of {refund.amount} failed: {refund.failure_reason}",
            extra_fields=("provider_reference", "failure_reason"),
        )
        _release(attempt=attempt, refund=refund, actor=actor)
        return refund
    if late:
        over = attempt.refunded_amount + refund.amount > attempt.amount + attempt.wallet_amount
        if over and not part_reroutes(refund):
            # Something else used the amount meanwhile: never record more than was paid.
            _alert_staff_later(refund, "late_success_over_amount")
            return refund
        if not part_reroutes(refund):
            attempt.refunded_amount += refund.amount
            attempt.save(update_fields=["refunded_amount", "updated_at"])
        if refund.withdrawal_id is not None:
            try:  # the hold the failure gave back is taken again, as far as the wallet holds it
                part_hold(refund=refund, user=attempt.order.user, actor=actor, late=True)
            except WalletInsufficient:
                logger.warning("refund %s: late success, withdrawal returned and spent", refund.pk)
        elif attempt.order.is_wallet_top_up:
            # The credit we gave back at give-up is taken again, as far as the wallet holds it.
            try:
                _take_back_top_up(attempt=attempt, refund=refund, actor=actor)
            except RefundNotAllowed:
                logger.warning("refund %s: late success, top-up credit spent", refund.public_id)
        _alert_staff_later(refund, "late_success")
    refund_transition(
        refund=refund,
        to=R.SUCCEEDED,
        actor=actor,
        message=f"refund of {refund.amount} succeeded" + (" after we gave up" if late else ""),
        extra_fields=("provider_reference",),
    )
    _wallet_part_back(refund=refund, actor=actor)
    _attempt_follows(attempt=attempt, refund=refund, actor=actor)
    return refund


def _release(*, attempt: PaymentAttempt, refund: Refund, actor: str) -> None:
    """A refund that did not happen gives back its reservation (and a top-up's credit)."""
    if not part_reroutes(refund):
        attempt.refunded_amount -= refund.amount
        attempt.save(update_fields=["refunded_amount", "updated_at"])
    _give_back_top_up(refund=refund, actor=actor)


def _attempt_follows(*, attempt: PaymentAttempt, refund: Refund, actor: str) -> None:
    """The attempt and its order say refunded or partially refunded, from what really went."""
    if part_reroutes(refund):
        return  # money already refunded (to the wallet) went on to the card: nothing new
    went = attempt.refunds.filter(status=R.SUCCEEDED)
    if not attempt.order.is_wallet_top_up:
        went = went.filter(withdrawal__isnull=True)  # re-routed wallet refunds count once
    done = sum(went.values_list("amount", flat=True))
    target = S.REFUNDED if done >= attempt.amount + attempt.wallet_amount else S.PARTIALLY_REFUNDED
    if attempt.status == S.REFUNDED:
        return  # already all the way (a late refund cannot add to it)
    attempt_transition(
        attempt=attempt,
        to=target,
        actor=actor,
        message=f"refund of {refund.amount} succeeded",
        payload={"refund": str(refund.public_id)},
    )
    order = order_book().lock(attempt.order_id)
    order_target = OrderState.REFUNDED if target == S.REFUNDED else OrderState.PARTIALLY_REFUNDED
    if order.status != OrderState.REFUNDED:
        order_book().move(order, order_target)


def _alert_unrecorded(
    attempt: PaymentAttempt, reference: str, amount: int, currency: str, why: str
) -> None:
    """Staff must look at a provider refund we could not record; once per refund and reason."""
    outbox_enqueue(
        kind="payments.unrecorded_refund",
        payload={
            "attempt_id": attempt.pk,
            "reference": reference,
            "amount": amount,
            "currency": currency,
            "why": why,
        },
        key=f"unrecorded_refund:{attempt.pk}:{reference}:{why}",
    )


def _alert_staff_later(refund: Refund, kind: str) -> None:
    outbox_enqueue(
        kind="payments.refund_staff",
        payload={"refund_id": refund.pk, "kind": kind},
        key=f"refund_staff:{refund.pk}:{kind}",
    )


# --- Pending refunds: sent again, then given up loudly ------------------------------------------


def _retry_delay(sends: int) -> timedelta:
    """The wait before send number `sends + 1`: doubling from the base, capped at an hour."""
    base = settings.PAYMENTS_REFUND_RETRY_SECONDS
    return timedelta(seconds=min(base * 2 ** max(sends - 1, 0), 3600))


@transaction.atomic
def refund_give_up(*, refund: Refund) -> Refund:
    """No answer within the limit: fail with `no_answer`, give the money back, tell people.

    The provider may still have done it: staff are told the key to look up, and a later
    success from the provider is recorded (the one late move the table allows).
    """
    attempt = PaymentAttempt.objects.select_for_update().get(pk=refund.attempt_id)
    refund = (
        Refund.objects.select_for_update(of=("self",))
        .select_related("attempt__order")
        .get(pk=refund.pk)
    )
    if refund.status != R.PENDING:
        return refund
    refund.failure_reason = REFUND_NO_ANSWER
    refund_transition(
        refund=refund,
        to=R.FAILED,
        actor="refund-sweep",
        message="no answer from the provider within the refund limit",
        extra_fields=("failure_reason",),
    )
    _release(attempt=attempt, refund=refund, actor="refund-sweep")
    _alert_staff_later(refund, "given_up")
    return refund


def refund_retry(*, refund: Refund) -> Refund:
    """Send one pending refund again with its own key, or give up one the provider never
    accepted past the limit."""
    limit = timedelta(hours=settings.PAYMENTS_REFUND_GIVE_UP_HOURS)
    # A refund the provider accepted (sent) is theirs to finish: asking again with its key
    # learns the outcome, and past its expected arrival agents are told (refunds_alert_overdue).
    if refund.sent_at is None and timezone.now() - refund.created_at >= limit:
        return refund_give_up(refund=refund)
    sends = refund.sends + 1
    # Book the next try before calling out, so a crash mid-call does not retry at once.
    Refund.objects.filter(pk=refund.pk, status=R.PENDING).update(
        sends=sends, next_send_at=timezone.now() + _retry_delay(sends)
    )
    refund.sends = sends
    return refund_send(refund=refund)


def refunds_retry_pending() -> int:
    """Every pending refund whose next send is due: sent again or given up. Returns how many
    were settled."""
    due = (
        Refund.objects.filter(status=R.PENDING, next_send_at__lte=timezone.now())
        .select_related("attempt__order")
        .order_by("next_send_at")[:200]
    )
    count = 0
    for refund in due:
        try:
            refund = refund_retry(refund=refund)
        except Exception:  # noqa: BLE001 - one bad refund must not stop the others
            logger.exception("retrying refund %s failed", refund.public_id)
            continue
        if refund.status != R.PENDING:
            count += 1
    return count


def refunds_alert_overdue() -> int:
    """Every refund the provider accepted whose expected arrival passed without a final answer:
    agents are told, once per refund (the mark is set under the row lock, with the outbox row
    keyed by the refund). Returns how many were newly alerted."""
    now = timezone.now()
    ids = list(
        Refund.objects.filter(
            status=R.PENDING, expected_by__lt=now, overdue_alerted_at__isnull=True
        ).values_list("pk", flat=True)[:200]
    )
    count = 0
    for pk in ids:
        with transaction.atomic():
            refund = Refund.objects.select_for_update().get(pk=pk)
            if refund.status != R.PENDING or refund.overdue_alerted_at is not None:
                continue  # settled, or another sweep got here first
            refund.overdue_alerted_at = now
            refund.save(update_fields=["overdue_alerted_at"])
            _alert_staff_later(refund, "overdue")
            count += 1
    return count


# --- Refunds made at the provider (its dashboard, its support) ----------------------------------


@transaction.atomic
def refund_record_external(
    *, attempt: PaymentAttempt, reference: str, amount: int, currency: str, actor: str
) -> Refund | None:
    """Record a refund the provider made without us, once per provider reference.

    The money has already gone back, so it is recorded as succeeded and the attempt and order
    follow. What cannot be true (another currency, more than was paid) is not recorded: staff
    are told instead. Returns the refund, or None when it was not recorded.
    """
    attempt = (
        PaymentAttempt.objects.select_for_update(of=("self",))
        .select_related("order")
        .get(pk=attempt.pk)
    )
    existing = Refund.objects.filter(attempt=attempt, provider_reference=reference).first()
    if existing is not None:
        return existing  # told twice (refund.* and charge.refunded, or a redelivery)
    why = ""
    if currency.upper() != attempt.currency.upper():
        why = f"its currency {currency} is not the payment's {attempt.currency}"
    elif amount <= 0:
        why = "it has no amount"
    elif attempt.status not in PAID:
        why = f"the payment is {attempt.status}"
    elif attempt.refunded_amount + amount > attempt.amount + attempt.wallet_amount:
        why = (
            f"with the {attempt.refunded_amount} already refunded it would exceed "
            f"the {attempt.amount + attempt.wallet_amount} paid"
        )
    if why:
        _alert_unrecorded(attempt, reference, amount, currency, why)
        return None
    provider = f"provider:{attempt.provider}"
    refund = Refund.objects.create(
        attempt=attempt,
        amount=amount,
        currency=attempt.currency,
        destination=Refund.Destination.ORIGINAL,
        reason="made at the provider",
        created_by=provider,
        provider_reference=reference,
    )
    attempt.refunded_amount += amount
    attempt.save(update_fields=["refunded_amount", "updated_at"])
    PaymentEvent.objects.create(
        attempt=attempt,
        kind=PaymentEvent.Kind.REFUND,
        to_status=R.PENDING,
        actor=actor[:120],
        message=f"refund of {amount} made at the provider ({reference})"[:500],
        payload={"refund": str(refund.public_id), "amount": amount, "reference": reference},
    )
    if attempt.order.is_wallet_top_up:
        try:
            _take_back_top_up(attempt=attempt, refund=refund, actor=provider)
        except RefundNotAllowed:
            # The card got the money back and the wallet spent it: recorded, and staff look.
            _alert_unrecorded(attempt, reference, amount, currency, "the wallet no longer holds it")
    refund_transition(refund=refund, to=R.SUCCEEDED, actor=actor)
    _attempt_follows(attempt=attempt, refund=refund, actor=actor)
    return refund

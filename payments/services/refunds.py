"""Refunds: full or partial, to the original method or to the wallet, never more than was paid.

The attempt row is locked while the amount is reserved (`refunded_amount`, which a database
constraint keeps within the paid amount); the provider is called outside the lock with a key
derived from the refund, so a retry is a replay. A failed refund gives its reservation back.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from checkout.models import Order, OrderStatus
from checkout.status import order_transition

from ..gateways import GatewayError, RefundResult, get_gateway
from ..models import PAID, PaymentAttempt, PaymentEvent, Refund, WalletEntry
from .attempts import PaymentError, attempt_transition
from .wallet import WalletInsufficient, wallet_move

S = PaymentAttempt.Status


class RefundNotAllowed(PaymentError):
    code = "refund_not_allowed"


def refund_create(
    *, attempt: PaymentAttempt, amount: int, destination: str, reason: str, actor: str
) -> Refund:
    """Refund `amount` of a paid attempt. Returns the refund: succeeded, pending or failed."""
    with transaction.atomic():
        attempt = (
            PaymentAttempt.objects.select_for_update().select_related("order").get(pk=attempt.pk)
        )
        remaining = attempt.amount - attempt.refunded_amount
        if attempt.status not in PAID:
            raise RefundNotAllowed("only a paid attempt can be refunded")
        if not 0 < amount <= remaining:
            raise RefundNotAllowed(f"the refund must be between 1 and {remaining}")
        order = attempt.order
        if destination == Refund.Destination.WALLET and order.user is None:
            raise RefundNotAllowed("a guest order has no wallet to refund to")
        if destination == Refund.Destination.WALLET and attempt.provider == "wallet":
            destination = Refund.Destination.ORIGINAL  # the same thing: back to the wallet
        refund = Refund.objects.create(
            attempt=attempt,
            amount=amount,
            currency=attempt.currency,
            destination=destination,
            reason=reason[:200],
            created_by=actor,
        )
        if order.kind == Order.Kind.WALLET_TOP_UP:
            _take_back_top_up(attempt=attempt, refund=refund, actor=actor)
        attempt.refunded_amount += amount
        attempt.save(update_fields=["refunded_amount", "updated_at"])
        PaymentEvent.objects.create(
            attempt=attempt,
            kind=PaymentEvent.Kind.REFUND,
            actor=actor,
            message=f"refund of {amount} to {destination} requested: {reason}"[:500],
            payload={"refund": str(refund.public_id), "amount": amount, "to": destination},
        )
    return refund_send(refund=refund)


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
        raise RefundNotAllowed("the wallet no longer holds this top-up") from exc


def refund_send(*, refund: Refund) -> Refund:
    """Send a pending refund. A provider that does not answer leaves it pending."""
    attempt = refund.attempt
    key = f"refund-{refund.public_id}"
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
        else:
            result = get_gateway(attempt.provider).refund(
                reference=attempt.provider_reference, amount=refund.amount, idempotency_key=key
            )
    except GatewayError:
        return refund
    return refund_settle(refund=refund, result=result)


@transaction.atomic
def refund_settle(*, refund: Refund, result: RefundResult) -> Refund:
    """Record the provider's answer once; move the attempt and the order on a success."""
    attempt = PaymentAttempt.objects.select_for_update().get(pk=refund.attempt_id)
    refund = Refund.objects.select_for_update().get(pk=refund.pk)
    if refund.status != Refund.Status.PENDING:
        return refund
    refund.provider_reference = refund.provider_reference or result.reference
    if result.pending:
        # The provider finishes later and tells us by webhook; keep its id to match it then.
        refund.save(update_fields=["provider_reference"])
        return refund
    refund.settled_at = timezone.now()
    if not result.succeeded:
        refund.status = Refund.Status.FAILED
        refund.failure_reason = result.failure_reason[:100]
        refund.save()
        attempt.refunded_amount -= refund.amount
        attempt.save(update_fields=["refunded_amount", "updated_at"])
        PaymentEvent.objects.create(
            attempt=attempt,
            kind=PaymentEvent.Kind.REFUND,
            actor="provider",
            message=f"refund of {refund.amount} failed: {refund.failure_reason}",
            payload={"refund": str(refund.public_id), "status": "failed"},
        )
        return refund
    refund.status = Refund.Status.SUCCEEDED
    refund.save()
    done = sum(
        attempt.refunds.filter(status=Refund.Status.SUCCEEDED).values_list("amount", flat=True)
    )
    target = S.REFUNDED if done >= attempt.amount else S.PARTIALLY_REFUNDED
    attempt_transition(
        attempt=attempt,
        to=target,
        actor=refund.created_by,
        message=f"refund of {refund.amount} succeeded",
        payload={"refund": str(refund.public_id)},
    )
    order = Order.objects.select_for_update().get(pk=attempt.order_id)
    order_target = OrderStatus.REFUNDED if target == S.REFUNDED else OrderStatus.PARTIALLY_REFUNDED
    order_transition(order=order, to=order_target)
    return refund

"""What a provider's success settles: the order is marked paid (and a top-up credited), a late
confirmation of a failed or canceled attempt is honoured, and money this shop will not keep is
flagged for refund, once."""

from __future__ import annotations

from outbox.services import outbox_enqueue

from ..gateways import ChargeResult
from ..models import PaymentAttempt, PaymentEvent
from ..orders import OrderState, order_book
from .split import split_retake
from .transition import attempt_transition

S = PaymentAttempt.Status


def _refund_needed(*, attempt: PaymentAttempt, actor: str, reason: str) -> None:
    """Money was taken that this shop will not keep: write it on the timeline once and tell
    staff, who refund it (the attempt's page in admin shows the flag)."""
    if attempt.events.filter(kind=PaymentEvent.Kind.REFUND_NEEDED).exists():
        return  # a redelivered answer: staff already know
    PaymentEvent.objects.create(
        attempt=attempt,
        kind=PaymentEvent.Kind.REFUND_NEEDED,
        actor=actor,
        message=reason[:500],
        payload={"reference": attempt.provider_reference},
    )
    number = order_book().number(attempt.order_id)
    reference = attempt.provider_reference or f"(key {attempt.provider_key})"
    outbox_enqueue(
        kind="payments.admin_mail",
        payload={
            "subject": f"Refund needed: order {number}",
            "body": f"Payment {reference} for order {number}: {reason}. Refund it at the "
            "provider (or from the attempt's page in admin) and tell the customer.",
        },
        key=f"refund_needed:{attempt.pk}",
    )


def _late_success(*, attempt: PaymentAttempt, result: ChargeResult, actor: str) -> PaymentAttempt:
    """The provider took the money after we failed or canceled the attempt (we stopped waiting,
    the customer chose another way, a decline they then got past). If the order is still unpaid
    the payment is honoured; if it was paid or closed meanwhile, staff must refund this one."""
    order = order_book().lock(attempt.order_id)
    was = attempt.status
    if result.reference and not attempt.provider_reference:
        attempt.provider_reference = result.reference
        attempt.save(update_fields=["provider_reference", "updated_at"])
    if order.status != OrderState.PENDING:
        _refund_needed(
            attempt=attempt,
            actor=actor,
            reason=(
                f"charged after this attempt was {was}, but the order is {order.status}: "
                "a second charge"
            ),
        )
        return attempt
    if not split_retake(attempt=attempt, actor=actor):
        # The wallet part went back when the attempt ended and has been spent since: the
        # order cannot be paid in full by this charge, so it stays unpaid and the charge goes back.
        _refund_needed(
            attempt=attempt,
            actor=actor,
            reason=(
                f"charged after this attempt was {was}, but the wallet no longer holds the "
                f"{attempt.wallet_amount} {attempt.currency} it was to pay with it"
            ),
        )
        return attempt
    attempt_transition(
        attempt=attempt,
        to=S.SUCCEEDED,
        actor=actor,
        message=f"the provider confirmed the payment after this attempt was {was}",
        late_confirmation=True,
    )
    attempt.failure_code = attempt.failure_category = attempt.decline_code = ""
    attempt.save(update_fields=["failure_code", "failure_category", "decline_code"])
    if _order_mark_paid(attempt=attempt, actor=actor):
        number, reference = order.number, attempt.provider_reference
        outbox_enqueue(
            kind="payments.admin_mail",
            payload={
                "subject": f"Late payment honoured: order {number}",
                "body": f"Payment {reference} was confirmed after the attempt was {was}; order "
                f"{number} is now paid. Check that the customer did not pay again on a new "
                "order meanwhile.",
            },
            key=f"late_success:{attempt.pk}",
        )
    return attempt


def _order_mark_paid(*, attempt: PaymentAttempt, actor: str) -> bool:
    """Mark the order paid by this succeeded attempt, and credit a top-up with what was charged.

    The order is paid only by a charge of its own total and currency (with a split payment, the
    provider's charge plus the wallet part). Since a total is frozen
    once an order has an attempt this cannot differ; should it ever, the order is closed and the
    charge flagged for refund rather than goods given for the wrong amount. Returns whether the
    order was marked paid.
    """
    order = order_book().lock(attempt.order_id)
    paid = (attempt.amount + attempt.wallet_amount, attempt.currency.upper())
    if paid != (order.total, order.currency.upper()):
        order_book().move(order, OrderState.CANCELED)
        _refund_needed(
            attempt=attempt,
            actor=actor,
            reason=(
                f"charged {attempt.amount} {attempt.currency} (and {attempt.wallet_amount} from "
                f"the wallet), but order {order.number} is "
                f"{order.total} {order.currency}: the order was closed unpaid"
            ),
        )
        return False
    order_book().move(order, OrderState.PAID)
    PaymentEvent.objects.create(
        attempt=attempt, kind=PaymentEvent.Kind.ORDER_PAID, actor=actor, to_status=order.status
    )
    if order.is_wallet_top_up:
        from .wallet import wallet_move

        # What was charged is credited: the attempt's amount, never the order's current total.
        wallet_move(
            user=order.user,
            currency=attempt.currency,
            amount=attempt.amount,
            kind="top_up",
            attempt=attempt,
            actor=actor,
        )
    return True

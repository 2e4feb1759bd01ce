"""Order status moves, in one place. Payments and checkout services both call this."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from config.broadcast import group_send
from outbox.services import outbox_enqueue

from .models import Order, OrderEvent, OrderStatus

ALLOWED: dict[str, frozenset[str]] = {
    OrderStatus.PENDING: frozenset({OrderStatus.PAID, OrderStatus.CANCELED}),
    OrderStatus.PAID: frozenset({OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED}),
    OrderStatus.PARTIALLY_REFUNDED: frozenset(
        {OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED}
    ),
    OrderStatus.CANCELED: frozenset(),
    OrderStatus.REFUNDED: frozenset(),
}


class InvalidOrderTransition(Exception):
    pass


def order_transition(*, order: Order, to: str, actor: str = "system", reason: str = "") -> Order:
    """Move an order the caller has locked and write its OrderEvent in the same transaction;
    side effects run after the transaction commits. Illegal moves raise and record nothing.

    `actor` says who moved it ("system", "customer:<email>", "provider:<name>", "staff:<email>"),
    `reason` why, in a few words for the support timeline.
    """
    if to not in ALLOWED[order.status]:
        raise InvalidOrderTransition(f"order {order.number}: {order.status} -> {to} is not allowed")
    before = order.status
    # The move and its event commit together or not at all. No savepoint: callers already hold
    # the order's lock in their own transaction, and a failure here must fail that one too.
    with transaction.atomic(savepoint=False):
        order.status = to
        fields = ["status", "updated_at"]
        if to == OrderStatus.PAID:
            order.paid_at = timezone.now()
            fields.append("paid_at")
        order.save(update_fields=fields)
        OrderEvent.objects.create(
            order=order,
            from_status=before,
            to_status=to,
            actor=str(actor)[:120] or "system",
            reason=str(reason)[:500],
        )
    number, order_id = order.number, order.pk
    transaction.on_commit(lambda: order_broadcast(number, status=to))
    if to == OrderStatus.PAID:
        # In this transaction: the receipt exists exactly when the payment does.
        outbox_enqueue(
            kind="checkout.receipt", payload={"order_id": order_id}, key=f"receipt:{order_id}"
        )
    return order


def order_broadcast(number: str, *, status: str = "", attempt: str = "") -> None:
    """Tell any open status page that the order or its payment moved. Best effort: the page
    also polls when its websocket is down."""
    # Bounded and never raises: a dead or frozen channel layer must not fail or hold a paid order.
    message = {"type": "order.status", "order": number, "status": status, "attempt": attempt}
    group_send(f"order.{number}", message)

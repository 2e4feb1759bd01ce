"""Refund requests: a customer asks for their money back within the policy window; an agent
approves (the refund is made through payments' own refund service, under a key derived from the
request, so pressing Approve twice refunds once) or declines with a reason the customer is
emailed. One open request per order (a database constraint), answered within a target time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from outbox.services import outbox_enqueue
from payments import services as payment_services
from payments.models import PAID, PaymentAttempt, Refund

from .models import (
    REFUND_REQUEST_ALLOWED,
    Order,
    OrderKind,
    OrderStatus,
    RefundRequest,
    RefundRequestStatus,
)
from .services import CheckoutError

# Orders a customer may ask money back for (a canceled or unpaid one has nothing to give back).
REFUNDABLE = (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED)


class RefundRequestNotAllowed(CheckoutError):
    """Outside the window, not paid, already refunded, or an amount over what is left."""

    code = "refund_request_not_allowed"


class RefundRequestAlreadyOpen(CheckoutError):
    code = "refund_request_open"


class RefundRequestAnswered(CheckoutError):
    """The request was answered (or taken back) already: an answer is final."""

    code = "refund_request_answered"


def paid_attempt(order: Order) -> PaymentAttempt | None:
    return order.attempts.filter(status__in=PAID).first()


def refundable_amount(order: Order, attempt: PaymentAttempt | None = None) -> int:
    """What is left to refund of the order's paid attempt (`attempt`: one already read, used
    when it is the paid one)."""
    if attempt is None or attempt.status not in PAID:
        attempt = paid_attempt(order)
    return 0 if attempt is None else attempt.amount - attempt.refunded_amount


def refund_request_window_ends(order: Order) -> datetime | None:
    if order.paid_at is None:
        return None
    return order.paid_at + timedelta(days=settings.REFUND_REQUEST_WINDOW_DAYS)


def refund_request_can_open(
    order: Order,
    now: datetime | None = None,
    *,
    attempt: PaymentAttempt | None = None,
    requests: list[RefundRequest] | None = None,
) -> bool:
    """Whether the customer may ask now: a paid purchase (not all of it refunded), within
    REFUND_REQUEST_WINDOW_DAYS of paying, with no request waiting for an answer.

    The order page passes what it already read (its latest attempt, all its requests), so the
    answer costs no query of its own there."""
    ends = refund_request_window_ends(order)
    if not (
        order.kind == OrderKind.PURCHASE
        and order.status in REFUNDABLE
        and ends is not None
        and (now or timezone.now()) <= ends
        and refundable_amount(order, attempt) > 0
    ):
        return False
    if requests is not None:
        return not any(r.status == RefundRequestStatus.OPEN for r in requests)
    return not order.refund_requests.filter(status=RefundRequestStatus.OPEN).exists()


@transaction.atomic
def refund_request_open(
    *, order: Order, reason: str, user: Any = None, amount: int | None = None
) -> RefundRequest:
    """Open a refund request for a paid order; raises RefundRequestNotAllowed outside the
    window or over the amount left, RefundRequestAlreadyOpen while one waits for an answer."""
    # The order lock serialises two tabs; the partial unique index holds whatever gets past it.
    order = Order.objects.select_for_update().get(pk=order.pk)
    now = timezone.now()
    if order.refund_requests.filter(status=RefundRequestStatus.OPEN).exists():
        raise RefundRequestAlreadyOpen("a request for this order is waiting for an answer")
    ends = refund_request_window_ends(order)
    if order.kind != OrderKind.PURCHASE or order.status not in REFUNDABLE or ends is None:
        raise RefundRequestNotAllowed("only a paid order can be refunded")
    if now > ends:
        raise RefundRequestNotAllowed("the refund window has closed")
    left = refundable_amount(order)
    if left <= 0 or (amount is not None and not 0 < amount <= left):
        raise RefundRequestNotAllowed("the amount is more than what is left to refund")
    try:
        with transaction.atomic():
            return RefundRequest.objects.create(
                order=order,
                requested_by=user if getattr(user, "pk", None) else None,
                reason=reason.strip()[:1000],
                amount=amount,
                created_at=now,
                respond_by=now + timedelta(hours=settings.REFUND_REQUEST_RESPONSE_HOURS),
            )
    except IntegrityError:
        raise RefundRequestAlreadyOpen(
            "a request for this order is waiting for an answer"
        ) from None


def _decide(request: RefundRequest, to: str, agent: Any) -> list[str]:
    if to not in REFUND_REQUEST_ALLOWED[request.status]:
        raise RefundRequestAnswered(f"refund request {request.public_id}: {request.status} -> {to}")
    request.status = to
    request.decided_by = agent if getattr(agent, "pk", None) else None
    request.decided_at = timezone.now()
    return ["status", "decided_by", "decided_at"]


def refund_request_key(request: RefundRequest) -> str:
    """The refund's idempotency key, derived from the request: one refund per request."""
    return f"refund-request-{request.public_id}"


def refund_request_approve(*, request: RefundRequest, agent: Any) -> Refund:
    """Approve an open request: reserve the refund (the amount asked, or all that is left) and
    send it to the provider after the commit. Approving again returns the same refund."""
    with transaction.atomic():
        request = RefundRequest.objects.select_for_update().get(pk=request.pk)
        if request.status == RefundRequestStatus.APPROVED and request.refund is not None:
            return request.refund  # pressed twice, or two agents at once
        fields = _decide(request, RefundRequestStatus.APPROVED, agent)
        attempt = paid_attempt(request.order)
        if attempt is None:
            raise RefundRequestNotAllowed("the order has no paid payment")
        left = attempt.amount - attempt.refunded_amount
        refund, created = payment_services.refund_request(
            attempt=attempt,
            amount=request.amount or left,
            destination=Refund.Destination.ORIGINAL,
            reason=f"refund request: {request.reason}"[:200],
            actor=f"staff:{getattr(agent, 'email', agent)}",
            idempotency_key=refund_request_key(request),
        )
        request.refund = refund
        request.save(update_fields=[*fields, "refund"])
    if created:
        # Outside the lock: a provider that does not answer leaves it pending for the sweep.
        refund = payment_services.refund_send(refund=refund)
    return refund


@transaction.atomic
def refund_request_decline(*, request: RefundRequest, agent: Any, reason: str) -> RefundRequest:
    """Decline an open request with a reason; the customer is emailed it once."""
    request = RefundRequest.objects.select_for_update().get(pk=request.pk)
    reason = reason.strip()
    if not reason:
        raise RefundRequestNotAllowed("say why the request is declined")
    fields = _decide(request, RefundRequestStatus.DECLINED, agent)
    request.decline_reason = reason[:1000]
    request.save(update_fields=[*fields, "decline_reason"])
    outbox_enqueue(
        kind="checkout.refund_request_declined",
        payload={"request_id": request.pk},
        key=f"refund_request_declined:{request.pk}",
    )
    return request


@transaction.atomic
def refund_request_withdraw(*, request: RefundRequest) -> RefundRequest:
    """The customer takes back a request nobody has answered yet (they may ask again later,
    within the window)."""
    request = RefundRequest.objects.select_for_update().get(pk=request.pk)
    fields = _decide(request, RefundRequestStatus.WITHDRAWN, None)
    request.save(update_fields=fields)
    return request

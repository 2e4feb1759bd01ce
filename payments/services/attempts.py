"""Every write to payments. One charge per order, whatever the browser, the network or the
provider does: the order row lock serialises attempts, the database constraints back it up, and
the provider sees one idempotency key per attempt."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from django.db import IntegrityError, transaction

from outbox.services import outbox_enqueue

from ..failures import failure_for
from ..gateways import (
    CardSummary,
    ChargeRequest,
    ChargeResult,
    Gateway,
    Outcome,
    ProviderTimeout,
    get_gateway,
)
from ..models import ALLOWED, IN_FLIGHT, MethodHealth, PaymentAttempt, PaymentEvent, PaymentMethod
from ..orders import OrderState, PayableOrder, order_book
from ..selectors import method_availability
from .errors import (
    AmountChanged,
    IdempotencyConflict,
    MethodUnavailable,
    OrderNotPayable,
    PaymentInProgress,
)
from .settle import _late_success, _order_mark_paid, _refund_needed
from .split import split_check, split_hold
from .transition import _late_confirmation, attempt_transition

logger = logging.getLogger(__name__)
S = PaymentAttempt.Status


def _fingerprint(
    *, order: PayableOrder, method: PaymentMethod, payment_method: str, wallet_amount: int = 0
) -> str:
    raw = f"{order.pk}|{method.code}|{payment_method}|{order.total}|{order.currency}"
    if wallet_amount:
        raw += f"|wallet:{wallet_amount}"  # unsplit requests keep their old fingerprints
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def attempt_create(
    *,
    order: PayableOrder,
    method: PaymentMethod,
    idempotency_key: str,
    payment_method: str = "",
    user: Any = None,
    return_url: str = "",
    client_ip: str | None = None,
    expected_amount: int | None = None,
    wallet_amount: int = 0,
) -> tuple[PaymentAttempt, bool]:
    """Create the attempt, or return the one this idempotency key already made.

    Returns (attempt, created). The order row is locked first, so two requests for one order
    queue here; the partial unique constraints catch anything that slips past. With
    `expected_amount` (what the customer was shown) a total changed meanwhile charges nothing.

    With `wallet_amount` (the part the customer chose to pay from their wallet, as shown) that
    much is held from the owner's wallet here, in this transaction, after the order's row lock
    and under the wallet's; the provider is asked for the rest (services/split.py).
    """
    order = order_book().lock(order.pk)
    fingerprint = _fingerprint(
        order=order, method=method, payment_method=payment_method, wallet_amount=wallet_amount
    )
    existing = PaymentAttempt.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        # A key names one order's attempt: sent for another order it is a client bug, and
        # replaying would show one order's payment as the answer for another.
        if existing.order_id != order.pk or existing.request_fingerprint != fingerprint:
            raise IdempotencyConflict(
                "This idempotency key was already used for a different payment request."
            )
        return existing, False
    if order.status != OrderState.PENDING:
        raise OrderNotPayable(f"order {order.number} is {order.status}")
    if expected_amount is not None and order.total != expected_amount:
        raise AmountChanged(f"order {order.number} is {order.total}, not {expected_amount}")
    # The wallet that would pay is the order owner's, whoever is at the keyboard.
    availability = method_availability(
        method=method, amount=order.total, currency=order.currency, user=order.user
    )
    if not availability.available:
        raise MethodUnavailable(availability.reason)
    if method.kind == PaymentMethod.Kind.WALLET and order.is_wallet_top_up:
        raise MethodUnavailable("not_for_top_up")
    if method.kind == PaymentMethod.Kind.WALLET and not _is_owner(user, order):
        # A wallet is spent by its owner, signed in: not by staff, not by whoever holds the
        # order's emailed link.
        raise MethodUnavailable("wallet_owner_only")
    in_flight = PaymentAttempt.objects.filter(order_id=order.pk, status__in=IN_FLIGHT).first()
    if in_flight is not None:
        raise PaymentInProgress(in_flight)
    # After the in-flight check: a second tab is told which payment is under way, not that
    # the wallet (held by that payment) is now short.
    split_check(order=order, method=method, user=user, wallet_amount=wallet_amount)
    try:
        with transaction.atomic():
            attempt = PaymentAttempt.objects.create(
                # The order book's orders are the foreign key's own model (payments/orders.py).
                order=order,  # type: ignore[misc]
                method=method,
                user=user if getattr(user, "is_authenticated", False) else None,
                amount=order.total - wallet_amount,
                wallet_amount=wallet_amount,
                currency=order.currency,
                idempotency_key=idempotency_key,
                request_fingerprint=fingerprint,
                payment_method_ref=payment_method,
                provider=method.provider,
                return_url=return_url,
                client_ip=client_ip or None,
            )
    except IntegrityError:
        # Another order raced us to the same key; it is theirs, not a replay of ours.
        raise IdempotencyConflict("This idempotency key is already in use.") from None
    split_hold(attempt=attempt, order=order, actor=customer_actor(user))
    if MethodHealth.objects.filter(method=method, state=MethodHealth.State.OPEN).exists():
        from .health import health_claim_probe

        if not health_claim_probe(method=method, attempt=attempt):
            raise MethodUnavailable("method_unhealthy")  # rolls the attempt back
    PaymentEvent.objects.create(
        attempt=attempt,
        kind=PaymentEvent.Kind.CREATED,
        to_status=S.CREATED,
        actor=customer_actor(user),
        payload={
            "method": method.code,
            "amount": attempt.amount,
            "wallet_amount": attempt.wallet_amount,
            "currency": order.currency,
        },
    )
    return attempt, True


def _is_owner(user: Any, order: PayableOrder) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and order.user_id == user.pk


def customer_actor(user: Any) -> str:
    """How a customer is named on a timeline: by email when signed in."""
    if getattr(user, "is_authenticated", False):
        return f"customer:{user.email}"
    return "customer:guest"


def attempt_pay(
    *,
    order: PayableOrder,
    method: PaymentMethod,
    idempotency_key: str,
    payment_method: str = "",
    user: Any = None,
    return_url: str = "",
    client_ip: str | None = None,
    expected_amount: int | None = None,
    wallet_amount: int = 0,
) -> PaymentAttempt:
    """Pay an order: create the attempt and send it, or return what this key already did.

    A repeated key never reaches the provider a second time from here. A repeat that finds
    its attempt not yet sent (the first request is about to send it, or died before it could)
    sends it: attempt_send's row lock and status check let exactly one of them do so, and
    every repeat is told the attempt's state once it has left `created`.
    """
    attempt, created = attempt_create(
        order=order,
        method=method,
        idempotency_key=idempotency_key,
        payment_method=payment_method,
        user=user,
        return_url=return_url,
        client_ip=client_ip,
        expected_amount=expected_amount,
        wallet_amount=wallet_amount,
    )
    if not created and attempt.status != S.CREATED:
        return attempt
    return attempt_send(attempt=attempt)


def _risk_check(attempt: PaymentAttempt) -> bool:
    """Run the risk rules on a locked, created attempt. False when it was refused (failed)."""
    from .. import risk

    decision = risk.assess(attempt)
    attempt.risk_outcome, attempt.risk_rule = decision.outcome, decision.rule
    attempt.save(
        update_fields=[
            "risk_outcome",
            "risk_rule",
            "card_fingerprint",
            "card_brand",
            "card_last4",
            "updated_at",
        ]
    )
    if decision.outcome != risk.ALLOW:
        PaymentEvent.objects.create(
            attempt=attempt,
            kind=PaymentEvent.Kind.RISK,
            actor="risk",
            message=f"{decision.outcome}: {decision.rule}",
            payload={"outcome": decision.outcome, "rule": decision.rule, "detail": decision.detail},
        )
    if decision.outcome != risk.REFUSE:
        return True
    attempt.failure_code, attempt.failure_category = "risk_refused", "contact_support"
    attempt_transition(
        attempt=attempt,
        to=S.FAILED,
        actor="risk",
        message=f"refused by {decision.rule}",
        extra_fields=("failure_code", "failure_category"),
    )
    return False


def charge_request(attempt: PaymentAttempt) -> ChargeRequest:
    """What the provider is asked for this attempt: the same every time it is asked."""
    return ChargeRequest(
        amount=attempt.amount,
        currency=attempt.currency,
        method_kind=attempt.method.kind,
        payment_method=attempt.payment_method_ref,
        idempotency_key=attempt.provider_key,
        return_url=attempt.return_url,
    )


def _card_summary(attempt: PaymentAttempt, gateway: Gateway) -> CardSummary:
    """Ask the provider for the card's fingerprint, brand and last four before the risk rules
    run, outside any lock (for Stripe it is a network call). The risk check stores them with its
    verdict; the brand and last four name the card on the customer's pages."""
    if attempt.status != S.CREATED or not attempt.payment_method_ref:
        return CardSummary()
    if attempt.method.kind != PaymentMethod.Kind.CARD:
        return CardSummary()
    return gateway.card_summary(attempt.payment_method_ref)


def attempt_send(*, attempt: PaymentAttempt) -> PaymentAttempt:
    """Send a created attempt to its provider and record what came back.

    No lock is held during the provider call; the attempt is `sent` by then, which already
    blocks any other attempt for the order. A timeout or outage leaves it `unknown` on the
    route that was called; only a route that certainly did not charge passes it on (routing).
    """
    gateway = get_gateway(attempt.provider)
    card = _card_summary(attempt, gateway)
    with transaction.atomic():
        attempt = (
            PaymentAttempt.objects.select_for_update().select_related("order").get(pk=attempt.pk)
        )
        if attempt.status != S.CREATED:
            return attempt
        attempt.card_fingerprint = card.fingerprint or attempt.card_fingerprint
        if card.last4:  # brand and last four are stored together or not at all
            attempt.card_brand, attempt.card_last4 = card.brand, card.last4
        if not _risk_check(attempt):
            return attempt
        attempt_transition(attempt=attempt, to=S.SENT, actor="system")
    # The walk along the method's routes, and when it may move on: payments/services/routing.py.
    from .routing import attempt_route_send

    return attempt_route_send(attempt=attempt)


def _provider_error(*, attempt: PaymentAttempt, error: Exception, provider: str) -> None:
    """The timeline entry for a call that got no usable answer; method health counts these."""
    PaymentEvent.objects.create(
        attempt=attempt,
        kind=PaymentEvent.Kind.PROVIDER_ERROR,
        actor=f"provider:{provider}",
        message=str(error)[:500],
        payload={"error": type(error).__name__, "timeout": isinstance(error, ProviderTimeout)},
    )


def _attempt_mark_unknown(
    *, attempt: PaymentAttempt, error: Exception, provider: str
) -> PaymentAttempt:
    """A provider that did not answer has not said no: we are confirming, not failing."""
    with transaction.atomic():
        attempt = PaymentAttempt.objects.select_for_update().get(pk=attempt.pk)
        _provider_error(attempt=attempt, error=error, provider=provider)
        if attempt.status == S.SENT:
            attempt_transition(attempt=attempt, to=S.UNKNOWN, actor="system", message=str(error))
    return attempt


_OUTCOME_STATUS = {
    Outcome.SUCCEEDED: S.SUCCEEDED,
    Outcome.FAILED: S.FAILED,
    Outcome.REQUIRES_ACTION: S.REQUIRES_ACTION,
    Outcome.PROCESSING: S.PROCESSING,
}


@transaction.atomic
def attempt_apply_result(
    *, attempt: PaymentAttempt, result: ChargeResult, actor: str
) -> PaymentAttempt:
    """Apply a provider's answer. Safe to repeat and to receive late: status only moves forward."""
    attempt = PaymentAttempt.objects.select_for_update().get(pk=attempt.pk)
    target = _OUTCOME_STATUS[result.outcome]
    PaymentEvent.objects.create(
        attempt=attempt,
        kind=PaymentEvent.Kind.PROVIDER_RESPONSE,
        actor=actor,
        payload={**result.payload, "outcome": result.outcome.value},
    )
    if attempt.status == target:
        return attempt
    if target == S.SUCCEEDED and not _charged_as_asked(attempt, result):
        _refund_needed(
            attempt=attempt,
            actor=actor,
            reason=(
                f"the provider reports {result.amount} {result.currency} charged, but this "
                f"attempt asked for {attempt.amount} {attempt.currency}: the payment was not "
                "accepted"
            ),
        )
        return attempt
    if _late_confirmation(attempt, target):
        return _late_success(attempt=attempt, result=result, actor=actor)
    if target not in ALLOWED[attempt.status]:
        PaymentEvent.objects.create(
            attempt=attempt,
            kind=PaymentEvent.Kind.IGNORED,
            actor=actor,
            message=f"{attempt.status} does not move to {target}",
        )
        return attempt
    fields: list[str] = []
    if result.reference and not attempt.provider_reference:
        attempt.provider_reference = result.reference
        fields.append("provider_reference")
    if target == S.REQUIRES_ACTION:
        attempt.action_url = result.action_url
        fields.append("action_url")
    if target == S.FAILED:
        entry = failure_for(result.failure_code, result.decline_code)
        attempt.failure_code = result.failure_code or entry.code
        attempt.decline_code = result.decline_code
        attempt.failure_category = entry.category.value
        fields += ["failure_code", "decline_code", "failure_category"]
    from_status = attempt.status
    attempt_transition(
        attempt=attempt, to=target, actor=actor, message=result.message, extra_fields=tuple(fields)
    )
    if target == S.SUCCEEDED:
        _order_mark_paid(attempt=attempt, actor=actor)
    elif target == S.FAILED and from_status in {S.UNKNOWN, S.PROCESSING}:
        # The customer left with "we are confirming": the answer reaches them by email.
        outbox_enqueue(
            kind="payments.payment_failed",
            payload={"attempt_id": attempt.pk},
            key=f"payment_failed:{attempt.pk}",
        )
    return attempt


def _charged_as_asked(attempt: PaymentAttempt, result: ChargeResult) -> bool:
    """Whether a reported success took what this attempt asked for (when the provider says)."""
    if result.amount is not None and result.amount != attempt.amount:
        return False
    return not result.currency or result.currency.upper() == attempt.currency.upper()


def simulator_action_complete(*, reference: str, decision: str) -> PaymentAttempt:
    """The customer's choice on the simulator's 3D Secure / Alipay / WeChat Pay page.

    approve: the charge goes through (or is declined, for the 3DS-then-decline test cards);
    decline: the customer or bank refused; abandon: they walked away. The page reads the result
    back at once, as a return_url handler does with Stripe, and the simulator's webhook follows.
    """
    from ..gateways.simulator import simulator_emit
    from ..models import SimulatedCharge

    with transaction.atomic():
        charge = SimulatedCharge.objects.select_for_update().get(reference=reference)
        if charge.status == Outcome.REQUIRES_ACTION:
            if decision == "approve":
                charge.status = Outcome.FAILED if charge.failure_code else Outcome.SUCCEEDED
            elif decision == "decline":
                charge.status = Outcome.FAILED
                charge.failure_code = "authentication_failed"
            else:
                charge.status = Outcome.FAILED
                charge.failure_code = "action_abandoned"
            charge.save(update_fields=["status", "failure_code"])
    # Either simulator route: the charge knows which one it was made on.
    attempt = PaymentAttempt.objects.get(provider=charge.provider, provider_reference=reference)
    result = get_gateway(charge.provider).retrieve(reference)
    attempt = attempt_apply_result(
        attempt=attempt, result=result, actor=f"provider:{charge.provider}"
    )
    simulator_emit(charge)
    return attempt

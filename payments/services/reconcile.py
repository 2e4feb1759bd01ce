"""Reconciliation: attempts that never got a final answer are settled from the provider's.

A timeout or an outage leaves an attempt `unknown`; a provider may say `processing`; a worker may
die after `sent`. Every minute the oldest of these are read back from the provider. One that
still has no answer after the confirmation limit is failed with our own code, and the customer
and the admins are told.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from outbox.services import outbox_enqueue

from ..failures import failure_for
from ..gateways import (
    ChargeResult,
    InvalidPaymentDetails,
    Outcome,
    ProviderRejected,
    get_gateway,
)
from ..models import PaymentAttempt, PaymentEvent
from .attempts import attempt_apply_result, charge_request
from .cancel import attempt_cancel
from .transition import attempt_transition

logger = logging.getLogger(__name__)
S = PaymentAttempt.Status
UNSETTLED = (S.SENT, S.UNKNOWN, S.PROCESSING)


def _ask_provider(attempt: PaymentAttempt) -> ChargeResult | None:
    """The provider's current answer, or None when it still cannot say.

    Without a provider id (the first call timed out) the same request is sent again under the
    same idempotency key: the provider replays what it did, or does it now, but never twice.
    """
    gateway = get_gateway(attempt.provider)
    try:
        if attempt.provider_reference:
            return gateway.retrieve(attempt.provider_reference)
        return gateway.charge(charge_request(attempt))
    except (InvalidPaymentDetails, ProviderRejected) as exc:
        # Only a new charge (no provider id yet) can be refused like this: nothing was taken.
        return ChargeResult(outcome=Outcome.FAILED, reference="", failure_code=exc.code)
    except Exception as exc:  # noqa: BLE001 - GatewayError or anything else: still no answer
        logger.info("reconcile %s: no answer from the provider (%r)", attempt.public_id, exc)
        return None


def attempt_refresh(*, attempt: PaymentAttempt) -> PaymentAttempt:
    """Read the provider's answer now: the customer is back from a 3D Secure or redirect step.

    Safe to call any number of times; a provider that cannot say leaves the attempt as it is.
    """
    result = _ask_provider(attempt)
    if result is None:
        return attempt
    return attempt_apply_result(attempt=attempt, result=result, actor="return_url")


def attempt_reconcile(*, attempt: PaymentAttempt) -> PaymentAttempt:
    """Settle one unsettled attempt from the provider, or give up after the limit."""
    result = _ask_provider(attempt)
    if result is not None and result.outcome is not Outcome.PROCESSING:
        return attempt_apply_result(attempt=attempt, result=result, actor="reconciliation")
    limit = timedelta(minutes=settings.PAYMENTS_CONFIRMATION_LIMIT_MINUTES)
    if timezone.now() - attempt.created_at >= limit:
        return attempt_give_up(attempt=attempt)
    return attempt


@transaction.atomic
def attempt_give_up(*, attempt: PaymentAttempt) -> PaymentAttempt:
    """No answer within the limit: fail with `confirmation_timeout` and tell people."""
    attempt = PaymentAttempt.objects.select_for_update().get(pk=attempt.pk)
    if attempt.status not in UNSETTLED:
        return attempt
    attempt.failure_code = "confirmation_timeout"
    attempt.failure_category = "contact_support"
    attempt_transition(
        attempt=attempt,
        to=S.FAILED,
        actor="reconciliation",
        message="no answer from the provider within the confirmation limit",
        extra_fields=("failure_code", "failure_category"),
    )
    outbox_enqueue(
        kind="payments.confirmation_timeout",
        payload={"attempt_id": attempt.pk},
        key=f"confirmation_timeout:{attempt.pk}",
    )
    return attempt


def expire_waiting_actions() -> int:
    """Cancel attempts whose 3D Secure, redirect or QR step nobody finished in time, so the
    order can be paid another way. Returns how many were canceled."""
    cutoff = timezone.now() - timedelta(minutes=settings.PAYMENTS_ACTION_EXPIRY_MINUTES)
    waiting = PaymentAttempt.objects.filter(
        status=S.REQUIRES_ACTION, updated_at__lt=cutoff
    ).order_by("updated_at")[:200]
    count = 0
    for attempt in waiting:
        try:
            attempt = attempt_cancel(
                attempt=attempt, actor="expiry", code="payment_intent_payment_attempt_expired"
            )
        except Exception:  # noqa: BLE001 - the provider is unreachable: ask again next time
            logger.warning("expire %s: could not cancel yet", attempt.public_id, exc_info=True)
            continue
        count += attempt.status != S.REQUIRES_ACTION
    return count


def attempts_unsent_cancel() -> int:
    """Cancel attempts created but never sent (the request died between the two), once they are
    older than the confirmation limit: they block the order and may hold a wallet part, which
    goes back with the cancel (attempt_transition). Never sent means never charged: `sent` is
    committed before the provider is called. Returns how many were canceled."""
    cutoff = timezone.now() - timedelta(minutes=settings.PAYMENTS_CONFIRMATION_LIMIT_MINUTES)
    stale = PaymentAttempt.objects.filter(status=S.CREATED, created_at__lt=cutoff)
    count = 0
    for pk in stale.order_by("created_at").values_list("pk", flat=True)[:200]:
        with transaction.atomic():
            attempt = PaymentAttempt.objects.select_for_update().get(pk=pk)
            if attempt.status != S.CREATED:
                continue  # sent meanwhile: reconciliation follows it from there
            attempt.failure_code = "canceled"
            attempt.failure_category = failure_for("canceled").category.value
            attempt_transition(
                attempt=attempt,
                to=S.CANCELED,
                actor="reconciliation",
                message="created but never sent to the provider",
                extra_fields=("failure_code", "failure_category"),
            )
            count += 1
    return count


def reconcile_attempts() -> int:
    """Reconcile every attempt that has waited longer than the window. Returns how many."""
    cutoff = timezone.now() - timedelta(seconds=settings.PAYMENTS_RECONCILE_AFTER_SECONDS)
    waiting = (
        PaymentAttempt.objects.filter(status__in=UNSETTLED, updated_at__lt=cutoff)
        .select_related("method")
        .order_by("updated_at")[:200]
    )
    count = 0
    for attempt in waiting:
        before = attempt.status
        try:
            attempt = attempt_reconcile(attempt=attempt)
        except Exception:  # noqa: BLE001 - one bad attempt must not stop the others
            logger.exception("reconcile %s failed", attempt.public_id)
            continue
        if attempt.status != before:
            count += 1
        else:
            # Touch it so the oldest-first queue moves on; the timeline says we asked.
            PaymentAttempt.objects.filter(pk=attempt.pk).update(updated_at=timezone.now())
            PaymentEvent.objects.create(
                attempt=attempt,
                kind=PaymentEvent.Kind.RECONCILED,
                actor="reconciliation",
                message=f"still {attempt.status}",
            )
    return count

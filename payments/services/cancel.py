"""Canceling an attempt that waits for the customer, after asking the provider."""

from __future__ import annotations

from django.db import transaction

from ..failures import failure_for
from ..gateways import Outcome, get_gateway
from ..models import PaymentAttempt
from .attempts import attempt_apply_result
from .transition import attempt_transition

S = PaymentAttempt.Status


def attempt_cancel(
    *, attempt: PaymentAttempt, actor: str, code: str = "canceled"
) -> PaymentAttempt:
    """Cancel an attempt that waits for the customer (3D Secure, a redirect, a QR code), so they
    can pay another way at once, or because nobody finished it in time.

    The provider is asked first: a customer who completed the step a moment ago is paid, not
    canceled. A provider that cannot be reached raises GatewayError and nothing changes: the
    attempt may still be completed, so no other payment may start yet.
    """
    attempt = PaymentAttempt.objects.get(pk=attempt.pk)
    if attempt.status != S.REQUIRES_ACTION:
        return attempt
    gateway = get_gateway(attempt.provider)
    if attempt.provider_reference:
        result = gateway.cancel(attempt.provider_reference)
        if not (result.outcome is Outcome.FAILED and result.failure_code == "canceled"):
            # It moved on at the provider (paid, processing, declined): that is the answer.
            return attempt_apply_result(
                attempt=attempt, result=result, actor=f"provider:{gateway.name}"
            )
    with transaction.atomic():
        attempt = PaymentAttempt.objects.select_for_update().get(pk=attempt.pk)
        if attempt.status != S.REQUIRES_ACTION:
            return attempt
        entry = failure_for(code)
        attempt.failure_code, attempt.failure_category = code, entry.category.value
        attempt_transition(
            attempt=attempt,
            to=S.CANCELED,
            actor=actor,
            message="canceled at the provider before the customer finished",
            extra_fields=("failure_code", "failure_category"),
        )
    return attempt

"""The shopper is back from Adyen's 3-D Secure step: ask Adyen for the final answer now."""

from __future__ import annotations

import logging

from ..gateways import GatewayError, ProviderRejected, get_gateway
from ..gateways.adyen import AdyenGateway
from ..models import PaymentAttempt
from .attempts import attempt_apply_result

logger = logging.getLogger(__name__)


def attempt_adyen_redirect_complete(
    *, attempt: PaymentAttempt, redirect_result: str
) -> PaymentAttempt:
    """Send the `redirectResult` Adyen appended to our returnUrl to `/payments/details` and
    apply the answer, only when it is about this attempt (the value comes from the browser).

    Safe to repeat; an error leaves the attempt waiting and the AUTHORISATION notification, or
    the action's expiry, settles it.
    """
    if attempt.provider != "adyen" or attempt.status != PaymentAttempt.Status.REQUIRES_ACTION:
        return attempt
    gateway = get_gateway("adyen")
    if not isinstance(gateway, AdyenGateway) or not redirect_result:
        return attempt
    try:
        result = gateway.submit_details({"redirectResult": redirect_result[:5000]})
    except (GatewayError, ProviderRejected) as exc:
        logger.info("adyen details for %s: no answer (%r)", attempt.public_id, exc)
        return attempt
    if result.payload.get("merchantReference") != attempt.provider_key:
        logger.warning("adyen details for %s name another payment", attempt.public_id)
        return attempt
    return attempt_apply_result(attempt=attempt, result=result, actor="return_url")

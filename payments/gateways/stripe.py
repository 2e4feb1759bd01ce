"""Stripe, through the official library: PaymentIntents confirmed on creation.

Our attempt's key is Stripe's idempotency key, so a retry of the same attempt (ours or the
library's) is a replay, never a second charge. A network failure or a 5xx after the library's
own retries is "we do not know yet" (`GatewayError`), never a decline. Card details never reach
us: the page sends a PaymentMethod id made by Stripe's own Payment Element.
"""

from __future__ import annotations

from typing import Any

import stripe
from django.conf import settings
from stripe.params import PaymentIntentCreateParams

from .base import (
    CardSummary,
    ChargeRequest,
    ChargeResult,
    GatewayError,
    InvalidPaymentDetails,
    Outcome,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    RefundResult,
    card_summary_clean,
)

# Redirect and QR methods are created from their type; cards come as a PaymentMethod id.
_REDIRECT_KINDS = {"alipay", "wechat_pay"}


def make_client() -> stripe.StripeClient:
    """The one seam tests replace (with a client whose transport is a local fake).

    STRIPE_API_BASE (empty: Stripe's own address) points the library at another address: an
    egress proxy, or the local fake the deploy guide's smoke test pays through.
    """
    if settings.STRIPE_API_BASE:
        return stripe.StripeClient(
            settings.STRIPE_SECRET_KEY,
            max_network_retries=2,
            base_addresses={"api": settings.STRIPE_API_BASE},
        )
    return stripe.StripeClient(settings.STRIPE_SECRET_KEY, max_network_retries=2)


def _action_url(intent: Any) -> str:
    action = intent.get("next_action") or {}
    kind = action.get("type", "")
    # The intent is a StripeObject (a dict of anything): say which strings we expect.
    if kind == "redirect_to_url":
        return str(action["redirect_to_url"]["url"])
    if kind == "alipay_handle_redirect":
        return str(action["alipay_handle_redirect"]["url"])
    if kind == "wechat_pay_display_qr_code":
        return str(action["wechat_pay_display_qr_code"]["hosted_instructions_url"])
    return ""


def _as_dict(obj: Any) -> dict[str, Any]:
    """stripe-python 16 objects are not dicts; read them as plain data."""
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj or {})


def result_from_intent(obj: Any) -> ChargeResult:
    """A PaymentIntent (from a response or an event) as our gateway-neutral answer."""
    intent = _as_dict(obj)
    status = intent["status"]
    amount = intent.get("amount")
    currency = str(intent.get("currency") or "").upper()
    payload = {"id": intent["id"], "status": status, "amount": amount, "currency": currency}
    if status == "succeeded":
        received = intent.get("amount_received")
        charged = int(received if received is not None else amount) if amount is not None else None
        return ChargeResult(
            Outcome.SUCCEEDED, intent["id"], payload=payload, amount=charged, currency=currency
        )
    if status in {"processing", "requires_capture", "requires_confirmation"}:
        return ChargeResult(Outcome.PROCESSING, intent["id"], payload=payload)
    if status == "requires_action":
        return ChargeResult(
            Outcome.REQUIRES_ACTION, intent["id"], action_url=_action_url(intent), payload=payload
        )
    error = intent.get("last_payment_error") or {}
    code = error.get("code") or ("canceled" if status == "canceled" else "generic_decline")
    return ChargeResult(
        Outcome.FAILED,
        intent["id"],
        failure_code=code,
        decline_code=error.get("decline_code") or "",
        message=error.get("message") or "",
        payload={**payload, "last_payment_error": {"code": code, "type": error.get("type")}},
    )


def _unknown(exc: stripe.StripeError) -> GatewayError:
    """Any Stripe error that does not say "not charged" leaves the outcome unknown.

    An IdempotencyError belongs here too: the key was used before, and that first request may
    have charged. The attempt is then confirmed from Stripe's side, never failed on a guess.
    """
    if isinstance(exc, stripe.APIConnectionError):
        return ProviderTimeout(f"stripe: {exc.user_message or exc}")
    return ProviderUnavailable(f"stripe HTTP {exc.http_status}: {type(exc).__name__} {exc.code}")


class StripeGateway:
    name = "stripe"

    def __init__(self, client: stripe.StripeClient | None = None) -> None:
        self.client = client or make_client()

    def charge(self, request: ChargeRequest) -> ChargeResult:
        params: PaymentIntentCreateParams = {
            "amount": request.amount,
            "currency": request.currency.lower(),
            "confirm": True,
            "allowed_payment_method_types": [request.method_kind],
            "metadata": {"attempt_key": request.idempotency_key},
        }
        if request.return_url:
            params["return_url"] = settings.SITE_URL + request.return_url
        if request.method_kind in _REDIRECT_KINDS:
            params["payment_method_data"] = {"type": request.method_kind}
            if request.method_kind == "wechat_pay":
                params["payment_method_options"] = {"wechat_pay": {"client": "web"}}
        else:
            params["payment_method"] = request.payment_method
        try:
            intent = self.client.v1.payment_intents.create(
                params=params, options={"idempotency_key": request.idempotency_key}
            )
        except stripe.CardError as exc:
            return self._declined(exc)
        except stripe.InvalidRequestError as exc:
            if exc.code in {"resource_missing", "payment_method_invalid_parameter"}:
                raise InvalidPaymentDetails(str(exc.user_message or exc)) from exc
            # Stripe refused the request as such: no PaymentIntent was confirmed.
            raise ProviderRejected(f"stripe HTTP {exc.http_status}: {exc.code}") from exc
        except (stripe.AuthenticationError, stripe.PermissionError) as exc:
            raise ProviderRejected(
                f"stripe HTTP {exc.http_status}: {type(exc).__name__}", code="provider_rejected"
            ) from exc
        except stripe.StripeError as exc:
            raise _unknown(exc) from exc
        return result_from_intent(intent)

    def card_fingerprint(self, payment_method: str) -> str:
        return self.card_summary(payment_method).fingerprint

    def card_summary(self, payment_method: str) -> CardSummary:
        """One read of the PaymentMethod: Stripe gives the same fingerprint for one card number
        in every account, and the brand and last four the customer recognises. A lookup that
        fails must not block the payment: the risk rule runs without the fingerprint and the
        pages say "Card"."""
        if not payment_method.startswith("pm_"):
            return CardSummary()
        try:
            found = self.client.v1.payment_methods.retrieve(payment_method)
        except stripe.StripeError:
            return CardSummary()
        card = _as_dict(found).get("card") or {}
        return card_summary_clean(
            fingerprint=card.get("fingerprint"), brand=card.get("brand"), last4=card.get("last4")
        )

    def retrieve(self, reference: str) -> ChargeResult:
        try:
            intent = self.client.v1.payment_intents.retrieve(reference)
        except stripe.StripeError as exc:
            # Whatever went wrong, reading gives no answer: the attempt keeps waiting, and the
            # confirmation limit decides when we stop.
            raise _unknown(exc) from exc
        return result_from_intent(intent)

    def cancel(self, reference: str) -> ChargeResult:
        try:
            intent = self.client.v1.payment_intents.cancel(reference)
        except stripe.InvalidRequestError as exc:
            if exc.code != "payment_intent_unexpected_state":
                raise _unknown(exc) from exc
            # It moved on meanwhile (paid, processing): what it is now is the answer.
            return self.retrieve(reference)
        except stripe.StripeError as exc:
            raise _unknown(exc) from exc
        return result_from_intent(intent)

    def refund(self, *, reference: str, amount: int, idempotency_key: str) -> RefundResult:
        """Our refund key goes as Stripe's idempotency key and as metadata, so the refund's
        events (which carry metadata, not the key) find our row even before we stored its id."""
        try:
            refund = self.client.v1.refunds.create(
                params={
                    "payment_intent": reference,
                    "amount": amount,
                    "metadata": {"refund_key": idempotency_key},
                },
                options={"idempotency_key": idempotency_key},
            )
        except stripe.InvalidRequestError as exc:
            return RefundResult(False, "", failure_reason=exc.code or "invalid_request")
        except stripe.StripeError as exc:
            raise _unknown(exc) from exc
        data = _as_dict(refund)
        status = data.get("status", "")
        if status == "succeeded":
            return RefundResult(True, data["id"])
        if status in {"pending", "requires_action"}:
            return RefundResult(False, data["id"], pending=True)
        return RefundResult(False, data["id"], failure_reason=data.get("failure_reason") or status)

    @staticmethod
    def _declined(exc: stripe.CardError) -> ChargeResult:
        error = _as_dict(exc.error)
        reference = (error.get("payment_intent") or {}).get("id", "")
        decline_code = error.get("decline_code") or ""
        return ChargeResult(
            Outcome.FAILED,
            reference,
            failure_code=exc.code or "card_declined",
            decline_code=decline_code,
            message=exc.user_message or "",
            payload={"id": reference, "status": "requires_payment_method", "code": exc.code},
        )

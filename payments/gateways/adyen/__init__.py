"""Adyen for cards, through the official `Adyen` library (Checkout API v72).

Same key, one payment. Our attempt's key goes to Adyen as the `Idempotency-Key` header and as the
payment's `reference`, so a retry of the same attempt (ours, reconciliation's) is a replay at
Adyen, never a second charge; a refund's key does the same for the refund.

Card data never touches our server. Two ways in, decided by the token the attempt carries:

* **Adyen's own token** (`adyen:<number>|<month>|<year>|<cvc>`, the four values that Adyen's web
  Card Component encrypts in the browser; Adyen's test values such as `test_4111111111111111`
  work the same): sent to `POST /payments`. `RedirectShopper` / `IdentifyShopper` /
  `ChallengeShopper` is a 3-D Secure step (`requires_action`, its URL); the shopper comes back
  with a `redirectResult` that `submit_details` sends to `POST /payments/details`, and the
  AUTHORISATION notification settles it anyway.
* **Anything else** (a Stripe `pm_...` id when a payment fails over to this route, nothing at
  all): no card data is sent. We create an Adyen-hosted Pay by Link page (`POST /paymentLinks`)
  and answer `requires_action` with its URL: the customer types the card on Adyen's page. The
  attempt's reference is then `link:<link id>`; the AUTHORISATION notification replaces it with
  the payment's pspReference, which refunds need.

Reading a payment back: Adyen's Checkout API has no "get payment by reference" for card
payments. `retrieve` reads a payment link (`GET /paymentLinks/{id}`), which does say whether it was
paid; for a card payment it raises `ProviderUnavailable` ("no answer"), and the AUTHORISATION
notification is what settles it. Reconciliation therefore never invents an answer: an attempt
with no pspReference yet (the first call timed out) is re-sent under the same key, which Adyen
answers with the first answer; one with a pspReference waits for the notification until the
confirmation limit fails it with our own code.

Errors: connection refused or a connect timeout (nothing was sent) -> `NotCharged`; 400, 401,
403, 404, 422 (Adyen validated and did not process the request) -> `ProviderRejected`; a read
timeout or a dropped connection -> `ProviderTimeout` (it may have charged: `unknown`); 5xx or an
answer we cannot read -> `ProviderUnavailable`.
"""

from __future__ import annotations

from typing import Any

import Adyen
import requests
from django.conf import settings
from django.utils.translation import gettext as _
from urllib3.exceptions import ConnectTimeoutError

from ..base import (
    CardSummary,
    ChargeRequest,
    ChargeResult,
    GatewayError,
    InvalidPaymentDetails,
    NotCharged,
    Outcome,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    RefundResult,
)
from .answers import (
    LINK_PREFIX,
    REFUSAL_CODES,
    as_dict,
    failure_code_for,
    result_from_link,
    result_from_payment,
)

TOKEN_PREFIX = "adyen:"
# What Adyen's Card Component produces: its CSE blobs, or the documented test values.
_ENCRYPTED_PREFIXES = ("adyenjs_", "test_")
_TOKEN_FIELDS = (
    "encryptedCardNumber",
    "encryptedExpiryMonth",
    "encryptedExpiryYear",
    "encryptedSecurityCode",
)


def parse_token(value: str) -> dict[str, str] | None:
    """The encrypted card fields in an Adyen token, or None when it is not Adyen's."""
    if not value.startswith(TOKEN_PREFIX):
        return None
    parts = value.removeprefix(TOKEN_PREFIX).split("|")
    if len(parts) != len(_TOKEN_FIELDS) or not all(
        part.startswith(_ENCRYPTED_PREFIXES) and len(part) > len("test_") for part in parts
    ):
        return None
    return dict(zip(_TOKEN_FIELDS, parts, strict=True))


def normalize_token(value: str) -> str:
    """What the checkout may store for a card paid through Adyen: Adyen's token, or "" (the
    customer then pays on Adyen's hosted page). Anything else typed there is dropped, never
    stored nor forwarded."""
    value = value.strip()
    if not value:
        return ""
    if value.startswith(TOKEN_PREFIX):
        if parse_token(value) is None:
            raise InvalidPaymentDetails(
                _("Card details could not be read. Enter them again in the card form.")
            )
        return value
    return ""


def make_client() -> Any:
    """The configured library client; the one seam tests point at the local fake."""
    adyen = Adyen.Adyen(
        xapikey=settings.ADYEN_API_KEY,
        platform=settings.ADYEN_ENVIRONMENT,
        live_endpoint_prefix=settings.ADYEN_LIVE_PREFIX or None,
        http_timeout=settings.ADYEN_HTTP_TIMEOUT_SECONDS,
        # `requests`, without retries of its own: its errors tell "never sent" from "lost".
        http_force="requests",
    )
    if settings.ADYEN_CHECKOUT_URL:
        base = settings.ADYEN_CHECKOUT_URL.rstrip("/")
        for api in (
            adyen.checkout.payments_api,
            adyen.checkout.modifications_api,
            adyen.checkout.payment_links_api,
        ):
            api.baseUrl = base
    return adyen


def _never_sent(exc: requests.ConnectionError) -> bool:
    """Whether the connection failed before a byte of the request left (refused, no route, a
    connect timeout): only then did Adyen certainly not charge."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    # urllib3's NewConnectionError (refused, DNS) is a ConnectTimeoutError.
    return isinstance(reason, ConnectTimeoutError)


def _http_error(exc: Adyen.AdyenError) -> Exception:
    status = int(exc.status_code) if str(exc.status_code).isdigit() else 0
    label = f"adyen HTTP {status or '?'}: {exc.error_code or type(exc).__name__}"
    if status in {400, 401, 403, 404, 422}:
        # Adyen refused the request as such (credentials, validation): nothing was processed.
        return ProviderRejected(label)
    return ProviderUnavailable(label)


class AdyenGateway:
    name = "adyen"

    def __init__(self, client: Any = None) -> None:
        self.adyen = client or make_client()
        self.merchant_account = str(settings.ADYEN_MERCHANT_ACCOUNT)

    # Transport ------------------------------------------------------------------------------
    def _call(self, send: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """One library call: its errors turned into ours, its answer a dict (or unavailable)."""
        try:
            result = send(*args, **kwargs)
        except requests.ConnectionError as exc:
            if _never_sent(exc):
                raise NotCharged(f"adyen: not reachable ({exc})") from exc
            raise ProviderTimeout(f"adyen: connection lost ({exc})") from exc
        except requests.Timeout as exc:
            raise ProviderTimeout(f"adyen: no answer in time ({exc})") from exc
        except Adyen.AdyenError as exc:
            raise _http_error(exc) from exc
        except (requests.RequestException, ValueError, AttributeError, TypeError) as exc:
            raise ProviderUnavailable(f"adyen: unreadable answer ({type(exc).__name__})") from exc
        message = getattr(result, "message", None)
        if not isinstance(message, dict):
            raise ProviderUnavailable("adyen: the answer is not a JSON object")
        return message

    def _amount(self, amount: int, currency: str) -> dict[str, Any]:
        return {"value": amount, "currency": currency.upper()}

    def _return_url(self, path: str) -> str:
        return str(settings.SITE_URL) + (path or "/")

    # Gateway --------------------------------------------------------------------------------
    def charge(self, request: ChargeRequest) -> ChargeResult:
        fields = parse_token(request.payment_method)
        if fields is None:
            return self._hosted(request)
        body = {
            "amount": self._amount(request.amount, request.currency),
            "reference": request.idempotency_key,
            "merchantAccount": self.merchant_account,
            "paymentMethod": {"type": "scheme", **fields},
            "returnUrl": self._return_url(request.return_url),
            "channel": "Web",
            "shopperInteraction": "Ecommerce",
        }
        answer = self._call(
            self.adyen.checkout.payments_api.payments,
            body,
            idempotency_key=request.idempotency_key,
        )
        return result_from_payment(answer)

    def _hosted(self, request: ChargeRequest) -> ChargeResult:
        """A Pay by Link page on Adyen: the customer types the card there, not here."""
        body = {
            "amount": self._amount(request.amount, request.currency),
            "reference": request.idempotency_key,
            "merchantAccount": self.merchant_account,
            "returnUrl": self._return_url(request.return_url),
            "allowedPaymentMethods": ["scheme"],
        }
        answer = self._call(
            self.adyen.checkout.payment_links_api.payment_links,
            body,
            idempotency_key=request.idempotency_key,
        )
        return result_from_link(answer)

    def submit_details(self, details: dict[str, str]) -> ChargeResult:
        """The shopper is back from 3-D Secure with `redirectResult`: Adyen's final answer."""
        answer = self._call(self.adyen.checkout.payments_api.payments_details, {"details": details})
        return result_from_payment(answer)

    def retrieve(self, reference: str) -> ChargeResult:
        if not reference.startswith(LINK_PREFIX):
            raise ProviderUnavailable(
                "adyen: a card payment cannot be read back; its AUTHORISATION notification "
                "settles it"
            )
        answer = self._call(
            self.adyen.checkout.payment_links_api.get_payment_link,
            reference.removeprefix(LINK_PREFIX),
        )
        return result_from_link(answer)

    def cancel(self, reference: str) -> ChargeResult:
        """A link is expired (Adyen's documented way to stop one); a card payment waiting for
        3-D Secure gets a cancel, which Adyen only acknowledges (`received`)."""
        if reference.startswith(LINK_PREFIX):
            link_id = reference.removeprefix(LINK_PREFIX)
            now = result_from_link(
                self._call(self.adyen.checkout.payment_links_api.get_payment_link, link_id)
            )
            if now.outcome in {Outcome.SUCCEEDED, Outcome.PROCESSING}:
                return now  # paid (or being paid) just before: never canceled
            answer = self._call(
                self.adyen.checkout.payment_links_api.update_payment_link,
                {"status": "expired"},
                link_id,
            )
            after = result_from_link(answer)
            if after.outcome is not Outcome.FAILED:
                return after
            return ChargeResult(
                Outcome.FAILED, reference, failure_code="canceled", payload=after.payload
            )
        key = f"cancel-{reference}"
        answer = self._call(
            self.adyen.checkout.modifications_api.cancel_authorised_payment_by_psp_reference,
            {"merchantAccount": self.merchant_account, "reference": key},
            reference,
            idempotency_key=key,
        )
        return ChargeResult(
            Outcome.FAILED,
            reference,
            failure_code="canceled",
            payload={"pspReference": reference, "cancel": str(answer.get("status", ""))},
        )

    def refund(self, *, reference: str, amount: int, idempotency_key: str) -> RefundResult:
        """Adyen accepts a refund (`received`) and settles it later: the REFUND notification,
        found by the key we send as the refund's `reference`, says how it ended."""
        if not reference or reference.startswith(LINK_PREFIX):
            return RefundResult(False, "", failure_reason="no_adyen_payment")
        answer = self._call(
            self.adyen.checkout.modifications_api.refund_captured_payment,
            {
                "amount": self._amount(amount, _currency_of(reference)),
                "merchantAccount": self.merchant_account,
                "reference": idempotency_key,
            },
            reference,
            idempotency_key=idempotency_key,
        )
        if answer.get("status") != "received" or not answer.get("pspReference"):
            raise ProviderUnavailable("adyen: the refund answer says neither received nor its id")
        return RefundResult(False, str(answer["pspReference"]), pending=True)

    def card_fingerprint(self, payment_method: str) -> str:
        # Encrypted fields carry no fingerprint we can read before the payment.
        return ""

    def card_summary(self, payment_method: str) -> CardSummary:
        # Encrypted fields carry no brand or digits we can read before the payment.
        return CardSummary()


def _currency_of(psp_reference: str) -> str:
    """The currency of our payment with this pspReference (Adyen needs it with a refund's
    amount; the gateway interface passes only the amount)."""
    from ...models import PaymentAttempt

    currency = (
        PaymentAttempt.objects.filter(provider="adyen", provider_reference=psp_reference)
        .values_list("currency", flat=True)
        .first()
    )
    return str(currency or settings.SHOP_CURRENCY)


__all__ = [
    "LINK_PREFIX",
    "REFUSAL_CODES",
    "AdyenGateway",
    "GatewayError",
    "as_dict",
    "failure_code_for",
    "normalize_token",
    "result_from_link",
    "result_from_payment",
]

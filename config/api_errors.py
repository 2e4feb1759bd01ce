"""Domain errors turned into answers, in one place.

Services raise typed errors (payments' PaymentError family, checkout's CheckoutError family, an
illegal order move); this module says, once, which HTTP status each error code answers with and
which words it says. The API's exception handler (REST_FRAMEWORK["EXCEPTION_HANDLER"]) uses it
for every endpoint, and `checkout.errors` uses the same words on the pages, so an error reads the
same in a browser as to an API client. Everything is translated at answer time, in the request's
language.

The documented API answer is `{"error": code, "detail": message, ...extra}`. A validation error
keeps DRF's field errors beside those two keys (clients read `body["email"]`), and a throttled
request gets `retry_after` and a Retry-After header.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers
from rest_framework.response import Response

from accounts.api import retry_message
from checkout import services as checkout_services
from checkout.status import InvalidOrderTransition
from payments import services as payment_services
from payments.selectors import REASON_MESSAGES

# code -> HTTP status: the one table. 409: the request was fine but the state of things refuses
# it now; 402: money is missing; 400: the request itself cannot be done as asked.
STATUS: dict[str, int] = {
    "idempotency_conflict": 409,
    "payment_in_progress": 409,
    "order_not_payable": 409,
    "method_unavailable": 409,
    "amount_changed": 409,
    "refund_not_allowed": 409,
    "invalid_transition": 409,
    "order_transition_not_allowed": 409,
    "product_unavailable": 409,
    "wallet_insufficient": 402,
    "empty_cart": 400,
    "mixed_currencies": 400,
    "checkout_error": 400,
    "webhook_rejected": 400,
    "payment_error": 400,
    "invalid": 400,
    "not_found": 404,
    "throttled": 429,
}

# The words for each error, most specific class first (looked up along the class's MRO). A
# callable builds them from the error itself (its reason, its own translated message).
Words = Promise | Callable[[Any], Any]
MESSAGES: dict[type[BaseException], Words] = {
    payment_services.RefundKeyConflict: _(
        "This Idempotency-Key was already used for a different refund."
    ),
    payment_services.IdempotencyConflict: _(
        "Something changed while you were paying. Please check and try again."
    ),
    payment_services.PaymentInProgress: _(
        "Another payment for this order is still being confirmed."
    ),
    payment_services.OrderNotPayable: _("This order is already paid or closed."),
    payment_services.MethodUnavailable: lambda exc: REASON_MESSAGES.get(
        exc.reason, _("This payment method is not available right now.")
    ),
    payment_services.AmountChanged: _(
        "The amount was changed in another window. Check it and press the button again."
    ),
    payment_services.WalletInsufficient: _("Your wallet balance is not enough for this order."),
    # Its raisers word the reason for staff ("only a paid payment can be refunded").
    payment_services.RefundNotAllowed: str,
    payment_services.InvalidTransition: _(
        "This payment has already moved on. Reload to see where it stands."
    ),
    InvalidOrderTransition: _("This order has already moved on. Reload to see where it stands."),
    payment_services.WebhookRejected: str,
    payment_services.PaymentError: _("The payment could not be made. You were not charged."),
    checkout_services.EmptyCart: _("Your cart is empty. Add something before checking out."),
    checkout_services.MixedCurrencies: _("All items of an order must be in the same currency."),
    checkout_services.ProductUnavailable: _("Sorry, that product is no longer available."),
    checkout_services.CheckoutError: _(
        "Something changed while you were paying. Please check and try again."
    ),
}

DOMAIN_ERRORS = (payment_services.PaymentError, checkout_services.CheckoutError)


def error_code(exc: BaseException) -> str:
    if isinstance(exc, InvalidOrderTransition):
        return "order_transition_not_allowed"
    return str(getattr(exc, "code", "payment_error"))


@dataclass(frozen=True)
class ErrorAnswer:
    code: str
    status: int
    message: str
    extra: dict[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "detail": self.message, **self.extra}


def answer_for(exc: BaseException) -> ErrorAnswer | None:
    """The answer for a domain error, in the active language; None for anything else."""
    if not isinstance(exc, (*DOMAIN_ERRORS, InvalidOrderTransition)):
        return None
    words = next(MESSAGES[cls] for cls in type(exc).__mro__ if cls in MESSAGES)
    message = str(words(exc) if callable(words) else words)
    code = error_code(exc)
    extra: dict[str, Any] = {}
    if isinstance(exc, payment_services.PaymentInProgress):
        extra["attempt"] = str(exc.attempt.public_id)
    if isinstance(exc, payment_services.MethodUnavailable):
        extra["reason"] = exc.reason
    return ErrorAnswer(code=code, status=STATUS.get(code, 400), message=message, extra=extra)


def _first_message(detail: Any) -> str:
    """The first human sentence of a DRF error detail (a string, list or dict of them)."""
    if isinstance(detail, dict):
        detail = next(iter(detail.values()), "")
    if isinstance(detail, list):
        return _first_message(detail[0]) if detail else ""
    return str(detail)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """REST_FRAMEWORK["EXCEPTION_HANDLER"]: every error an API view lets out, as the answer."""
    # Imported here: rest_framework.views reads the settings (and so the throttles) at import.
    from rest_framework.views import exception_handler as drf_exception_handler

    answer = answer_for(exc)
    if answer is not None:
        return Response(answer.body(), status=answer.status)
    response = drf_exception_handler(exc, context)  # Http404 and PermissionDenied too
    if response is None:
        return None  # a bug: a 500, mailed to the admins
    if isinstance(exc, exceptions.Throttled):
        # Throttled.__init__ sets .wait; djangorestframework-stubs do not declare it.
        seconds = max(1, math.ceil(exc.wait or 1))  # type: ignore[attr-defined]
        response.data = {
            "error": "throttled",
            "detail": retry_message(seconds),
            "retry_after": seconds,
        }
        response["Retry-After"] = str(seconds)
    elif isinstance(exc, exceptions.ValidationError):
        fields = response.data if isinstance(response.data, dict) else {}
        response.data = {
            "error": "invalid",
            "detail": _first_message(response.data),
            **fields,
        }
    elif isinstance(exc, exceptions.APIException):
        response.data = {"error": exc.default_code, "detail": _first_message(exc.detail)}
    return response


# --- OpenAPI: the same table, for the schema ----------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField(help_text="A stable code, e.g. payment_in_progress.")
    detail = serializers.CharField(help_text="What went wrong, in the request's language.")


def error_responses(*codes: str) -> dict[int, OpenApiResponse]:
    """`responses=` entries for extend_schema: each status with the codes that answer with it."""
    by_status: dict[int, list[str]] = {}
    for code in codes:
        by_status.setdefault(STATUS[code], []).append(code)
    return {
        status: OpenApiResponse(
            ErrorSerializer,
            description="`error` is one of: " + ", ".join(f"`{c}`" for c in sorted(listed)),
        )
        for status, listed in sorted(by_status.items())
    }

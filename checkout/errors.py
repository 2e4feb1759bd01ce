"""Domain errors turned into answers, in one place: the words for each error, used by the API's
exception handler (config.api_errors) and by the pages (`page_answer_for`), so a shopper reads
what an API client reads, in their language. The status each code answers with is the one table
in config.api_schema. Services raise typed errors (payments' PaymentError family, checkout's
CheckoutError family, an illegal order move); nothing here is silent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from config.api_schema import STATUS
from payments import services as payment_services
from payments.selectors import REASON_MESSAGES

from . import refund_requests
from . import services as checkout_services
from .status import InvalidOrderTransition

# The words for each error, most specific class first (looked up along the class's MRO). A
# callable builds them from the error itself (its reason, its own translated message).
Words = Promise | Callable[[Any], Any]
MESSAGES: dict[type[BaseException], Words] = {
    payment_services.RefundKeyConflict: _(
        "This Idempotency-Key was already used for a different refund."
    ),
    payment_services.WithdrawalKeyConflict: _(
        "This Idempotency-Key was already used for a different withdrawal."
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
    # Its raiser words it for the customer ("you can withdraw at most $42.00 right now").
    payment_services.WithdrawalNotAllowed: str,
    payment_services.InvalidTransition: _(
        "This payment has already moved on. Reload to see where it stands."
    ),
    InvalidOrderTransition: _("This order has already moved on. Reload to see where it stands."),
    payment_services.WebhookRejected: str,
    payment_services.PaymentError: _("The payment could not be made. You were not charged."),
    refund_requests.RefundRequestAlreadyOpen: _(
        "You have already asked for a refund of this order. We will answer it soon."
    ),
    refund_requests.RefundRequestAnswered: _(
        "This refund request has already been answered. Reload to see the answer."
    ),
    refund_requests.RefundRequestNotAllowed: _(
        "This order can no longer be refunded on request. Please contact support."
    ),
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


class Where(StrEnum):
    # The same form again with the message on top, everything typed kept: nothing was charged
    # and the customer can choose again (another method, a smaller amount).
    AGAIN = "again"
    # A fresh form: something changed underneath (the cart, the total, the key's request).
    RELOAD = "reload"
    # The order's own status page: a payment for it is still being confirmed, or it is done.
    STATUS = "status"


WHERE: dict[str, Where] = {
    "payment_in_progress": Where.STATUS,
    "order_not_payable": Where.STATUS,
    "idempotency_conflict": Where.RELOAD,
    "amount_changed": Where.RELOAD,
    "empty_cart": Where.RELOAD,
    "mixed_currencies": Where.RELOAD,
    "product_unavailable": Where.RELOAD,
    "checkout_error": Where.RELOAD,
    "method_unavailable": Where.AGAIN,
    "wallet_insufficient": Where.AGAIN,
}


@dataclass(frozen=True)
class PageAnswer:
    message: str
    where: Where
    # The HTTP status of a page rendered again (the API's status for the same error).
    status: int


def page_answer_for(exc: Exception) -> PageAnswer:
    """What the page says about a domain error, and where it goes. Other errors propagate."""
    answer = answer_for(exc)
    if answer is None:
        raise exc
    return PageAnswer(
        message=answer.message,
        where=WHERE.get(error_code(exc), Where.AGAIN),
        status=answer.status,
    )

"""Domain errors on the pages: the API's words (config.api_errors) and where the page goes next.

The checkout and the wallet top-up ask `page_answer_for(exc)` instead of wording each error
themselves, so a shopper reads what an API client reads, in their language. Nothing here is
silent: every answer carries a message the page shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from config.api_errors import answer_for, error_code


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

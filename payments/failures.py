"""The failure catalog: every failure we can produce, in words a customer can act on.

One declarative table. Each entry says what category of next step fits (which decides the buttons
the page offers), a short message, 1-3 guidance steps, whether the specific reason may be shown
(never for fraud-like codes) and whether trying the same method again can help. Unknown codes fall
back to the generic decline. The payments-engine issue extends this table to every code in the
Stripe reference; a test keeps it complete and translated.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class Category(StrEnum):
    RETRY = "retry"
    FIX_DETAILS = "fix_details"
    ANOTHER_METHOD = "another_method"
    CONTACT_BANK = "contact_bank"
    WAIT = "wait"
    CONTACT_SUPPORT = "contact_support"


@dataclass(frozen=True)
class Failure:
    code: str
    category: Category
    message: Promise
    guidance: tuple[Promise, ...]
    reveal: bool = True
    retry_same_method: bool = False


_GENERIC_MESSAGE = _("Your bank did not approve this payment.")
_GENERIC_GUIDANCE = (
    _("Try another card or payment method."),
    _("Or contact your bank to ask why the payment was declined."),
)


def _hidden(code: str) -> Failure:
    """Fraud-like reasons: shown to the customer exactly like a generic decline."""
    return Failure(code, Category.ANOTHER_METHOD, _GENERIC_MESSAGE, _GENERIC_GUIDANCE, reveal=False)


_ENTRIES = [
    Failure("generic_decline", Category.CONTACT_BANK, _GENERIC_MESSAGE, _GENERIC_GUIDANCE),
    Failure(
        "insufficient_funds",
        Category.ANOTHER_METHOD,
        _("The card does not have enough funds for this payment."),
        (
            _("Use another card or payment method."),
            _("Or add funds to this card and try again."),
        ),
        retry_same_method=True,
    ),
    Failure(
        "expired_card",
        Category.ANOTHER_METHOD,
        _("This card has expired."),
        (_("Use another card or payment method."),),
    ),
    Failure(
        "incorrect_cvc",
        Category.FIX_DETAILS,
        _("The security code (CVC) is not correct."),
        (_("Check the 3 or 4 digit code on your card and enter it again."),),
        retry_same_method=True,
    ),
    Failure(
        "incorrect_number",
        Category.FIX_DETAILS,
        _("The card number is not correct."),
        (_("Check the card number and enter it again."),),
        retry_same_method=True,
    ),
    Failure(
        "processing_error",
        Category.RETRY,
        _("Something went wrong while your bank processed the payment. You were not charged."),
        (
            _("Try again in a moment."),
            _("If it happens again, use another payment method."),
        ),
        retry_same_method=True,
    ),
    Failure(
        "card_velocity_exceeded",
        Category.CONTACT_BANK,
        _("This card has reached its spending limit for now."),
        (
            _("Use another card or payment method."),
            _("Or contact your bank to raise the limit."),
        ),
    ),
    Failure(
        "authentication_failed",
        Category.RETRY,
        _("The verification with your bank was not completed, so you were not charged."),
        (
            _("Try again and complete the verification step."),
            _("Or use another payment method."),
        ),
        retry_same_method=True,
    ),
    Failure(
        "action_abandoned",
        Category.RETRY,
        _("The payment was not completed, so you were not charged."),
        (_("Try again when you are ready, or choose another payment method."),),
        retry_same_method=True,
    ),
    Failure(
        "provider_unavailable",
        Category.ANOTHER_METHOD,
        _("This payment method is not responding right now. You were not charged."),
        (
            _("Use another payment method."),
            _("Or try again in a few minutes."),
        ),
        retry_same_method=True,
    ),
    Failure(
        "invalid_payment_method",
        Category.FIX_DETAILS,
        _("We could not read these payment details."),
        (_("Check the payment details and enter them again."),),
        retry_same_method=True,
    ),
    Failure(
        "method_unavailable",
        Category.ANOTHER_METHOD,
        _("This payment method cannot be used for this order right now."),
        (_("Choose another payment method."),),
    ),
    Failure(
        "wallet_insufficient",
        Category.ANOTHER_METHOD,
        _("Your wallet balance is not enough for this order."),
        (_("Top up your wallet, or choose another payment method."),),
    ),
    _hidden("fraudulent"),
    _hidden("lost_card"),
    _hidden("stolen_card"),
    _hidden("pickup_card"),
    _hidden("restricted_card"),
    _hidden("merchant_blacklist"),
]

CATALOG: dict[str, Failure] = {entry.code: entry for entry in _ENTRIES}
GENERIC = CATALOG["generic_decline"]


def failure_for(code: str, decline_code: str = "") -> Failure:
    """The entry for a failure: the decline code is the more specific one when both are given."""
    for candidate in (decline_code, code):
        if candidate and candidate in CATALOG:
            return CATALOG[candidate]
    return GENERIC

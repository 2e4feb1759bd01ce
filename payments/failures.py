"""The failure catalog: every failure we can produce, in words a customer can act on.

One declarative table. Each entry says which kind of next step fits (the category decides the
buttons the page offers), a short message, 1-3 guidance steps, whether the specific reason may be
shown (never for fraud-like codes: those read exactly like a generic decline), whether trying the
same method again can help, and the help article to suggest. Unknown codes fall back to the
generic decline. Codes follow Stripe's `decline_code` and error `code` names (see
shared/reference/stripe.md); our own codes sit beside them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from config.shopper_time import time_label


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
    # Slug of the help article to suggest (the support issue adds the articles).
    article: str = ""

    @property
    def says_not_charged(self) -> bool:
        """Whether the message already tells the customer they were not charged (so an email
        around it does not say it twice). Read from the English text, which every translation
        follows."""
        with translation.override("en"):
            return "not charged" in str(self.message)


# Shared wording -------------------------------------------------------------------------------
DECLINED = _("Your bank did not approve this payment.")
TRY_ANOTHER = _("Try another card or payment method.")
ASK_BANK = _("Or contact your bank to ask why the payment was declined.")
CALL_BANK = _("Contact your bank: they can tell you why and lift the block.")
RETRY_SOON = _("Try again in a moment.")
THEN_ANOTHER = _("If it happens again, use another payment method.")
CHECK_CARD = _("Check the card details and enter them again.")
NOT_CHARGED_RETRY = _(
    "Something went wrong while your bank processed the payment. You were not charged."
)
METHOD_CANNOT = _("This payment method cannot be used for this order right now.")
CHOOSE_ANOTHER = _("Choose another payment method.")
CONFIRMING = _("We are confirming your payment with your bank — you will not be charged twice.")
ASK_REVIEW = _("If you think this is a mistake, ask us to review it.")


def _decline(code: str, *, article: str = "card-declined") -> Failure:
    """Declines the bank gives no usable reason for: ask the bank, or pay another way."""
    return Failure(code, Category.CONTACT_BANK, DECLINED, (TRY_ANOTHER, ASK_BANK), article=article)


def _hidden(code: str) -> Failure:
    """Fraud-like reasons: read exactly like a generic decline, down to the buttons offered;
    support still sees the code."""
    return Failure(
        code,
        Category.CONTACT_BANK,
        DECLINED,
        (TRY_ANOTHER, ASK_BANK),
        reveal=False,
        article="card-declined",
    )


def _retry(code: str, message: Promise = NOT_CHARGED_RETRY) -> Failure:
    return Failure(
        code,
        Category.RETRY,
        message,
        (RETRY_SOON, THEN_ANOTHER),
        retry_same_method=True,
        article="try-again",
    )


def _fix(code: str, message: Promise, step: Promise = CHECK_CARD) -> Failure:
    return Failure(
        code,
        Category.FIX_DETAILS,
        message,
        (step,),
        retry_same_method=True,
        article="card-details",
    )


_ENTRIES = [
    # Generic and bank-side declines.
    _decline("generic_decline"),
    _decline("card_declined"),
    _decline("do_not_honor"),
    _decline("do_not_try_again"),
    _decline("no_action_taken"),
    _decline("not_permitted"),
    _decline("revocation_of_authorization"),
    _decline("revocation_of_all_authorizations"),
    _decline("security_violation"),
    _decline("service_not_allowed"),
    _decline("stop_payment_order"),
    _decline("transaction_not_allowed"),
    _decline("invalid_account"),
    _decline("invalid_amount"),
    _decline("new_account_information_available"),
    _decline("payment_intent_payment_attempt_failed"),
    Failure(
        "call_issuer",
        Category.CONTACT_BANK,
        _("Your bank asks you to contact them about this payment."),
        (CALL_BANK, TRY_ANOTHER),
        article="card-declined",
    ),
    Failure(
        "card_not_supported",
        Category.ANOTHER_METHOD,
        _("This card cannot be used for this kind of purchase."),
        (TRY_ANOTHER,),
        article="card-declined",
    ),
    Failure(
        "card_velocity_exceeded",
        Category.CONTACT_BANK,
        _("This card has reached its spending limit for now."),
        (_("Use another card or payment method."), _("Or contact your bank to raise the limit.")),
        article="card-declined",
    ),
    Failure(
        "card_decline_rate_limit_exceeded",
        Category.WAIT,
        _("This card was declined several times today, so it cannot be tried again for now."),
        (_("Use another card or payment method."), _("Or try this card again in 24 hours.")),
        article="card-declined",
    ),
    # Fraud-like: never revealed.
    _hidden("fraudulent"),
    _hidden("lost_card"),
    _hidden("stolen_card"),
    _hidden("pickup_card"),
    _hidden("restricted_card"),
    _hidden("merchant_blacklist"),
    # Try again.
    _retry("processing_error"),
    _retry("issuer_not_available", _("Your bank could not be reached. You were not charged.")),
    _retry("try_again_later", _("Your bank asked us to try again later. You were not charged.")),
    _retry("reenter_transaction"),
    _retry("approve_with_id"),
    _retry("lock_timeout"),
    _retry("idempotency_key_in_use"),
    _retry("rate_limit", _("Many payments are being made right now. You were not charged.")),
    # Fix the details.
    _fix(
        "incorrect_number",
        _("The card number is not correct."),
        _("Check the card number and enter it again."),
    ),
    _fix(
        "invalid_number",
        _("The card number is not valid."),
        _("Check the card number and enter it again."),
    ),
    # The checkout asks for the card as a whole (a number here, Stripe's card form in production),
    # never for its security code or expiry alone: these say "enter the card details again"
    # (CHECK_CARD), not "enter the code again".
    _fix(
        "incorrect_cvc",
        _("The security code (CVC) is not correct."),
    ),
    _fix(
        "invalid_cvc",
        _("The security code (CVC) is not valid."),
    ),
    _fix(
        "incorrect_zip",
        _("The postal code does not match your card."),
        _("Enter the postal code of your card's billing address."),
    ),
    _fix(
        "invalid_expiry_month",
        _("The expiry month is not valid."),
    ),
    _fix(
        "invalid_expiry_year",
        _("The expiry year is not valid."),
    ),
    _fix(
        "invalid_payment_method",
        _("We could not read these payment details."),
        _("Check the payment details and enter them again."),
    ),
    # Another method.
    Failure(
        "insufficient_funds",
        Category.ANOTHER_METHOD,
        _("The card does not have enough funds for this payment."),
        (_("Use another card or payment method."), _("Or add funds to this card and try again.")),
        retry_same_method=True,
        article="insufficient-funds",
    ),
    Failure(
        "expired_card",
        Category.ANOTHER_METHOD,
        _("This card has expired."),
        (_("Use another card or payment method."),),
        article="card-details",
    ),
    Failure(
        "withdrawal_count_limit_exceeded",
        Category.ANOTHER_METHOD,
        _("This card has reached its limit of payments for now."),
        (TRY_ANOTHER,),
        article="card-declined",
    ),
    Failure(
        "pin_try_exceeded",
        Category.ANOTHER_METHOD,
        _("The PIN was entered wrongly too many times."),
        (TRY_ANOTHER, CALL_BANK),
        article="card-declined",
    ),
    Failure(
        "testmode_decline",
        Category.ANOTHER_METHOD,
        _("This is a test card and cannot pay for real orders."),
        (TRY_ANOTHER,),
    ),
    Failure(
        "currency_not_supported",
        Category.ANOTHER_METHOD,
        _("This payment method cannot pay in this currency."),
        (CHOOSE_ANOTHER,),
        article="payment-methods",
    ),
    Failure(
        "payment_method_currency_mismatch",
        Category.ANOTHER_METHOD,
        _("This payment method cannot pay in this currency."),
        (CHOOSE_ANOTHER,),
        article="payment-methods",
    ),
    Failure(
        "amount_too_small",
        Category.ANOTHER_METHOD,
        _("This order is below the smallest amount this payment method accepts."),
        (CHOOSE_ANOTHER,),
        article="payment-methods",
    ),
    Failure(
        "amount_too_large",
        Category.ANOTHER_METHOD,
        _("This order is over the largest amount this payment method accepts."),
        (CHOOSE_ANOTHER,),
        article="payment-methods",
    ),
    Failure(
        "alipay_upgrade_required",
        Category.ANOTHER_METHOD,
        _("Your Alipay app needs an update before it can pay."),
        (_("Update Alipay and try again."), CHOOSE_ANOTHER),
        retry_same_method=True,
    ),
    # Authentication (3D Secure) and redirects.
    Failure(
        "authentication_required",
        Category.RETRY,
        _("Your bank needs you to confirm this payment."),
        (_("Try again and complete the verification step."),),
        retry_same_method=True,
        article="verification",
    ),
    Failure(
        "authentication_failed",
        Category.RETRY,
        _("The verification with your bank was not completed, so you were not charged."),
        (_("Try again and complete the verification step."), _("Or use another payment method.")),
        retry_same_method=True,
        article="verification",
    ),
    Failure(
        "payment_intent_authentication_failure",
        Category.RETRY,
        _("The verification with your bank was not completed, so you were not charged."),
        (_("Try again and complete the verification step."), _("Or use another payment method.")),
        retry_same_method=True,
        article="verification",
    ),
    Failure(
        "action_abandoned",
        Category.RETRY,
        _("The payment was not completed, so you were not charged."),
        (_("Try again when you are ready, or choose another payment method."),),
        retry_same_method=True,
    ),
    Failure(
        "payment_intent_payment_attempt_expired",
        Category.RETRY,
        _("The payment took too long to complete, so you were not charged."),
        (_("Try again when you are ready, or choose another payment method."),),
        retry_same_method=True,
    ),
    Failure(
        "canceled",
        Category.RETRY,
        _("The payment was canceled, so you were not charged."),
        (_("Try again when you are ready, or choose another payment method."),),
        retry_same_method=True,
    ),
    # Our own: the method, the channel, the wallet, risk, and the wait for an answer.
    Failure("method_unavailable", Category.ANOTHER_METHOD, METHOD_CANNOT, (CHOOSE_ANOTHER,)),
    Failure(
        "method_maintenance",
        Category.ANOTHER_METHOD,
        _("This payment method is under maintenance right now."),
        (CHOOSE_ANOTHER,),
        article="payment-methods",
    ),
    Failure(
        "method_unhealthy",
        Category.ANOTHER_METHOD,
        _("This payment method is having problems right now. You were not charged."),
        (CHOOSE_ANOTHER, _("Or try again in a few minutes.")),
        article="payment-methods",
    ),
    Failure(
        "amount_below_minimum",
        Category.ANOTHER_METHOD,
        _("This order is below the smallest amount this payment method accepts."),
        (CHOOSE_ANOTHER,),
        article="payment-methods",
    ),
    Failure(
        "amount_above_maximum",
        Category.ANOTHER_METHOD,
        _("This order is over the largest amount this payment method accepts."),
        (CHOOSE_ANOTHER,),
        article="payment-methods",
    ),
    Failure(
        "wallet_insufficient",
        Category.ANOTHER_METHOD,
        _("Your wallet balance is not enough for this order."),
        (_("Top up your wallet, or choose another payment method."),),
        article="wallet",
    ),
    Failure(
        "risk_refused",
        Category.CONTACT_SUPPORT,
        _("We could not accept this payment after a security check."),
        (
            _("You can wait a while and try again, or choose another payment method."),
            ASK_REVIEW,
        ),
        article="security-check",
    ),
    Failure(
        "provider_unavailable",
        Category.ANOTHER_METHOD,
        _("This payment method is not responding right now. You were not charged."),
        (_("Use another payment method."), _("Or try again in a few minutes.")),
        retry_same_method=True,
        article="payment-methods",
    ),
    Failure(
        "provider_rejected",
        Category.ANOTHER_METHOD,
        _(
            "This payment method could not take the payment because of a problem on our side. "
            "You were not charged."
        ),
        (_("Use another payment method."), _("Or try this method again later.")),
        article="payment-methods",
    ),
    Failure(
        "provider_timeout",
        Category.WAIT,
        CONFIRMING,
        (
            _("Keep this page open: it updates by itself."),
            _("We will email you as soon as we know."),
        ),
    ),
    Failure(
        "confirmation_timeout",
        Category.CONTACT_SUPPORT,
        _("We could not get an answer about this payment from your bank."),
        (
            _("If money was taken for this payment, we will refund it."),
            _("Contact us and we will check it with you."),
        ),
        article="payment-pending",
    ),
    Failure(
        "duplicate_transaction",
        Category.CONTACT_SUPPORT,
        _("Your bank thinks this payment is a duplicate of one you just made."),
        (_("Check your order history before paying again."), _("Or contact us and we will check.")),
    ),
    Failure(
        "charge_already_refunded",
        Category.CONTACT_SUPPORT,
        _("This payment was already refunded."),
        (_("Contact us if you have questions."),),
    ),
]

CATALOG: dict[str, Failure] = {entry.code: entry for entry in _ENTRIES}
GENERIC = CATALOG["generic_decline"]


def failure_for(code: str, decline_code: str = "") -> Failure:
    """The entry for a failure: the decline code is the more specific one when both are given."""
    for candidate in (decline_code, code):
        if candidate and candidate in CATALOG:
            return CATALOG[candidate]
    return GENERIC


# While the risk rules would refuse the buyer's next payment, the page offers no way to pay and
# says this instead of the entry's guidance: when it lifts, never which rule or threshold.
PAUSED_ACCOUNT = _("For your security, new payments from your account are paused until %(time)s.")
PAUSED_EMAIL = _(
    "For your security, new payments with your email address are paused until %(time)s."
)
PAUSED_FOR_REVIEW = _("For your security, we cannot accept a payment for this order online.")


def paused_guidance(*, until: datetime | None, signed_in: bool) -> tuple[str, ...]:
    """What to tell a buyer whose next payment the risk rules would refuse until `until`
    (None: waiting does not help, a person must review it)."""
    if until is None:
        return (str(PAUSED_FOR_REVIEW), str(ASK_REVIEW))
    message = PAUSED_ACCOUNT if signed_in else PAUSED_EMAIL
    return (str(message) % {"time": time_label(until)}, str(ASK_REVIEW))

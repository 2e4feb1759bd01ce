"""The failure catalog covers every code we can meet, in both languages, with safe defaults."""

from __future__ import annotations

import re

import pytest
from django.utils import translation

from payments.failures import CATALOG, GENERIC, Category, failure_for

# Every decline_code and error code in shared/reference/stripe.md, and our own codes.
STRIPE_DECLINE_CODES = """
fraudulent lost_card stolen_card merchant_blacklist pickup_card restricted_card
processing_error approve_with_id issuer_not_available reenter_transaction try_again_later
incorrect_number invalid_number incorrect_cvc invalid_cvc incorrect_zip invalid_expiry_month
invalid_expiry_year expired_card insufficient_funds withdrawal_count_limit_exceeded
pin_try_exceeded testmode_decline call_issuer card_not_supported card_velocity_exceeded
currency_not_supported do_not_honor do_not_try_again generic_decline invalid_account
invalid_amount new_account_information_available no_action_taken not_permitted
revocation_of_authorization revocation_of_all_authorizations security_violation
service_not_allowed stop_payment_order transaction_not_allowed authentication_required
duplicate_transaction
""".split()
STRIPE_ERROR_CODES = """
card_declined expired_card incorrect_cvc incorrect_number processing_error
authentication_required payment_intent_authentication_failure
payment_intent_payment_attempt_failed payment_intent_payment_attempt_expired
card_decline_rate_limit_exceeded amount_too_small amount_too_large
payment_method_currency_mismatch idempotency_key_in_use lock_timeout rate_limit
charge_already_refunded alipay_upgrade_required
""".split()
OUR_CODES = """
method_unavailable method_maintenance method_unhealthy amount_below_minimum amount_above_maximum
currency_not_supported wallet_insufficient risk_refused provider_timeout provider_unavailable
confirmation_timeout authentication_failed action_abandoned invalid_payment_method canceled
""".split()
NEVER_REVEALED = {
    "fraudulent",
    "lost_card",
    "stolen_card",
    "merchant_blacklist",
    "pickup_card",
    "restricted_card",
}
HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize("code", sorted(set(STRIPE_DECLINE_CODES + STRIPE_ERROR_CODES + OUR_CODES)))
def test_every_known_code_has_its_own_entry(code):
    assert code in CATALOG
    assert failure_for(code).code == code


@pytest.mark.parametrize("code", sorted(CATALOG))
def test_every_entry_is_complete_and_in_both_languages(code):
    entry = CATALOG[code]
    assert isinstance(entry.category, Category)
    assert 1 <= len(entry.guidance) <= 3
    with translation.override("en"):
        english = [str(entry.message), *map(str, entry.guidance)]
    with translation.override("zh-hans"):
        chinese = [str(entry.message), *map(str, entry.guidance)]
    assert all(text.strip() for text in english)
    for zh, en in zip(chinese, english, strict=True):
        assert zh != en and HAN.search(zh), f"{code}: {en!r} has no Chinese translation"
        assert "您" in zh or "你" not in zh  # polite form only


@pytest.mark.parametrize("code", sorted(NEVER_REVEALED))
def test_fraud_like_codes_read_exactly_like_a_generic_decline(code):
    entry = CATALOG[code]
    assert entry.reveal is False
    assert (entry.message, entry.guidance, entry.category, entry.retry_same_method) == (
        GENERIC.message,
        GENERIC.guidance,
        GENERIC.category,
        GENERIC.retry_same_method,
    )


def test_only_fraud_like_codes_are_hidden():
    assert {code for code, entry in CATALOG.items() if not entry.reveal} == NEVER_REVEALED


def test_unknown_codes_fall_back_to_the_generic_decline():
    assert failure_for("something_new_from_the_bank") is GENERIC
    assert failure_for("", "") is GENERIC


def test_decline_code_wins_over_the_error_code():
    assert failure_for("card_declined", "insufficient_funds").code == "insufficient_funds"
    assert failure_for("card_declined", "never_heard_of_it").code == "card_declined"


@pytest.mark.parametrize(
    ("code", "category"),
    [
        ("processing_error", Category.RETRY),
        ("incorrect_cvc", Category.FIX_DETAILS),
        ("insufficient_funds", Category.ANOTHER_METHOD),
        ("do_not_honor", Category.CONTACT_BANK),
        ("provider_timeout", Category.WAIT),
        ("confirmation_timeout", Category.CONTACT_SUPPORT),
        ("risk_refused", Category.CONTACT_SUPPORT),
    ],
)
def test_categories_follow_stripes_guidance(code, category):
    assert CATALOG[code].category is category

"""The card's brand and last four: where they come from (the simulator's test cards, Stripe's
PaymentMethod), that nothing longer than four digits is ever stored, and how an attempt is named
to the customer."""

from __future__ import annotations

import pytest
from django.db import DataError, IntegrityError, transaction

from payments import services
from payments.gateways import CardSummary
from payments.gateways.base import card_summary_clean
from payments.models import PaymentAttempt
from payments.selectors import attempt_paid_with
from tests.factories import OrderFactory

from .test_stripe_gateway import fake, pay  # noqa: F401  (the fixture, and paying through it)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("token", "brand", "last4"),
    [
        ("pm_card_visa", "visa", "4242"),
        ("pm_card_mastercard", "mastercard", "4444"),
        # A declined card is still named on the failure page and the timeline.
        ("pm_card_visa_chargeDeclinedInsufficientFunds", "visa", "9995"),
        ("pm_sim_refund_fails", "visa", "5126"),
        # No test card behind it: nothing is made up.
        ("pm_sim_processing", "", ""),
    ],
)
def test_simulator_card_payments_store_brand_and_last_four(shop, token, brand, last4):
    order = OrderFactory()
    attempt = services.attempt_pay(
        order=order, method=shop["methods"]["card"], idempotency_key="k1", payment_method=token
    )
    attempt.refresh_from_db()
    assert (attempt.card_brand, attempt.card_last4) == (brand, last4)


def test_stripe_brand_and_last_four_come_from_the_payment_method(fake):  # noqa: F811
    attempt = pay("pm_card_mastercard")
    attempt.refresh_from_db()
    assert [r["path"] for r in fake.requests] == [
        "/v1/payment_methods/pm_card_mastercard",
        "/v1/payment_intents",
    ]
    assert (attempt.card_brand, attempt.card_last4, attempt.card_fingerprint) == (
        "mastercard",
        "4444",
        "fp_mastercard",
    )
    assert attempt_paid_with(attempt) == "Mastercard ···4444"


def test_stripe_lookup_down_pays_anyway_and_names_the_method(fake):  # noqa: F811
    fake.payment_methods_down = True
    attempt = pay("pm_card_visa")
    attempt.refresh_from_db()
    assert attempt.status == "succeeded"
    assert (attempt.card_brand, attempt.card_last4) == ("", "")
    assert attempt_paid_with(attempt) == "Card"


def test_a_provider_sending_a_whole_number_stores_none_of_it(fake):  # noqa: F811
    fake.cards["pm_card_visa"] = ("Visa", "4242424242424242")
    attempt = pay("pm_card_visa")
    attempt.refresh_from_db()
    assert (attempt.card_brand, attempt.card_last4) == ("", "")


@pytest.mark.parametrize(
    ("fingerprint", "brand", "last4", "expected"),
    [
        ("fp_1", "visa", "4242", CardSummary("fp_1", "visa", "4242")),
        ("fp_1", " Visa ", "0005", CardSummary("fp_1", "visa", "0005")),
        (None, None, None, CardSummary("", "", "")),
        ("fp_1", "visa", "4242424242424242", CardSummary("fp_1", "visa", "")),
        ("fp_1", "visa", "424", CardSummary("fp_1", "visa", "")),
        ("fp_1", "visa", "42a2", CardSummary("fp_1", "visa", "")),
        ("fp_1", "<b>visa</b>", "4242", CardSummary("fp_1", "", "4242")),
    ],
)
def test_card_summary_keeps_only_a_brand_word_and_four_digits(fingerprint, brand, last4, expected):
    assert card_summary_clean(fingerprint=fingerprint, brand=brand, last4=last4) == expected


def test_gateways_without_card_data_answer_empty():
    from payments.gateways.adyen import AdyenGateway
    from payments.gateways.alipay import AlipayGateway
    from payments.gateways.wallet import WalletGateway
    from payments.gateways.wechatpay import WechatPayGateway

    for gateway in (
        AlipayGateway(client=object()),
        WechatPayGateway(client=object()),
        AdyenGateway(client=object()),
        WalletGateway(),
    ):
        assert gateway.card_summary("pm_card_visa") == CardSummary("", "", ""), gateway


def _attempt(shop):
    return services.attempt_pay(
        order=OrderFactory(),
        method=shop["methods"]["card"],
        idempotency_key="k1",
        payment_method="pm_card_visa",
    )


# Run on PostgreSQL too (DATABASE_URL=...): there the 16 digits hit the column's length first.
@pytest.mark.parametrize("bad", ["424", "42a2", "4 42", "42424", "4242424242424242"])
def test_the_database_refuses_anything_but_four_digits(shop, bad):
    attempt = _attempt(shop)
    rows = PaymentAttempt.objects.filter(pk=attempt.pk)
    with pytest.raises((IntegrityError, DataError)), transaction.atomic():
        rows.update(card_last4=bad)
    rows.update(card_last4="")  # blank is allowed
    rows.update(card_last4="0005")
    assert rows.get().card_last4 == "0005"


@pytest.mark.parametrize(
    ("method", "brand", "last4", "label"),
    [
        ("card", "visa", "4242", "Visa ···4242"),
        ("card", "mastercard", "4444", "Mastercard ···4444"),
        ("card", "amex", "0005", "American Express ···0005"),
        ("card", "unionpay", "0000", "UnionPay ···0000"),
        ("card", "unknown", "1234", "Card ···1234"),
        ("card", "visa", "", "Card"),
        ("card", "", "", "Card"),
        ("alipay", "", "", "Alipay"),
        ("wechat_pay", "", "", "WeChat Pay"),
    ],
)
def test_the_customer_facing_label(shop, method, brand, last4, label):
    attempt = PaymentAttempt(method=shop["methods"][method], card_brand=brand, card_last4=last4)
    assert attempt_paid_with(attempt) == label

"""Every message matches the form it is shown on: the card number is "(optional)" only when
the chosen method takes no card; a wrong security code does not ask to re-type a code the form
has no field for; the failed-payment emails say "You were not charged." once."""

from __future__ import annotations

import re

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from checkout.models import Order
from checkout.tasks import send_follow_ups
from payments.failures import CATALOG
from payments.models import PaymentAttempt
from payments.tasks import notify_payment_failed

from .helpers import BILLING, checkout_form, fill_cart, pay

pytestmark = pytest.mark.django_db


def card_field(page: str) -> tuple[str, str]:
    """(the label's text, the input tag) of the card number field."""
    label = re.search(r'<label for="id_payment_method">(.*?)</label>', page, re.S)
    field = re.search(r'<input type="text" name="payment_method"[^>]*>', page)
    assert label and field, "no card number field on the page"
    return " ".join(re.sub(r"<[^>]+>", "", label.group(1)).split()), field.group(0)


@pytest.mark.parametrize(
    ("language", "card_label", "optional_label"),
    [("en", "Card number", "Card number (optional)"), ("zh-hans", "卡号", "卡号 （选填）")],
)
def test_the_card_number_is_required_for_card_and_optional_otherwise(
    shop, language, card_label, optional_label
):
    client = Client()
    client.cookies["django_language"] = language
    fill_cart(client, "mug")
    # The page checks the first method, the card: the number is required, not "optional".
    page = client.get(reverse("checkout:checkout")).content.decode()
    label, field = card_field(page)
    assert label.startswith(card_label) and "optional" not in label and "选填" not in label
    assert " required" in field and 'data-card-methods="card"' in field

    # Alipay chosen, the form sent back for another reason: now it is optional.
    tokens = checkout_form(client)
    data = {**BILLING, **tokens, "method": "alipay", "payment_method": "", "email": ""}
    page = client.post(reverse("checkout:checkout"), data).content.decode()
    label, field = card_field(page)
    assert label == optional_label
    assert " required" not in field


def test_card_without_a_number_is_told_to_enter_it(client, shop):
    fill_cart(client, "mug")
    response = pay(client, checkout_form(client), payment_method="")
    assert response.status_code == 400
    assert response.context["form"].errors["payment_method"] == ["Enter your card number."]
    assert not Order.objects.filter(attempts__isnull=False).exists()


def test_alipay_without_a_number_goes_ahead(client, shop):
    fill_cart(client, "mug")
    response = pay(client, checkout_form(client), method="alipay", payment_method="")
    assert response.status_code == 302
    assert Order.objects.get().attempts.get().method.code == "alipay"


def test_a_wrong_security_code_asks_for_what_the_form_has(client, shop):
    fill_cart(client, "mug")
    response = pay(
        client, checkout_form(client), payment_method="pm_card_chargeDeclinedIncorrectCvc"
    )
    page = response.content.decode()
    assert "The security code (CVC) is not correct." in page
    assert "Check the card details and enter them again." in page
    assert "enter it again" not in page
    # Nor for a date: the form has a card number, never a code or an expiry field alone.
    for code in ["incorrect_cvc", "invalid_cvc", "invalid_expiry_month", "invalid_expiry_year"]:
        assert [str(step) for step in CATALOG[code].guidance] == [
            "Check the card details and enter them again."
        ], code


def failed_attempt(client: Client, code: str) -> PaymentAttempt:
    fill_cart(client, "mug")
    pay(client, checkout_form(client), payment_method="pm_card_visa_chargeDeclined")
    attempt = PaymentAttempt.objects.get()
    PaymentAttempt.objects.filter(pk=attempt.pk).update(failure_code=code, decline_code="")
    mail.outbox.clear()
    return attempt


@pytest.mark.parametrize(
    "code",
    [
        "generic_decline",  # "Your bank did not approve this payment."
        "payment_intent_authentication_failure",  # "... so you were not charged."
        "issuer_not_available",  # "Your bank could not be reached. You were not charged."
        "expired_card",
    ],
)
def test_the_failed_payment_email_says_not_charged_once(client, shop, code):
    attempt = failed_attempt(client, code)
    assert notify_payment_failed(attempt.pk) is True
    [email] = mail.outbox
    assert email.body.count("not charged") == 1, email.body
    assert f"for order {attempt.order.number} did not go through." in email.body


@pytest.mark.parametrize("code", ["generic_decline", "issuer_not_available"])
def test_the_reminder_email_says_not_charged_once(client, shop, code):
    failed_attempt(client, code)
    with time_machine.travel(timezone.now() + timezone.timedelta(minutes=31), tick=False):
        assert send_follow_ups() == 1
    [email] = mail.outbox
    assert email.body.count("not charged") == 1, email.body


def test_the_chinese_failed_payment_email_says_it_once(shop):
    client = Client()
    client.cookies["django_language"] = "zh-hans"
    attempt = failed_attempt(client, "issuer_not_available")
    assert attempt.order.language == "zh-hans"
    notify_payment_failed(attempt.pk)
    [email] = mail.outbox
    # The catalog's own "您没有被扣款。", and no second one after it.
    assert email.body.count("没有被扣款") == 1, email.body

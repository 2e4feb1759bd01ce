"""One reminder, 30 minutes after a failed payment left the order unpaid; never after payment,
never twice, never after opting out, in the customer's language."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from checkout.models import Order
from checkout.tasks import send_follow_ups
from payments import services

from .helpers import checkout_form, fill_cart, pay

pytestmark = pytest.mark.django_db


@pytest.fixture
def declined(client, shop):
    fill_cart(client, "mug")
    pay(client, checkout_form(client), payment_method="pm_card_chargeDeclinedExpiredCard")
    return Order.objects.get()


def later(minutes):
    return time_machine.travel(timezone.now() + timedelta(minutes=minutes), tick=False)


def test_nothing_before_thirty_minutes(declined):
    with later(29):
        assert send_follow_ups() == 0
    assert mail.outbox == []


def test_one_reminder_after_thirty_minutes_with_reason_and_link(declined):
    with later(31):
        assert send_follow_ups() == 1
        assert send_follow_ups() == 0  # never twice
    [email] = mail.outbox
    assert email.to == [declined.email] and declined.number in email.subject
    assert "This card has expired." in email.body
    assert f"/orders/{declined.number}/?key={declined.client_secret}" in email.body
    assert f"/orders/{declined.number}/no-reminders/?key=" in email.body


def test_never_after_payment(declined, shop):
    services.attempt_pay(
        order=declined,
        method=shop["methods"]["card"],
        idempotency_key="paid",
        payment_method="pm_card_visa",
    )
    mail.outbox.clear()
    with later(31):
        assert send_follow_ups() == 0
    assert mail.outbox == []


def test_in_the_customers_language(client, shop):
    client.cookies["django_language"] = "zh-hans"
    fill_cart(client, "mug")
    pay(client, checkout_form(client), payment_method="pm_card_chargeDeclinedExpiredCard")
    with later(31):
        send_follow_ups()
    [email] = mail.outbox
    assert "此卡片已过期。" in email.body and "等待付款" in email.subject


def test_opt_out_is_honoured(declined):
    url = reverse("checkout:order_no_reminders", args=[declined.number])
    stranger = Client()
    assert stranger.get(url, {"key": "guess"}).status_code == 404
    page = stranger.get(url, {"key": declined.client_secret})
    assert "Stop reminders" in page.content.decode()
    done = stranger.post(url, {"key": declined.client_secret})
    assert "we will not send reminders" in done.content.decode()
    with later(31):
        assert send_follow_ups() == 0
    assert mail.outbox == []

"""The customer hears about every refund once, in the order's language, and sees it on the
order status page."""

from __future__ import annotations

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from checkout.services import wallet_top_up_order_create
from payments import services, tasks
from payments.models import Refund
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    def call(fn, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return call


def pay(shop, token="pm_card_visa", **order):
    order = order.pop("order", None) or OrderFactory(
        email="li@example.com", full_name="Li Lei", total=2400, **order
    )
    return services.attempt_pay(
        order=order,
        method=shop["methods"]["card"],
        idempotency_key=f"pay-{order.pk}",
        payment_method=token,
    )


def refund(attempt, amount=500, destination="original", key="k"):
    return services.refund_create(
        attempt=attempt,
        amount=amount,
        destination=destination,
        reason="asked",
        actor="staff:carol@example.com",
        idempotency_key=key,
    )


def test_a_succeeded_refund_is_told_once(shop, run):
    attempt = pay(shop)
    done = run(refund, attempt)
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["li@example.com"]
    assert email.subject == f"Your refund of $5.00 for order {attempt.order.number}"
    assert "We have refunded $5.00" in email.body
    assert "Banks usually show it within 5 to 10 working days." in email.body
    assert f"?key={attempt.order.client_secret}" in email.body
    # A redelivered task, a replayed request: nothing more.
    assert run(tasks.notify_refund_customer, done.pk) is False
    run(refund, attempt)
    assert len(mail.outbox) == 1
    done.refresh_from_db()
    assert done.customer_notified_at is not None


def test_a_wallet_refund_says_the_money_is_in_the_wallet(shop, run, alice):
    attempt = pay(shop, order=OrderFactory(user=alice, email="alice@example.com", total=2400))
    run(refund, attempt, destination="wallet")
    assert len(mail.outbox) == 1
    assert "The money is in your wallet now" in mail.outbox[0].body


def test_the_email_is_in_the_orders_language(shop, run):
    attempt = pay(shop, language="zh-hans")
    run(refund, attempt)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].body.startswith("Li Lei，您好：")


def test_a_pending_refund_is_not_told_yet(shop, run):
    attempt = pay(shop, "pm_sim_refund_no_answer")
    pending = run(refund, attempt)
    assert pending.status == "pending"
    assert run(tasks.notify_refund_customer, pending.pk) is False
    assert not mail.outbox


def test_a_refused_refund_says_what_happens_next(shop, run):
    attempt = pay(shop, "pm_sim_refund_fails")
    run(refund, attempt)
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.subject == f"About your refund for order {attempt.order.number}"
    assert "We could not send your refund of $5.00" in email.body
    assert "our team has been told and will contact you" in email.body


def test_a_refused_top_up_refund_says_the_money_stays_in_the_wallet(shop, run, alice):
    order = wallet_top_up_order_create(user=alice, amount=5000, currency="USD", language="en")
    attempt = pay(shop, "pm_sim_refund_fails", order=order)
    mail.outbox.clear()
    run(refund, attempt, amount=1000)
    assert len(mail.outbox) == 1
    assert "The money stays in your wallet" in mail.outbox[0].body


def status_page(client, attempt):
    order = attempt.order
    url = reverse("checkout:order_status", args=[order.number])
    return client.get(url, {"key": order.client_secret})


def test_the_order_status_page_lists_refunds(client, shop):
    attempt = pay(shop)
    refund(attempt, 500, key="a")
    Refund.objects.filter(attempt=attempt).update(created_at="2026-03-04T10:00:00Z")
    page = status_page(client, attempt).content.decode()
    assert "<caption>Refunds</caption>" in page
    row = page.split("<caption>Refunds</caption>")[1].split("</table>")[0]
    for text in ("03/04/2026", "Original payment method", "Arrived", "$5.00"):
        assert text in row, text


def test_a_failed_refund_on_the_status_page_says_what_next(client, shop):
    attempt = pay(shop, "pm_sim_refund_fails")
    refund(attempt, 500)
    page = status_page(client, attempt).content.decode()
    assert (
        "Not sent</a> — Our team will contact you within 2 working days to send it another way."
        in page
    )


def test_the_status_page_queries_do_not_grow_with_refunds(client, shop):
    attempt = pay(shop)
    refund(attempt, 100, key="r0")
    status_page(client, attempt)  # warm up the session and caches
    with CaptureQueriesContext(connection) as one:
        status_page(client, attempt)
    for i in range(1, 5):
        refund(attempt, 100, key=f"r{i}")
    with CaptureQueriesContext(connection) as five:
        page = status_page(client, attempt)
    assert page.content.decode().count("$1.00") == 5
    assert len(five) == len(one)

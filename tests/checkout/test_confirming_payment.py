"""While this checkout's payment is being confirmed (a provider timeout, a slow bank): the
checkout says so, offers no Pay, says why no other way and until when, and the items added
meanwhile are still in the cart — as a new order — once it settles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from checkout.models import Order
from payments import services
from payments.gateways.simulator import simulator_settle
from payments.models import PaymentAttempt, SimulatedCharge

from .helpers import checkout_form, fill_cart, pay

pytestmark = pytest.mark.django_db

PAY_BUTTON = 'class="primary pay-button"'
NINE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def settle(attempt: PaymentAttempt, on_commit) -> None:
    if attempt.status == PaymentAttempt.Status.PROCESSING:
        with on_commit(execute=True):
            simulator_settle(attempt.provider_reference)  # the bank finishes; its webhook arrives
    else:
        with time_machine.travel(timezone.now() + timedelta(minutes=2), tick=False):
            services.reconcile_attempts()  # the sweep asks the provider after the timeout
    attempt.refresh_from_db()
    assert attempt.status == PaymentAttempt.Status.SUCCEEDED


@pytest.mark.parametrize("scenario", ["pm_sim_processing", "pm_sim_timeout_then_succeeded"])
def test_items_added_while_confirming_become_a_new_order_once_it_settles(
    client, shop, scenario, django_capture_on_commit_callbacks
):
    fill_cart(client, "mug")
    pay(client, checkout_form(client), payment_method=scenario)
    first = Order.objects.get()
    attempt = PaymentAttempt.objects.get()
    assert attempt.status in ("processing", "unknown")

    fill_cart(client, "tea")
    page = client.get(reverse("checkout:checkout"))
    body = page.content.decode()
    assert page.status_code == 200
    assert f"Your payment for order {first.number} is being confirmed" in body
    assert "The items you added stay in your cart." in body
    assert "you cannot pay again or pay another way" in body
    assert PAY_BUTTON not in body
    # A Pay press from a page of before (another tab) is refused the same way, charging nothing.
    stale = pay(client, checkout_form(client))
    assert stale.status_code == 409
    assert f"Your payment for order {first.number} is being confirmed" in stale.content.decode()
    assert SimulatedCharge.objects.count() == 1

    settle(attempt, django_capture_on_commit_callbacks)

    cart = client.get(reverse("checkout:cart")).context["cart"]
    assert [(line.product.sku, line.quantity) for line in cart.lines] == [("tea", 1)]
    body = client.get(reverse("checkout:checkout")).content.decode()
    assert "is being confirmed" not in body
    assert PAY_BUTTON in body
    response = pay(client, checkout_form(client))
    second = Order.objects.exclude(pk=first.pk).get()
    assert response.url == reverse("checkout:order_status", args=[second.number])
    assert second.status == "paid"
    assert list(second.lines.values_list("sku", "quantity")) == [("tea", 1)]
    assert list(first.lines.values_list("sku", "quantity")) == [("mug", 1)]
    assert SimulatedCharge.objects.count() == 2
    assert client.get(reverse("checkout:cart")).context["cart"].lines == []


def test_returning_to_the_checkout_while_confirming_offers_no_pay(client, shop):
    fill_cart(client, "mug")
    pay(client, checkout_form(client), payment_method="pm_sim_timeout_then_succeeded")
    body = client.get(reverse("checkout:checkout")).content.decode()
    assert "is being confirmed" in body
    assert "The items you added" not in body  # nothing was added
    assert PAY_BUTTON not in body


@pytest.mark.parametrize(
    ("language", "words", "time"),
    [
        ("en", "You cannot pay another way yet", "9:30 a.m."),
        ("zh-hans", "", "09:30"),  # the new sentence awaits its translation: the time only
    ],
)
def test_order_and_checkout_say_why_no_other_way_and_until_when(
    client, shop, language, words, time
):
    client.cookies["django_language"] = language
    fill_cart(client, "mug")
    with time_machine.travel(NINE, tick=False):
        response = pay(client, checkout_form(client), payment_method="pm_sim_processing")
    with time_machine.travel(NINE + timedelta(minutes=5), tick=False):
        order_page = client.get(response.url).content.decode()
        checkout_page = client.get(reverse("checkout:checkout")).content.decode()
    assert words in order_page
    assert time in order_page
    assert 'id="why-no-other-way"' in order_page
    assert "Pay another way" not in order_page  # no way offered that could charge twice
    assert time in checkout_page

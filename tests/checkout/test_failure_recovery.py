"""After a failure the page offers what can work, the customer chooses, and nothing is lost."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from checkout.models import Order
from payments.models import PaymentAttempt

from .helpers import BILLING, checkout_form, fill_cart, pay

pytestmark = pytest.mark.django_db


def failure_box(response) -> str:
    return response.content.decode().split('id="payment-failure"')[1].split("</div>")[0]


def test_decline_offers_other_methods_with_why_and_a_card_retry(client, shop):
    fill_cart(client, "mug")
    response = pay(
        client, checkout_form(client), payment_method="pm_card_visa_chargeDeclinedInsufficientFunds"
    )
    box = failure_box(response)
    assert "Pay another way" in box
    assert 'name="switch_method" value="alipay"' in box and "Pay with Alipay" in box
    assert 'name="switch_method" value="wechat_pay"' in box
    assert 'value="wallet"' not in box  # not available: never offered
    assert box.count("Available now and not affected by this problem.") == 2
    # Insufficient funds may be fixed on the same card: a way back to the card field.
    assert 'href="#id_payment_method"' in box
    attempt = PaymentAttempt.objects.get()
    assert f"order={attempt.order.number}" in box and f"attempt={attempt.public_id}" in box


def test_choosing_another_way_pays_the_same_order_with_it(client, shop):
    fill_cart(client, "mug")
    declined = pay(client, checkout_form(client), payment_method="pm_card_visa_chargeDeclined")
    form = declined.context["form"]
    # The browser submits the kept form with the button the customer pressed.
    data = {
        **BILLING,
        **{k: form.initial[k] for k in ("checkout_token", "idempotency_key")},
        "method": "card",
        "payment_method": "",
        "switch_method": "alipay",
    }
    response = client.post(reverse("checkout:checkout"), data)
    attempts = list(PaymentAttempt.objects.order_by("created_at"))
    assert [a.method.code for a in attempts] == ["card", "alipay"]
    assert attempts[0].order_id == attempts[1].order_id
    assert response["Location"] == attempts[1].action_url


def test_fraud_decline_offers_no_retry_of_the_card(client, shop):
    fill_cart(client, "mug")
    box = failure_box(pay(client, checkout_form(client), payment_method="pm_card_radarBlock"))
    assert 'href="#id_payment_method"' not in box
    assert "code=generic_decline" in box and "fraud" not in box


def test_emailed_link_brings_a_guest_back_to_the_same_order_on_another_device(client, shop):
    fill_cart(client, "mug", "tea")
    pay(client, checkout_form(client), payment_method="pm_card_visa_chargeDeclined")
    order = Order.objects.get()
    phone = Client()
    status = phone.get(
        reverse("checkout:order_status", args=[order.number]), {"key": order.client_secret}
    )
    assert "Back to checkout" in status.content.decode()
    resumed = phone.post(
        reverse("checkout:order_resume", args=[order.number]), {"key": order.client_secret}
    )
    assert resumed["Location"] == reverse("checkout:checkout")
    page = phone.get(reverse("checkout:checkout"))
    initial = page.context["form"].initial
    assert initial["checkout_token"] == order.checkout_token
    assert (initial["email"], initial["full_name"], initial["city"]) == (
        BILLING["email"],
        BILLING["full_name"],
        BILLING["city"],
    )
    assert "Pay $30.50" in page.content.decode()
    paid = pay(phone, checkout_form(phone))
    assert paid.status_code == 302
    assert Order.objects.get().status == Order.Status.PAID and Order.objects.count() == 1


def test_resume_needs_the_key_and_refuses_paid_orders(client, shop):
    fill_cart(client, "mug")
    pay(client, checkout_form(client))
    order = Order.objects.get()
    stranger = Client()
    url = reverse("checkout:order_resume", args=[order.number])
    assert stranger.post(url, {"key": "guess"}).status_code == 404
    response = stranger.post(url, {"key": order.client_secret})
    assert response["Location"] == reverse("checkout:order_status", args=[order.number])
    assert stranger.session.get("cart") is None

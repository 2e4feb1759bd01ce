"""An idempotency key belongs to one order: reused for another order it is a conflict, never a
replay of the first order's attempt (which would show one customer another's payment and
leave their own order unpaid while telling them it is paid)."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from rest_framework.test import APIClient

from checkout.models import Order
from payments.models import PaymentAttempt, SimulatedCharge
from tests.checkout.helpers import checkout_form, fill_cart, pay

pytestmark = pytest.mark.django_db


def api_order(api: APIClient) -> tuple[str, str]:
    data = api.post(
        "/api/v1/orders/",
        {"email": "guest@example.com", "items": [{"sku": "mug", "quantity": 1}]},
        format="json",
    ).json()
    return data["number"], data["client_secret"]


def api_pay(api: APIClient, number: str, secret: str, key: str):
    return api.post(
        f"/api/v1/orders/{number}/payments/",
        {"method": "card", "payment_method": "pm_card_visa"},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
        HTTP_X_CLIENT_SECRET=secret,
    )


def test_api_key_of_another_order_is_409_idempotency_conflict(shop):
    api = APIClient()
    number_a, secret_a = api_order(api)
    number_b, secret_b = api_order(api)
    first = api_pay(api, number_a, secret_a, key="shared-key")
    assert first.status_code == 201

    reused = api_pay(api, number_b, secret_b, key="shared-key")

    assert reused.status_code == 409
    assert reused.json()["error"] == "idempotency_conflict"
    assert first.json()["id"] not in reused.content.decode()
    assert number_a not in reused.content.decode()
    assert PaymentAttempt.objects.filter(order__number=number_b).count() == 0
    assert SimulatedCharge.objects.count() == 1
    # The same key on its own order is still a replay of its attempt.
    again = api_pay(api, number_a, secret_a, key="shared-key")
    assert (again.status_code, again.json()["id"]) == (200, first.json()["id"])


def test_checkout_page_key_of_another_order_does_not_replay_it(client, shop):
    fill_cart(client, "mug")
    tokens_a = checkout_form(client)
    assert pay(client, tokens_a).status_code == 302
    order_a = Order.objects.get()
    assert order_a.status == Order.Status.PAID

    # The same browser (so it may see order A) starts a second checkout, and the page posts
    # order A's key with the new checkout's token.
    fill_cart(client, "tea")
    tokens_b = checkout_form(client)
    assert tokens_b["checkout_token"] != tokens_a["checkout_token"]
    response = pay(
        client,
        {
            "checkout_token": tokens_b["checkout_token"],
            "idempotency_key": tokens_a["idempotency_key"],
        },
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("checkout:checkout")
    assert response["Location"] != reverse("checkout:order_status", args=[order_a.number])
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Something changed while you were paying. Please check and try again."
    ]
    assert PaymentAttempt.objects.count() == 1
    assert SimulatedCharge.objects.count() == 1
    order_b = Order.objects.exclude(pk=order_a.pk).get()
    assert order_b.status == Order.Status.PENDING  # not paid, and not claimed to be
    # Order A's own checkout still replays its attempt.
    replay = pay(client, tokens_a)
    assert replay["Location"] == reverse("checkout:order_status", args=[order_a.number])

from __future__ import annotations

import pytest
from django.urls import reverse

from payments import services
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db


def test_account_shows_orders_and_wallet_and_saves_the_name(client, alice, mallory, shop):
    mine = OrderFactory(user=alice)
    theirs = OrderFactory(user=mallory)
    services.wallet_move(
        user=alice, currency="USD", amount=2500, kind="adjustment", actor="test", reference="seed"
    )
    client.force_login(alice)
    body = client.get(reverse("account")).content.decode()
    assert mine.number in body and theirs.number not in body
    assert "Your balance: $25.00" in body
    response = client.post(reverse("account"), {"full_name": "Alice Renamed"})
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.full_name == "Alice Renamed"


def test_account_needs_sign_in(client, db):
    response = client.get(reverse("account"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_export_contains_my_data_and_no_secrets(client, alice, mallory, shop):
    import json

    mine = OrderFactory(user=alice)
    services.attempt_pay(
        order=mine,
        method=shop["methods"]["card"],
        idempotency_key="exp-key",
        payment_method="pm_card_visa",
    )
    OrderFactory(user=mallory)
    client.force_login(alice)
    response = client.get(reverse("account_export"))
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    data = json.loads(response.content)
    assert data["profile"]["email"] == "alice@example.com"
    assert [o["number"] for o in data["orders"]] == [mine.number]
    payment = data["orders"][0]["payments"][0]
    assert payment["status"] == "succeeded" and payment["timeline"]
    raw = response.content.decode()
    for secret in (mine.client_secret, "exp-key", alice.password, "pm_card_visa"):
        assert secret not in raw


def test_export_needs_sign_in(client, db):
    assert client.get(reverse("account_export")).status_code == 302

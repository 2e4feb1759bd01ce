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

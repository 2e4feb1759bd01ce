"""Guest orders placed with the same email are claimed after proving the email by a signed,
one-day link; nobody else's orders, and nobody else can use the link."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db


def claim_link(client) -> str:
    client.post(reverse("account_claim_request"))
    return re.search(
        r"https?://[^/\s]+(/accounts/profile/claim-orders/\S+/)", mail.outbox[-1].body
    )[1]


@pytest.fixture
def orders(alice, mallory):
    return {
        "guest_mine": OrderFactory(email="ALICE@example.com"),
        "guest_mine_2": OrderFactory(email="alice@example.com"),
        "guest_other": OrderFactory(email="someone@example.com"),
        "mallorys": OrderFactory(email="alice@example.com", user=mallory),
    }


def test_profile_offers_the_guest_orders_and_the_link_attaches_them(client, alice, orders):
    client.force_login(alice)
    page = client.get(reverse("account")).content.decode()
    assert "Ordered here as a guest before you signed up?" in page
    assert "2 orders" not in page  # the count is only told to the address's owner

    link = claim_link(client)
    assert mail.outbox[-1].to == ["alice@example.com"]
    confirm = client.get(link)
    assert confirm.status_code == 200 and "Add them to your account?" in confirm.content.decode()
    done = client.post(link)
    assert done["Location"] == reverse("account")

    for key in orders:
        orders[key].refresh_from_db()
    assert orders["guest_mine"].user == alice and orders["guest_mine_2"].user == alice
    assert orders["guest_other"].user is None
    assert orders["mallorys"].user.email == "mallory@example.com"  # never taken
    assert "2 orders" in mail.outbox[-1].body
    again = client.post(reverse("account_claim_request"))
    assert again.status_code == 302, again.status_code
    assert "there are none to add" in mail.outbox[-1].body


def test_the_link_is_refused_to_anyone_else(client, alice, mallory, orders):
    client.force_login(alice)
    link = claim_link(client)
    other = Client()
    other.force_login(mallory)
    assert other.get(link).status_code == 403
    assert other.post(link).status_code == 403
    orders["guest_mine"].refresh_from_db()
    assert orders["guest_mine"].user is None
    assert Client().get(link).status_code == 302  # signed out: sign in first


def test_the_link_expires_after_a_day(client, alice, orders):
    client.force_login(alice)
    link = claim_link(client)
    with time_machine.travel(timezone.now() + timedelta(days=1, minutes=1)):
        response = client.post(link)
    assert response.status_code == 400 and "expired" in response.content.decode()
    orders["guest_mine"].refresh_from_db()
    assert orders["guest_mine"].user is None


def test_a_tampered_link_is_refused(client, alice, orders):
    client.force_login(alice)
    link = claim_link(client)
    assert client.post(link[:-3] + "xx/").status_code == 400


def test_the_link_dies_when_the_email_changes(client, alice, orders):
    client.force_login(alice)
    link = claim_link(client)
    alice.email = "alice.new@example.com"
    alice.save()
    assert client.post(link).status_code == 403


def test_claim_emails_are_rate_limited(client, alice, orders):
    client.force_login(alice)
    for _ in range(3):
        client.post(reverse("account_claim_request"))
    assert client.post(reverse("account_claim_request")).status_code == 429
    assert len(mail.outbox) == 3

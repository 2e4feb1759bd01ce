from __future__ import annotations

import pytest
from django.urls import reverse

from checkout.models import Order

from .helpers import checkout_form, fill_cart, pay

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid_order(client, shop):
    fill_cart(client, "mug")
    pay(client, checkout_form(client))
    return Order.objects.get()


def url(order):
    return reverse("checkout:order_status", args=[order.number])


def test_the_browser_that_paid_sees_the_order(client, paid_order):
    assert client.get(url(paid_order)).status_code == 200


def test_a_stranger_gets_404(paid_order, client_factory, mallory):
    stranger = client_factory()
    assert stranger.get(url(paid_order)).status_code == 404
    stranger.force_login(mallory)
    assert stranger.get(url(paid_order)).status_code == 404


def test_the_receipt_link_key_opens_it_anywhere(paid_order, client_factory):
    other = client_factory()
    assert other.get(url(paid_order), {"key": paid_order.client_secret}).status_code == 200
    assert other.get(url(paid_order), {"key": "guess"}).status_code == 404


def test_owner_and_staff_see_it(paid_order, client_factory, alice, bob):
    paid_order.user = alice
    paid_order.save()
    for person in (alice, bob):
        viewer = client_factory()
        viewer.force_login(person)
        assert viewer.get(url(paid_order)).status_code == 200


def test_unknown_number_is_404(client, db):
    assert client.get("/orders/CK-NOTHERE/").status_code == 404


@pytest.fixture
def client_factory():
    from django.test import Client

    return Client


def test_status_json_for_the_poll(client, paid_order, client_factory):
    url = reverse("checkout:order_status_json", args=[paid_order.number])
    data = client.get(url).json()
    assert data == {"order": paid_order.number, "status": "paid", "attempt": "succeeded"}
    assert client_factory().get(url).status_code == 404
    assert client_factory().get(url, {"key": paid_order.client_secret}).status_code == 200

"""Behind our reverse proxy every request comes from the proxy's address: payments must see the
shopper's address (the one accounts.client_ip reads for sign-in limits and throttles), or one busy
proxy makes every shopper look like one card tester."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from payments.models import AttemptStatus, PaymentAttempt
from tests.checkout.helpers import checkout_form, fill_cart, pay

pytestmark = pytest.mark.django_db
PROXY = {"REMOTE_ADDR": "10.0.0.1"}


@pytest.fixture(autouse=True)
def behind_one_proxy(settings):
    settings.AXES_IPWARE_PROXY_COUNT = 1
    # Production's thresholds: review from 5 attempts, refuse from 10.
    settings.RISK_VELOCITY_WINDOW_MINUTES = 10
    settings.RISK_VELOCITY_REVIEW = 5
    settings.RISK_VELOCITY_REFUSE = 10
    settings.RISK_IP_VELOCITY_REVIEW = 5


def test_many_shoppers_through_one_proxy_are_neither_refused_nor_flagged(shop):
    for n in range(12):
        shopper = Client(**PROXY, HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")
        fill_cart(shopper, "mug")
        tokens = checkout_form(shopper)
        response = pay(shopper, tokens, email=f"shopper{n}@example.com", method="alipay")
        assert response.status_code == 302  # to Alipay's page, not a refusal
    attempts = list(PaymentAttempt.objects.order_by("created_at"))
    assert [a.risk_outcome for a in attempts] == ["allow"] * 12
    assert [a.status for a in attempts] == [AttemptStatus.REQUIRES_ACTION] * 12
    assert [a.client_ip for a in attempts] == [f"198.51.100.{n}" for n in range(12)]


def test_a_made_up_forwarded_header_does_not_hide_the_shopper(shop):
    """Only the entry our proxy wrote counts; what the client wrote further left is ignored."""
    shopper = Client(**PROXY, HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.9")
    fill_cart(shopper, "mug")
    pay(shopper, checkout_form(shopper), method="alipay")
    assert PaymentAttempt.objects.get().client_ip == "203.0.113.9"


def test_the_api_stores_the_forwarded_address(shop):
    api = APIClient(**PROXY, HTTP_X_FORWARDED_FOR="198.51.100.77")
    order = api.post(
        "/api/v1/orders/",
        {"email": "api@example.com", "items": [{"sku": "mug", "quantity": 1}]},
        format="json",
    ).json()
    api.credentials(HTTP_X_CLIENT_SECRET=order["client_secret"])
    response = api.post(
        f"/api/v1/orders/{order['number']}/payments/",
        {"method": "alipay"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="proxy-1",
    )
    assert response.status_code == 201
    assert PaymentAttempt.objects.get().client_ip == "198.51.100.77"


def test_a_wallet_top_up_stores_the_forwarded_address(shop, alice):
    client = Client(**PROXY, HTTP_X_FORWARDED_FOR="198.51.100.78")
    client.force_login(alice)
    page = client.get(reverse("checkout:wallet_top_up"))
    key = page.context["form"].initial["idempotency_key"]
    client.post(
        reverse("checkout:wallet_top_up"),
        {"amount": "10.00", "method": "alipay", "idempotency_key": key},
    )
    assert PaymentAttempt.objects.get().client_ip == "198.51.100.78"


def test_only_the_client_ip_helper_reads_the_peer_address():
    """One place decides who the client is: a second reader of REMOTE_ADDR would count the
    proxy again."""
    root = Path(django_settings.BASE_DIR)
    readers = sorted(
        str(path.relative_to(root))
        for app in ("accounts", "checkout", "payments", "support", "config")
        for path in (root / app).rglob("*.py")
        if "REMOTE_ADDR" in path.read_text() and "migrations" not in path.parts
    )
    # settings.py only names it for django-axes' own (unused) ipware setting.
    assert readers == ["accounts/client_ip.py", "config/settings.py"]

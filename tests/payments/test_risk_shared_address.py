"""An address is not a buyer: many shoppers share one (carrier NAT, an office, everyone trying
`make demo` on one machine). A newcomer is never refused for what others did from it."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.test import Client

from payments import services
from payments.models import AttemptStatus, PaymentAttempt
from tests.checkout.helpers import checkout_form, fill_cart, pay
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db
S = AttemptStatus


def others_paid(shop, *, count, ip="127.0.0.1", method="alipay", token=""):
    for n in range(count):
        services.attempt_pay(
            order=OrderFactory(email=f"other{n}@example.com"),
            method=shop["methods"][method],
            idempotency_key=f"other-{n}",
            payment_method=token,
            client_ip=ip,
        )


@pytest.fixture
def production_thresholds(settings):
    settings.RISK_VELOCITY_WINDOW_MINUTES = 10
    settings.RISK_VELOCITY_REVIEW = 5
    settings.RISK_VELOCITY_REFUSE = 10
    settings.RISK_IP_VELOCITY_REVIEW = 20


def newcomer_pays(method="alipay", **extra):
    client = Client()  # REMOTE_ADDR 127.0.0.1, like every other shopper above
    fill_cart(client, "mug")
    return pay(client, checkout_form(client), email="new@example.com", method=method, **extra)


def test_a_newcomers_first_payment_goes_through_after_46_others_from_one_address(
    shop, production_thresholds
):
    others_paid(shop, count=46)
    assert PaymentAttempt.objects.filter(risk_outcome="refuse").count() == 0
    response = newcomer_pays()
    mine = PaymentAttempt.objects.get(order__email="new@example.com")
    assert response.status_code == 302 and response["Location"] == mine.action_url
    assert (mine.status, mine.risk_outcome, mine.risk_rule) == (
        S.REQUIRES_ACTION,
        "review",
        "ip_velocity",
    )


def test_one_buyer_over_the_refuse_threshold_is_refused_from_any_address(
    shop, production_thresholds
):
    for n in range(10):
        services.attempt_pay(
            order=OrderFactory(email="busy@example.com"),
            method=shop["methods"]["alipay"],
            idempotency_key=f"busy-{n}",
            client_ip=f"198.51.100.{n}",
        )
    assert PaymentAttempt.objects.filter(risk_outcome="refuse").count() == 0
    client = Client(REMOTE_ADDR="203.0.113.50")  # an address this buyer never used
    fill_cart(client, "mug")
    response = pay(client, checkout_form(client), email="BUSY@example.com", method="alipay")
    assert response.status_code == 402
    refused = PaymentAttempt.objects.filter(order__email__iexact="busy@example.com").latest(
        "created_at"
    )
    assert (refused.status, refused.failure_code, refused.risk_rule) == (
        S.FAILED,
        "risk_refused",
        "velocity",
    )


@pytest.mark.skipif(
    django_settings.PAYMENTS_GATEWAY != "simulator", reason="the demo's defaults only"
)
def test_the_demo_defaults_let_a_newcomer_pay_as_often_as_they_like():
    """`make demo` sets nothing: with the simulator every shopper shares each test card's
    fingerprint and one person plays scenario after scenario. The shipped defaults (not a
    test's overrides) must let a newcomer through."""
    assert (django_settings.RISK_VELOCITY_REVIEW, django_settings.RISK_VELOCITY_REFUSE) == (20, 200)
    assert django_settings.RISK_IP_VELOCITY_REVIEW == 20
    assert (django_settings.RISK_FAILURE_STREAK, django_settings.RISK_FAILURE_STREAK_MINUTES) == (
        10,
        10,
    )


def test_with_the_demo_defaults_a_newcomer_pays_by_card_after_46_others_and_again(shop):
    """46 others paid with the same simulator test card from the same machine; the newcomer
    pays with it too, thirty times in a row, and is never refused."""
    others_paid(shop, count=46, method="card", token="pm_card_visa")
    for n in range(30):
        services.attempt_pay(
            order=OrderFactory(email="new@example.com"),
            method=shop["methods"]["card"],
            idempotency_key=f"new-{n}",
            payment_method="pm_card_visa",
            client_ip="127.0.0.1",
        )
    mine = PaymentAttempt.objects.filter(order__email="new@example.com")
    assert mine.filter(status=S.SUCCEEDED).count() == 30
    assert mine.filter(risk_outcome="refuse").count() == 0

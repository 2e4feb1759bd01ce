"""A method that cannot be used takes its fields with it: no card number is typed while the
card is unavailable, and a card number sent with another method goes nowhere. A degraded
warning clears by itself once the errors behind it have left the health window."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from payments.gateways import ChargeRequest, ChargeResult, Outcome, payment_method_token
from payments.models import MethodHealth, PaymentAttempt, PaymentMethod
from tests.factories import OrderFactory

from .helpers import checkout_form, fill_cart, pay

pytestmark = pytest.mark.django_db

CARD_NUMBER = "4242 4242 4242 4242"


@pytest.mark.parametrize(
    ("provider", "kind", "expected"),
    [
        ("stripe", "alipay", ""),
        ("stripe", "wechat_pay", ""),
        ("wallet", "wallet", ""),
        ("simulator", "alipay", "pm_sim_alipay"),
        ("simulator", "card", "pm_card_visa"),
    ],
)
def test_a_card_number_is_never_the_token_of_another_method(provider, kind, expected):
    assert payment_method_token(provider=provider, kind=kind, value=CARD_NUMBER) == expected


class RecordingGateway:
    """Stands in for Stripe: records what it was asked to charge with."""

    name = "stripe"

    def __init__(self) -> None:
        self.sent: list[str] = []

    def card_fingerprint(self, payment_method: str) -> str:
        raise AssertionError("no card fingerprint is asked for a non-card method")

    def card_summary(self, payment_method: str) -> object:
        raise AssertionError("no card details are asked for a non-card method")

    def charge(self, request: ChargeRequest) -> ChargeResult:
        self.sent.append(request.payment_method)
        return ChargeResult(Outcome.REQUIRES_ACTION, "pi_1", action_url="https://example.com/a")


def test_card_number_typed_while_the_card_is_down_goes_nowhere_with_alipay(client, shop):
    PaymentMethod.objects.filter(code="card").update(maintenance=True)
    PaymentMethod.objects.filter(code="alipay").update(provider="stripe")
    fill_cart(client, "mug")
    page = client.get(reverse("checkout:checkout")).content.decode()
    # No JavaScript needed: the server renders the card field disabled, and says why.
    assert 'name="payment_method"' in page
    field = page[
        page.index('name="payment_method"') - 200 : page.index('name="payment_method"') + 200
    ]
    assert "disabled" in field
    assert "Card payments are not available right now" in page
    gateway = RecordingGateway()
    with (
        mock.patch("payments.services.attempts.get_gateway", return_value=gateway),
        mock.patch("payments.services.routing.get_gateway", return_value=gateway),
    ):
        # A crafted post (or a browser ignoring "disabled") still sends the number along.
        pay(client, checkout_form(client), method="alipay", payment_method=CARD_NUMBER)
    attempt = PaymentAttempt.objects.get()
    assert gateway.sent == [""]
    assert attempt.payment_method_ref == ""
    assert "4242" not in str(list(attempt.events.values_list("payload", flat=True)))


def test_card_field_is_open_while_the_card_can_be_used(client, shop):
    fill_cart(client, "mug")
    page = client.get(reverse("checkout:checkout")).content.decode()
    field = page[
        page.index('name="payment_method"') - 200 : page.index('name="payment_method"') + 200
    ]
    assert "disabled" not in field
    assert "Card payments are not available right now" not in page


def _attempt(shop, token: str, n=[0]) -> None:  # noqa: B006 - a counter for unique keys
    from payments import services

    n[0] += 1
    services.attempt_pay(
        order=OrderFactory(),
        method=shop["methods"]["card"],
        idempotency_key=f"d{n[0]}",
        payment_method=token,
    )


def test_degraded_warning_clears_by_itself_when_the_window_moves_on(client, shop, settings):
    settings.PAYMENTS_HEALTH_MIN_VOLUME = 5
    settings.PAYMENTS_HEALTH_DEGRADED_PERCENT = 20
    settings.PAYMENTS_HEALTH_OPEN_PERCENT = 50
    settings.PAYMENTS_HEALTH_WINDOW_SECONDS = 300
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for _ in range(4):
            _attempt(shop, "pm_card_visa")
        _attempt(shop, "pm_sim_outage")  # 1 of 5 failed technically: degraded
    assert MethodHealth.objects.get(method__code="card").state == "degraded"
    fill_cart(client, "mug")
    warning = "Temporarily unreliable: payments may take longer or fail."
    with time_machine.travel(start + timedelta(seconds=299), tick=False):
        assert warning in client.get(reverse("checkout:checkout")).content.decode()
    # Nobody paid with the card since, yet once the failure has left the window it is fine.
    with time_machine.travel(start + timedelta(seconds=301), tick=False):
        assert warning not in client.get(reverse("checkout:checkout")).content.decode()

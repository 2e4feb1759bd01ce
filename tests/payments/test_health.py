"""The circuit breaker: technical failures degrade then open a method; declines never do; after
the cool-down one probe decides; every change is recorded and told to the people who run it."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from payments import services
from payments.models import MethodHealth, MethodHealthEvent, PaymentMethod
from payments.selectors import method_availability, methods_for_amount
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db
H = MethodHealth.State


@pytest.fixture(autouse=True)
def thresholds(settings):
    settings.PAYMENTS_HEALTH_MIN_VOLUME = 5
    settings.PAYMENTS_HEALTH_DEGRADED_PERCENT = 20
    settings.PAYMENTS_HEALTH_OPEN_PERCENT = 50
    settings.PAYMENTS_HEALTH_COOLDOWN_SECONDS = 60
    settings.ADMINS = [("Ops", "ops@example.com")]


def attempt(shop, token, n=[0]):  # noqa: B006 - a counter for unique keys
    n[0] += 1
    return services.attempt_pay(
        order=OrderFactory(),
        method=shop["methods"]["card"],
        idempotency_key=f"h{n[0]}",
        payment_method=token,
    )


def state(shop) -> str:
    return MethodHealth.objects.get(method=shop["methods"]["card"]).state


def card(shop) -> PaymentMethod:
    return PaymentMethod.objects.select_related("health").get(pk=shop["methods"]["card"].pk)


def test_customer_declines_never_count(shop):
    for token in [
        "pm_card_visa_chargeDeclinedInsufficientFunds",
        "pm_card_visa_chargeDeclined",
        "pm_card_chargeDeclinedExpiredCard",
    ] * 4:
        attempt(shop, token)
    assert not MethodHealth.objects.filter(state__in=[H.DEGRADED, H.OPEN]).exists()
    assert method_availability(method=card(shop), amount=100, currency="USD").available


def test_a_few_errors_degrade_and_a_burst_opens(shop, django_capture_on_commit_callbacks):
    for _ in range(8):
        attempt(shop, "pm_card_visa")
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(2):
            attempt(shop, "pm_sim_outage")  # 2 of 10: degraded
    assert state(shop) == H.DEGRADED
    row = method_availability(method=card(shop), amount=100, currency="USD")
    assert row.available and row.degraded
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(6):
            attempt(shop, "pm_sim_outage")  # 8 of 16 failed technically: open
    assert state(shop) == H.OPEN
    row = method_availability(method=card(shop), amount=100, currency="USD")
    assert (row.available, row.reason) == (False, "method_unhealthy")
    with pytest.raises(services.MethodUnavailable):
        attempt(shop, "pm_card_visa")
    changes = list(
        MethodHealthEvent.objects.order_by("created_at").values_list("to_state", flat=True)
    )
    assert changes == [H.DEGRADED, H.OPEN]
    subjects = [m.subject for m in mail.outbox if "ops@example.com" in m.to]
    assert subjects == [
        "Payment method card: healthy -> degraded",
        "Payment method card: degraded -> open",
    ]


def open_circuit(shop):
    for _ in range(5):
        attempt(shop, "pm_sim_outage")
    assert state(shop) == H.OPEN


def test_after_the_cool_down_one_probe_closes_the_circuit(shop, django_capture_on_commit_callbacks):
    open_circuit(shop)
    with time_machine.travel(timezone.now() + timedelta(seconds=61), tick=False):
        assert method_availability(method=card(shop), amount=100, currency="USD").available
        with django_capture_on_commit_callbacks(execute=True):
            probe = attempt(shop, "pm_card_visa")
        assert probe.status == "succeeded"
        assert state(shop) == H.HEALTHY
    assert any("open -> healthy" in m.subject for m in mail.outbox)  # recovery is announced


def test_only_one_probe_at_a_time(shop):
    open_circuit(shop)
    with time_machine.travel(timezone.now() + timedelta(seconds=61), tick=False):
        probe = attempt(shop, "pm_sim_timeout_then_succeeded")  # the probe hangs: unknown
        assert probe.status == "unknown"
        with pytest.raises(services.MethodUnavailable):
            attempt(shop, "pm_card_visa")


def test_a_failing_probe_opens_the_circuit_again(shop):
    open_circuit(shop)
    later = timezone.now() + timedelta(seconds=61)
    with time_machine.travel(later, tick=False):
        attempt(shop, "pm_sim_outage")
        assert state(shop) == H.OPEN
        row = method_availability(method=card(shop), amount=100, currency="USD")
        assert row.reason == "method_unhealthy"  # a new cool-down has started
    with time_machine.travel(later + timedelta(seconds=61), tick=False):
        assert method_availability(method=card(shop), amount=100, currency="USD").available


def test_state_lives_in_the_database_not_in_a_process(shop):
    open_circuit(shop)
    # A fresh read, as another web process would do, sees the same open circuit.
    fresh = PaymentMethod.objects.select_related("health").get(code="card")
    assert (
        method_availability(method=fresh, amount=100, currency="USD").reason == "method_unhealthy"
    )


def test_degraded_methods_are_ranked_lower_and_warned_about(client, shop):
    for _ in range(4):
        attempt(shop, "pm_card_visa")
    attempt(shop, "pm_sim_outage")
    assert state(shop) == H.DEGRADED
    order = [row.method.code for row in methods_for_amount(amount=100, currency="USD")]
    assert order == ["alipay", "wechat_pay", "card", "wallet"]
    client.post(reverse("checkout:cart_update"), {"sku": "mug"})
    body = client.get(reverse("checkout:checkout")).content.decode()
    assert "Temporarily unreliable: payments may take longer or fail." in body

"""Admins see each route (issue 15): success rate, call time, circuit state and the payments
failover saved in the last day, on the dashboard and in /metrics."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from payments import services
from payments.models import PaymentRoute, RouteHealth
from tests.factories import OrderFactory, PaymentMethodFactory
from tests.test_observability import sample

pytestmark = pytest.mark.django_db


@pytest.fixture
def routed():
    """Card: the simulator refuses, then recovers; Simulator B takes what it refused."""
    card = PaymentMethodFactory(code="card")
    first = PaymentRoute.objects.create(
        method=card, provider="simulator", priority=10, simulate_refused=True
    )
    second = PaymentRoute.objects.create(method=card, provider="simulator_b", priority=20)
    # The fake clock, start and end of each call: the simulator refuses in 250, 500 and 250 ms;
    # Simulator B answers in 750, 1000 and 500 ms.
    ticks = iter([0.0, 0.25, 10.0, 10.75, 20.0, 20.5, 30.0, 31.0, 40.0, 40.25, 50.0, 50.5])
    with mock.patch("payments.services.routing.time.monotonic", lambda: next(ticks)):
        for i, token in enumerate(["pm_card_visa", "pm_card_visa", "pm_card_visa_chargeDeclined"]):
            services.attempt_pay(
                order=OrderFactory(),
                method=card,
                idempotency_key=f"r{i}",
                payment_method=token,
            )
    # An old save, outside the last day, is not counted.
    with time_machine.travel(timezone.now() - timedelta(days=2)):
        services.attempt_pay(
            order=OrderFactory(), method=card, idempotency_key="old", payment_method="pm_card_visa"
        )
    RouteHealth.objects.update_or_create(route=first, defaults={"state": "degraded"})
    return first, second


def test_dashboard_shows_each_route(client, carol, routed):
    client.force_login(carol)
    page = client.get(reverse("admin:payments_dashboard"))
    assert page.status_code == 200
    rows = {
        (r.method, r.provider): (
            r.state,
            r.percent,
            r.settled,
            r.paid,
            r.tries,
            r.technical,
            r.median_ms,
            r.failover_saves,
        )
        for r in page.context["routes"]
    }
    assert rows == {
        # Three refusals (250, 500, 250 ms), each a technical failure; it carried nothing.
        ("card", "simulator"): ("Degraded", None, 0, 0, 3, 3, 250, 0),
        # Three answers (750, 1000, 500 ms): two paid, one declined; two saved by failover.
        ("card", "simulator_b"): ("Healthy", 66, 3, 2, 3, 0, 750, 2),
    }
    html = page.content.decode()
    assert '<td class="route-saves">2</td>' in html
    assert '<td class="route-latency">750 ms</td>' in html


def test_metrics_show_route_state_tries_and_saves(
    client, carol, django_capture_on_commit_callbacks
):
    card = PaymentMethodFactory(code="card")
    first = PaymentRoute.objects.create(
        method=card, provider="simulator", priority=10, simulate_refused=True
    )
    PaymentRoute.objects.create(method=card, provider="simulator_b", priority=20)
    client.force_login(carol)
    before = client.get("/metrics").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        for i, token in enumerate(["pm_card_visa", "pm_card_visa", "pm_card_visa_chargeDeclined"]):
            services.attempt_pay(
                order=OrderFactory(), method=card, idempotency_key=f"m{i}", payment_method=token
            )
    RouteHealth.objects.update_or_create(route=first, defaults={"state": "degraded"})
    body = client.get("/metrics").content.decode()

    def moved(name: str, **labels: str) -> float:
        return sample(body, name, **labels) - sample(before, name, **labels)

    primary, second = (
        {"method": "card", "route": "simulator"},
        {"method": "card", "route": "simulator_b"},
    )
    assert moved("checkout_payment_route_tries_total", **primary, outcome="not_charged") == 3
    assert moved("checkout_payment_route_tries_total", **second, outcome="answered") == 3
    assert moved("checkout_payment_route_seconds_count", **second) == 3
    # Two paid on the second route after the first refused; the decline saved nothing.
    assert moved("checkout_payment_failover_saves_total", **second) == 2
    assert sample(body, "checkout_payment_route_health", **primary, state="degraded") == 1
    assert sample(body, "checkout_payment_route_health", **primary, state="healthy") == 0
    assert sample(body, "checkout_payment_route_health", **second, state="healthy") == 1

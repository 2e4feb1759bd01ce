"""/metrics: Prometheus text for staff and the scraper's token only; numbers from the database."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from payments import services
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db


def sample(body: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = (
        rf"^{re.escape(name)}\{{{re.escape(wanted)}\}} (\S+)$" if labels else rf"^{name} (\S+)$"
    )
    match = re.search(pattern, body, re.M)
    assert match, f"{name}{{{wanted}}} missing"
    return float(match.group(1))


@pytest.fixture
def seeded(shop):
    card = shop["methods"]["card"]
    for i, token in enumerate(
        [
            "pm_card_visa",
            "pm_card_visa",
            "pm_card_visa_chargeDeclined",
            "pm_sim_timeout_then_succeeded",
        ]
    ):
        services.attempt_pay(
            order=OrderFactory(), method=card, idempotency_key=f"m{i}", payment_method=token
        )


def test_metrics_are_not_public(client, settings, seeded, alice):
    settings.METRICS_TOKEN = "scrape-me"
    assert client.get("/metrics").status_code == 403
    client.force_login(alice)
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403


def test_metrics_count_what_the_database_holds(client, settings, seeded):
    settings.METRICS_TOKEN = "scrape-me"
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    body = response.content.decode()
    assert sample(body, "checkout_payment_attempts_total", method="card", status="succeeded") == 2
    assert sample(body, "checkout_payment_attempts_total", method="card", status="failed") == 1
    assert sample(body, "checkout_payment_attempts_total", method="card", status="unknown") == 1
    settled = sample(body, "checkout_payment_confirmation_seconds_count", method="card")
    assert settled == 3
    assert (
        sample(body, "checkout_payment_confirmation_seconds_bucket", method="card", le="+Inf") == 3
    )
    assert sample(body, "checkout_payment_confirmation_seconds_bucket", method="card", le="1") == 3
    assert sample(body, "checkout_payment_method_health", method="card", state="healthy") == 1
    assert sample(body, "checkout_webhook_lag_seconds") == 0


def test_slow_confirmations_land_in_higher_buckets(client, carol, shop):
    attempt = services.attempt_pay(
        order=OrderFactory(),
        method=shop["methods"]["card"],
        idempotency_key="slow",
        payment_method="pm_sim_processing",
    )
    from payments.models import SimulatedCharge

    SimulatedCharge.objects.update(status="succeeded")
    with time_machine.travel(timezone.now() + timedelta(seconds=45), tick=False):
        services.attempt_refresh(attempt=attempt)
    client.force_login(carol)
    body = client.get("/metrics").content.decode()
    assert sample(body, "checkout_payment_confirmation_seconds_bucket", method="card", le="30") == 0
    assert sample(body, "checkout_payment_confirmation_seconds_bucket", method="card", le="60") == 1
    assert 44 <= sample(body, "checkout_payment_confirmation_seconds_sum", method="card") <= 46

"""/metrics: Prometheus text for staff and the scraper's token only. Attempts, refunds and
webhooks are counted as they happen (config.metrics); health, queue and webhook lag are read at
scrape time. Counters live for the whole test process, so tests compare before and after."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from payments import services
from payments.models import WebhookEvent
from tests.factories import OrderFactory
from tests.test_observability import sample

pytestmark = pytest.mark.django_db


def test_metrics_are_not_public(client, settings, alice, mallory):
    settings.METRICS_TOKEN = "scrape-me"
    assert client.get("/metrics").status_code == 403
    for stranger in (alice, mallory):
        client.force_login(stranger)
        assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403


def test_metrics_count_settled_attempts_and_read_current_state(
    client, settings, shop, django_capture_on_commit_callbacks
):
    settings.METRICS_TOKEN = "scrape-me"

    def scrape() -> str:
        response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain")
        return response.content.decode()

    before = scrape()
    with django_capture_on_commit_callbacks(execute=True):
        for i, token in enumerate(["pm_card_visa", "pm_card_visa", "pm_card_visa_chargeDeclined"]):
            services.attempt_pay(
                order=OrderFactory(),
                method=shop["methods"]["card"],
                idempotency_key=f"m{i}",
                payment_method=token,
            )
    body = scrape()

    def moved(name: str, **labels: str) -> float:
        return sample(body, name, **labels) - sample(before, name, **labels)

    assert moved("checkout_payment_attempts_total", method="card", status="succeeded") == 2
    assert moved("checkout_payment_attempts_total", method="card", status="failed") == 1
    assert moved("checkout_payment_confirmation_seconds_count", method="card") == 3
    assert moved("checkout_payment_confirmation_seconds_bucket", method="card", le="+Inf") == 3
    assert moved("checkout_payment_confirmation_seconds_bucket", method="card", le="1.0") == 3
    assert sample(body, "checkout_payment_method_health", method="card", state="healthy") == 1
    assert sample(body, "checkout_payment_method_health", method="card", state="open") == 0
    assert sample(body, "checkout_webhook_lag_seconds") == 0


def test_webhook_lag_is_the_age_of_the_oldest_unprocessed_event(client, carol):
    now = timezone.now()
    WebhookEvent.objects.create(provider="stripe", event_id="evt_old", type="x", payload={})
    WebhookEvent.objects.filter(event_id="evt_old").update(received_at=now - timedelta(seconds=90))
    client.force_login(carol)
    with time_machine.travel(now, tick=False):
        body = client.get("/metrics").content.decode()
    assert sample(body, "checkout_webhook_lag_seconds") == 90


def test_slow_confirmations_land_in_higher_buckets(
    client, carol, shop, django_capture_on_commit_callbacks
):
    client.force_login(carol)
    before = client.get("/metrics").content.decode()
    attempt = services.attempt_pay(
        order=OrderFactory(),
        method=shop["methods"]["card"],
        idempotency_key="slow",
        payment_method="pm_sim_processing",
    )
    from payments.models import SimulatedCharge

    SimulatedCharge.objects.update(status="succeeded")
    with (
        time_machine.travel(timezone.now() + timedelta(seconds=45), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        services.attempt_refresh(attempt=attempt)
    body = client.get("/metrics").content.decode()

    def moved(name: str, **labels: str) -> float:
        return sample(body, name, **labels) - sample(before, name, **labels)

    bucket = "checkout_payment_confirmation_seconds_bucket"
    assert moved(bucket, method="card", le="30.0") == 0
    assert moved(bucket, method="card", le="60.0") == 1
    assert 44 <= moved("checkout_payment_confirmation_seconds_sum", method="card") <= 46

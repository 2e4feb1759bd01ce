"""One Adyen notification delivered many times at once: one stored event, one state change.
Needs real row locks and unique constraints across connections, so PostgreSQL."""

from __future__ import annotations

import json
import threading
from collections import Counter

import pytest
from django.db import connection
from django.test import Client

from outbox.models import Message
from payments import services
from payments.models import AttemptStatus, PaymentMethod, WebhookEvent
from tests.conftest import ON_POSTGRES
from tests.factories import OrderFactory, PaymentMethodFactory

from .fake_adyen import API_KEY, HMAC_KEY, MERCHANT, FakeAdyen
from .test_adyen_notifications import item

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not ON_POSTGRES,
        reason="needs PostgreSQL row locks across connections: set DATABASE_URL=postgres://...",
    ),
]
N = 12


@pytest.mark.django_db(transaction=True)
def test_the_same_notification_at_once_is_stored_and_applied_once(settings):
    server = FakeAdyen()
    settings.ADYEN_API_KEY, settings.ADYEN_MERCHANT_ACCOUNT = API_KEY, MERCHANT
    settings.ADYEN_HMAC_KEY, settings.ADYEN_CHECKOUT_URL = HMAC_KEY, server.url
    PaymentMethodFactory(code="card", provider="adyen")
    try:
        attempt = services.attempt_pay(
            order=OrderFactory(total=2400),
            method=PaymentMethod.objects.get(code="card"),
            idempotency_key="k",
            payment_method="adyen:test_4917610000000000|test_03|test_2030|test_737",
        )
    finally:
        server.stop()
    assert attempt.status == AttemptStatus.REQUIRES_ACTION
    note = item("FAKEPSP000000001", "AUTHORISATION", f"attempt-{attempt.public_id}")
    body = json.dumps({"live": "false", "notificationItems": [{"NotificationRequestItem": note}]})
    barrier = threading.Barrier(N, timeout=60)
    told: Counter[str] = Counter()
    lock = threading.Lock()

    def deliver() -> None:
        try:
            barrier.wait()
            response = Client().post(
                "/payments/webhooks/adyen/", body, content_type="application/json"
            )
            answer = f"{response.status_code} {response.content.decode()}"
        except Exception as exc:  # noqa: BLE001 - any error is what this test hunts for
            answer = f"error:{type(exc).__name__}:{exc}"
        finally:
            connection.close()
        with lock:
            told[answer] += 1

    threads = [threading.Thread(target=deliver) for _ in range(N)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert told == {"200 [accepted]": N}
    event = WebhookEvent.objects.get()
    assert event.deliveries == N
    assert Message.objects.filter(kind="payments.webhook").count() == 1
    services.webhook_process(event_pk=event.pk)
    services.webhook_process(event_pk=event.pk)
    attempt.refresh_from_db()
    assert attempt.status == AttemptStatus.SUCCEEDED
    assert attempt.events.filter(to_status=AttemptStatus.SUCCEEDED).count() == 1
    assert attempt.order.status == "paid"

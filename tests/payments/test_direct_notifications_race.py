"""The same Alipay notification delivered many times at once (Alipay retries while our first
answer is still on its way): every delivery is told "success", one event is stored and the
attempt succeeds once. Needs real row locks across connections, so PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection
from django.test import Client

from payments import services
from payments.models import AttemptStatus, PaymentEvent, WebhookEvent
from tests.conftest import ON_POSTGRES
from tests.factories import OrderFactory, PaymentMethodFactory

from . import test_alipay_gateway as alipay_setup
from .fake_alipay import FakeAlipay

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not ON_POSTGRES,
        reason="needs PostgreSQL row locks across connections: set DATABASE_URL=postgres://...",
    ),
]

N = 8


@pytest.mark.django_db(transaction=True)
def test_one_notification_delivered_many_times_at_once_is_applied_once(settings):
    fake = FakeAlipay(*alipay_setup.keys())
    alipay_setup.configure(settings, fake)
    try:
        method = PaymentMethodFactory(
            code="alipay_direct", kind="alipay", provider="alipay", currencies="CNY"
        )
        order = OrderFactory(currency="CNY", total=1234)
        attempt = services.attempt_pay(order=order, method=method, idempotency_key="k1")
        fake.pay(attempt.provider_reference)
        body = FakeAlipay.form(fake.notification(attempt.provider_reference))
    finally:
        fake.stop()  # the notification needs no call to Alipay

    barrier = threading.Barrier(N, timeout=60)
    told: Counter[str] = Counter()
    lock = threading.Lock()

    def deliver() -> None:
        answer = ""
        try:
            barrier.wait()
            response = Client().post(
                "/payments/webhooks/alipay/",
                body,
                content_type="application/x-www-form-urlencoded; charset=utf-8",
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
        thread.join(timeout=120)

    assert told == Counter({"200 success": N})
    event = WebhookEvent.objects.get()
    assert (event.provider, event.deliveries) == ("alipay", N)
    assert event.processed_at is not None
    attempt.refresh_from_db()
    assert attempt.status == AttemptStatus.SUCCEEDED
    assert (
        PaymentEvent.objects.filter(
            attempt=attempt,
            kind=PaymentEvent.Kind.STATUS_CHANGED,
            to_status=AttemptStatus.SUCCEEDED,
        ).count()
        == 1
    )

"""Many refunds of one payment at once: never more than was paid. Needs real row locks, so
PostgreSQL; the database constraint is the last line."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Sum

from payments import services
from payments.models import PaymentAttempt, PaymentMethod, Refund, SimulatedRefund
from tests.conftest import ON_POSTGRES
from tests.factories import OrderFactory, PaymentMethodFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not ON_POSTGRES,
        reason="needs PostgreSQL row locks across connections: set DATABASE_URL=postgres://...",
    ),
]


def race_refunds(attempt_id: int, requests: list[tuple[int, str]]) -> Counter[str]:
    """Fire every (amount, idempotency key) refund of one attempt from its own thread and
    connection, all at the same moment; count what each one was told."""
    barrier = threading.Barrier(len(requests), timeout=60)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def worker(amount: int, key: str) -> None:
        try:
            attempt = PaymentAttempt.objects.get(pk=attempt_id)
            barrier.wait()
            refund = services.refund_create(
                attempt=attempt,
                amount=amount,
                destination="original",
                reason="race",
                actor="staff:carol@example.com",
                idempotency_key=key,
            )
            outcome = refund.status
        except services.PaymentError as exc:
            outcome = exc.code
        except Exception as exc:  # noqa: BLE001 - any other error is what this test hunts for
            outcome = f"error:{type(exc).__name__}:{exc}"
        finally:
            connection.close()
        with lock:
            outcomes[outcome] += 1

    threads = [threading.Thread(target=worker, args=request) for request in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


@pytest.fixture
def paid_1000():
    PaymentMethodFactory(code="card")
    return services.attempt_pay(
        order=OrderFactory(total=1000),
        method=PaymentMethod.objects.get(code="card"),
        idempotency_key="pay",
        payment_method="pm_card_visa",
    )


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_partial_refunds_refund_exactly_what_was_paid(paid_1000):
    outcomes = race_refunds(paid_1000.pk, [(100, f"refund-{i}") for i in range(20)])
    assert outcomes == Counter({"succeeded": 10, "refund_not_allowed": 10})
    paid_1000.refresh_from_db()
    assert paid_1000.refunded_amount == 1000
    assert paid_1000.status == PaymentAttempt.Status.REFUNDED
    assert Refund.objects.filter(status="succeeded").aggregate(s=Sum("amount"))["s"] == 1000
    assert SimulatedRefund.objects.filter(status="succeeded").count() == 10


@pytest.mark.django_db(transaction=True)
def test_the_same_key_sent_concurrently_refunds_once(paid_1000):
    outcomes = race_refunds(paid_1000.pk, [(300, "one-press")] * 10)
    assert outcomes == Counter({"succeeded": 10})  # every request is told about the one refund
    assert Refund.objects.count() == 1 and SimulatedRefund.objects.count() == 1
    paid_1000.refresh_from_db()
    assert paid_1000.refunded_amount == 300


@pytest.mark.django_db(transaction=True)
def test_the_database_refuses_refunds_over_the_paid_amount(paid_1000):
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentAttempt.objects.filter(pk=paid_1000.pk).update(refunded_amount=F("amount") + 1)
    paid_1000.refresh_from_db()
    assert paid_1000.refunded_amount == 0

"""Many requests for one order at once: one charge. Needs real row locks, so PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection

from payments import services
from payments.models import PaymentAttempt, PaymentMethod, SimulatedCharge
from tests.conftest import ON_POSTGRES
from tests.factories import OrderFactory, PaymentMethodFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not ON_POSTGRES,
        reason="needs PostgreSQL row locks across connections: set DATABASE_URL=postgres://...",
    ),
]

N = 50


def race(payments: list[tuple[int, str, str, str]]) -> Counter[str]:
    """Fire every (order id, method code, idempotency key, token) pay request from its own
    thread and connection, all at the same moment; count how each one ended."""
    barrier = threading.Barrier(len(payments))
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def worker(order_id: int, method_code: str, key: str, token: str) -> None:
        from checkout.models import Order

        try:
            order = Order.objects.get(pk=order_id)
            method = PaymentMethod.objects.get(code=method_code)
            barrier.wait()
            attempt = services.attempt_pay(
                order=order,
                method=method,
                idempotency_key=key,
                payment_method=token,
                user=order.user,  # a wallet is spent by its signed-in owner
            )
            outcome = attempt.failure_code or attempt.status
        except services.PaymentError as exc:
            outcome = getattr(exc, "reason", exc.code)
        except Exception as exc:  # noqa: BLE001 - any other error is what these tests hunt for
            outcome = f"error:{type(exc).__name__}:{exc}"
        finally:
            connection.close()
        with lock:
            outcomes[outcome] += 1

    threads = [threading.Thread(target=worker, args=payment) for payment in payments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_concurrent_pay_with_different_keys_charges_once():
    PaymentMethodFactory(code="card")
    order = OrderFactory()
    outcomes = race([(order.pk, "card", f"key-{i}", "pm_card_visa") for i in range(N)])
    assert not [o for o in outcomes if o.startswith("error")], outcomes
    assert sum(outcomes.values()) == N
    assert outcomes["succeeded"] == 1
    assert PaymentAttempt.objects.filter(order=order).count() == 1
    assert SimulatedCharge.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_pay_with_the_same_key_charges_once():
    PaymentMethodFactory(code="card")
    order = OrderFactory()
    outcomes = race([(order.pk, "card", "same-key", "pm_card_visa")] * N)
    assert not [o for o in outcomes if o.startswith("error")], outcomes
    assert PaymentAttempt.objects.filter(order=order).count() == 1
    assert SimulatedCharge.objects.count() == 1
    order.refresh_from_db()
    assert order.status == "paid"


@pytest.mark.django_db(transaction=True)
def test_concurrent_wallet_spends_cannot_overdraw():
    from django.db.models import Sum

    from payments.models import Wallet, WalletEntry
    from tests.factories import UserFactory

    PaymentMethodFactory(code="wallet", kind="wallet", provider="wallet", label_en="Wallet")
    owner = UserFactory(email="spender@example.com")
    services.wallet_move(
        user=owner, currency="USD", amount=3000, kind="adjustment", actor="test", reference="seed"
    )
    orders = [OrderFactory(user=owner, total=1200) for _ in range(10)]
    outcomes = race([(o.pk, "wallet", f"w-{o.pk}", "") for o in orders])
    assert not [o for o in outcomes if o.startswith("error")], outcomes
    assert outcomes["succeeded"] == 2, outcomes
    wallet = Wallet.objects.get(user=owner)
    assert wallet.balance == 600
    assert WalletEntry.objects.filter(wallet=wallet).aggregate(s=Sum("amount"))["s"] == 600

"""Spending and withdrawing one wallet at the same moment never overdraws it, and every
request is told a true answer. Needs real row locks, so PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection
from django.db.models import Sum

from checkout.services import wallet_top_up_order_create
from payments import services
from payments.models import PaymentMethod, Wallet, WalletEntry, Withdrawal
from tests.conftest import ON_POSTGRES
from tests.factories import OrderFactory, PaymentMethodFactory, UserFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not ON_POSTGRES,
        reason="needs PostgreSQL row locks across connections: set DATABASE_URL=postgres://...",
    ),
]


@pytest.mark.django_db(transaction=True)
def test_concurrent_spend_and_withdraw_never_overdraw():
    card = PaymentMethodFactory(code="card", kind="card")
    PaymentMethodFactory(code="wallet", kind="wallet", provider="wallet")
    alice = UserFactory(email="alice@example.com")
    for amount in (3000, 2000):
        order = wallet_top_up_order_create(user=alice, amount=amount, currency="USD", language="en")
        services.attempt_pay(
            order=order, method=card, idempotency_key=f"t{amount}", payment_method="pm_card_visa"
        )
    assert Wallet.objects.get(user=alice).balance == 5000
    spends = [OrderFactory(user=alice, total=1000).pk for _ in range(10)]
    # 10 spends of 10.00, 6 withdrawals of 20.00 with their own keys, and one withdrawal of
    # 10.00 pressed 5 times (the same key): far more than the 50.00 there is.
    jobs = [("spend", pk, "") for pk in spends]
    jobs += [("withdraw", 2000, f"w-{i}") for i in range(6)]
    jobs += [("withdraw", 1000, "same")] * 5
    barrier = threading.Barrier(len(jobs), timeout=60)
    told: list[tuple[str, str, str]] = []
    lock = threading.Lock()

    def worker(what: str, value: int, key: str) -> None:
        from checkout.models import Order

        answer = ""
        try:
            if what == "spend":
                order = Order.objects.get(pk=value)
                method = PaymentMethod.objects.get(code="wallet")
                barrier.wait()
                attempt = services.attempt_pay(
                    order=order, method=method, idempotency_key=f"s{value}", user=alice
                )
                answer = attempt.failure_code or attempt.status
            else:
                barrier.wait()
                withdrawal, _created = services.withdrawal_request(
                    user=alice, currency="USD", amount=value, idempotency_key=key
                )
                answer = f"withdrawal:{withdrawal.public_id}"
        except services.PaymentError as exc:
            answer = getattr(exc, "reason", exc.code)
        except Exception as exc:  # noqa: BLE001 - any other error is what this test hunts for
            answer = f"error:{type(exc).__name__}:{exc}"
        finally:
            connection.close()
        with lock:
            told.append((what, key, answer))

    threads = [threading.Thread(target=worker, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert len(told) == len(jobs)

    spent = Counter(answer for what, _k, answer in told if what == "spend")
    assert set(spent) <= {"succeeded", "wallet_insufficient"}, spent
    made = {w.idempotency_key: w for w in Withdrawal.objects.all()}
    for what, key, answer in told:
        if what == "withdraw":
            # Each press was told its withdrawal, or that the money was not there.
            expected = f"withdrawal:{made[key].public_id}" if key in made else None
            assert answer in {expected, "withdrawal_not_allowed"}, (key, answer)
            if key in made:
                assert answer == expected
    # The same key made at most one withdrawal, and all five presses were told that one.
    same = [answer for _w, key, answer in told if key == "same"]
    assert len(same) == 5 and len(set(same)) == 1

    withdrawn = sum(w.amount for w in made.values())
    paid = spent["succeeded"] * 1000
    wallet = Wallet.objects.get(user=alice)
    assert paid + withdrawn + wallet.balance == 5000
    assert wallet.balance >= 0
    assert wallet.entries.aggregate(t=Sum("amount"))["t"] == wallet.balance
    # Nothing was left on the table: what remains could not have paid for another spend.
    assert wallet.balance < 1000 or spent["wallet_insufficient"] == 0
    assert WalletEntry.objects.filter(kind="withdrawal").aggregate(t=Sum("amount"))["t"] == (
        -withdrawn
    )

"""A double press or a second tab of a split payment never spends the wallet twice. Needs real
row locks across connections, so PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter
from unittest import mock

import pytest
from django.db import connection
from django.db.models import Sum

from payments import services
from payments.gateways import ChargeRequest, ChargeResult
from payments.gateways.simulator import SimulatorGateway
from payments.models import PaymentAttempt, PaymentMethod, SimulatedCharge, Wallet, WalletEntry
from tests.conftest import ON_POSTGRES
from tests.factories import OrderFactory, PaymentMethodFactory, UserFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not ON_POSTGRES,
        reason="needs PostgreSQL row locks across connections: set DATABASE_URL=postgres://...",
    ),
]

N = 20


def race(order_id: int, keys: list[str], token: str = "pm_card_visa") -> list[tuple[str, str]]:
    """Every key pays 800 of the order from the wallet and the rest by card, each from its own
    thread and connection at the same moment. The winner's charge waits at the provider until
    every other request has its answer. Returns (outcome, attempt told about) per request."""
    barrier = threading.Barrier(len(keys), timeout=60)
    answers: list[tuple[str, str]] = []
    lock = threading.Lock()
    others_answered = threading.Event()
    real_charge = SimulatorGateway.charge

    def held_charge(self: SimulatorGateway, request: ChargeRequest) -> ChargeResult:
        others_answered.wait(timeout=30)
        return real_charge(self, request)

    def worker(key: str) -> None:
        from checkout.models import Order

        told = ""
        try:
            order = Order.objects.select_related("user").get(pk=order_id)
            method = PaymentMethod.objects.get(code="card")
            barrier.wait()
            attempt = services.attempt_pay(
                order=order,
                method=method,
                idempotency_key=key,
                payment_method=token,
                user=order.user,
                wallet_amount=800,
            )
            outcome, told = attempt.failure_code or attempt.status, str(attempt.public_id)
        except services.PaymentInProgress as exc:
            outcome, told = exc.code, str(exc.attempt.public_id)
        except services.PaymentError as exc:
            outcome = getattr(exc, "reason", exc.code)
        except Exception as exc:  # noqa: BLE001 - any other error is what this test hunts for
            outcome = f"error:{type(exc).__name__}:{exc}"
        finally:
            connection.close()
        with lock:
            answers.append((outcome, told))
            if len(answers) == len(keys) - 1:
                others_answered.set()

    threads = [threading.Thread(target=worker, args=(key,)) for key in keys]
    with mock.patch.object(SimulatorGateway, "charge", held_charge):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    return answers


def setup_order():
    PaymentMethodFactory(code="card")
    PaymentMethodFactory(code="wallet", kind="wallet", provider="wallet", label_en="Wallet")
    owner = UserFactory(email="splitter@example.com")
    services.wallet_move(
        user=owner, currency="USD", amount=800, kind="adjustment", actor="test", reference="seed"
    )
    return owner, OrderFactory(user=owner, total=2400)


def ledger(owner) -> tuple[int, int, list[tuple[str, int]]]:
    wallet = Wallet.objects.get(user=owner)
    total = WalletEntry.objects.filter(wallet=wallet).aggregate(s=Sum("amount"))["s"]
    moves = list(wallet.entries.exclude(reference="seed").values_list("kind", "amount"))
    return wallet.balance, total, moves


@pytest.mark.django_db(transaction=True)
def test_a_double_press_of_a_split_payment_spends_the_wallet_once():
    owner, order = setup_order()
    answers = race(order.pk, ["same-key"] * N)
    attempt = PaymentAttempt.objects.get(order=order)
    # The request that sent it hears the provider's answer; every other press, served while
    # it is at the provider, is told that same attempt was sent.
    assert Counter(answers) == {
        ("succeeded", str(attempt.public_id)): 1,
        ("sent", str(attempt.public_id)): N - 1,
    }
    assert (attempt.amount, attempt.wallet_amount) == (1600, 800)
    assert list(SimulatedCharge.objects.values_list("amount", flat=True)) == [1600]
    assert ledger(owner) == (0, 0, [("payment", -800)])
    order.refresh_from_db()
    assert order.status == "paid"


@pytest.mark.django_db(transaction=True)
def test_a_second_tab_of_a_split_payment_spends_the_wallet_once():
    owner, order = setup_order()
    answers = race(order.pk, [f"tab-{i}" for i in range(N)])
    attempt = PaymentAttempt.objects.get(order=order)
    # One tab pays; every other is told which payment is under way (never a second hold, and
    # never "wallet_insufficient" from a balance a losing tab emptied).
    assert Counter(answers) == {
        ("succeeded", str(attempt.public_id)): 1,
        ("payment_in_progress", str(attempt.public_id)): N - 1,
    }
    assert list(SimulatedCharge.objects.values_list("amount", flat=True)) == [1600]
    assert ledger(owner) == (0, 0, [("payment", -800)])


@pytest.mark.django_db(transaction=True)
def test_tabs_racing_after_a_declined_split_each_hold_only_their_own_part():
    """The first try was declined (its part given back); many tabs then try again at once: one
    holds the part again, the rest are told it is under way, and the ledger adds up."""
    owner, order = setup_order()
    first = services.attempt_pay(
        order=order,
        method=PaymentMethod.objects.get(code="card"),
        idempotency_key="first",
        payment_method="pm_card_visa_chargeDeclined",
        user=owner,
        wallet_amount=800,
    )
    assert first.status == "failed"
    answers = race(order.pk, [f"again-{i}" for i in range(N)])
    winner = PaymentAttempt.objects.get(order=order, status="succeeded")
    assert Counter(answers) == {
        ("succeeded", str(winner.public_id)): 1,
        ("payment_in_progress", str(winner.public_id)): N - 1,
    }
    assert ledger(owner) == (0, 0, [("payment", -800), ("release", 800), ("payment", -800)])

"""Many requests for one order at once: one charge. Needs real row locks, so PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter
from unittest import mock

import pytest
from django.db import connection

from payments import services
from payments.gateways import ChargeRequest, ChargeResult
from payments.gateways.simulator import SimulatorGateway
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


def race(
    payments: list[tuple[int, str, str, str]],
    *,
    hold_provider: bool = False,
    attempts: Counter[str] | None = None,
) -> Counter[str]:
    """Fire every (order id, method code, idempotency key, token) pay request from its own
    thread and connection, all at the same moment; count how each one ended.

    hold_provider: the simulator's charge call waits until every other request has had its
    answer, so the winner is still at the provider while the others are served (as with a real
    provider that takes a second). Without it the answers would depend on thread timing.
    attempts: filled with the attempt each request was told about (its public id).
    """
    barrier = threading.Barrier(len(payments), timeout=60)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    others_answered = threading.Event()
    real_charge = SimulatorGateway.charge

    def held_charge(self: SimulatorGateway, request: ChargeRequest) -> ChargeResult:
        others_answered.wait(timeout=30)  # a second charger would wait here too, and be seen
        return real_charge(self, request)

    def worker(order_id: int, method_code: str, key: str, token: str) -> None:
        from checkout.models import Order

        told = ""
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
            outcome, told = attempt.failure_code or attempt.status, str(attempt.public_id)
        except services.PaymentInProgress as exc:
            outcome, told = exc.code, str(exc.attempt.public_id)
        except services.PaymentError as exc:
            outcome = getattr(exc, "reason", exc.code)
        except Exception as exc:  # noqa: BLE001 - any other error is what these tests hunt for
            outcome = f"error:{type(exc).__name__}:{exc}"
        finally:
            connection.close()
        with lock:
            outcomes[outcome] += 1
            if attempts is not None:
                attempts[told] += 1
            if sum(outcomes.values()) == len(payments) - 1:
                others_answered.set()

    threads = [threading.Thread(target=worker, args=payment) for payment in payments]
    with mock.patch.object(
        SimulatorGateway, "charge", held_charge if hold_provider else real_charge
    ):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_concurrent_pay_with_different_keys_charges_once():
    PaymentMethodFactory(code="card")
    order = OrderFactory()
    told: Counter[str] = Counter()
    outcomes = race(
        [(order.pk, "card", f"key-{i}", "pm_card_visa") for i in range(N)],
        hold_provider=True,
        attempts=told,
    )
    # One charge; each other request is told a payment is under way, and which one, so the
    # page can show it (never a generic conflict or an error).
    assert outcomes == {"succeeded": 1, "payment_in_progress": 49}
    winner = PaymentAttempt.objects.get(order=order)
    assert told == {str(winner.public_id): 50}
    assert SimulatedCharge.objects.count() == 1
    order.refresh_from_db()
    assert order.status == "paid"


@pytest.mark.django_db(transaction=True)
def test_different_keys_after_the_order_was_paid_are_told_it_is_paid():
    """Once the winner has finished, a new key is a new payment of a paid order: every such
    request is told so (the same answer as a single late request gets)."""
    PaymentMethodFactory(code="card")
    order = OrderFactory()
    services.attempt_pay(
        order=order,
        method=PaymentMethod.objects.get(code="card"),
        idempotency_key="first",
        payment_method="pm_card_visa",
    )
    outcomes = race([(order.pk, "card", f"late-{i}", "pm_card_visa") for i in range(N)])
    assert outcomes == {"order_not_payable": 50}
    assert SimulatedCharge.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_pay_with_the_same_key_charges_once():
    PaymentMethodFactory(code="card")
    order = OrderFactory()
    told: Counter[str] = Counter()
    outcomes = race(
        [(order.pk, "card", "same-key", "pm_card_visa")] * N, hold_provider=True, attempts=told
    )
    # All 50 are told about the one attempt: the request that sent it gets the provider's
    # answer; the others, served while it is at the provider, are told it was sent (the page
    # then waits for the result, the API client polls it). Never "created": a repeat that
    # finds its attempt unsent sends it itself.
    assert outcomes == {"succeeded": 1, "sent": 49}
    attempt = PaymentAttempt.objects.get(order=order)
    assert told == {str(attempt.public_id): 50}
    assert SimulatedCharge.objects.count() == 1
    order.refresh_from_db()
    assert order.status == "paid"


@pytest.mark.django_db(transaction=True)
def test_a_repeat_of_an_attempt_that_was_never_sent_sends_it_once():
    """The first request created the attempt and died before sending it: the customer's retry
    with the same key sends it, and 50 retries at once send it once."""
    PaymentMethodFactory(code="card")
    order = OrderFactory()
    created, _ = services.attempt_create(
        order=order,
        method=PaymentMethod.objects.get(code="card"),
        idempotency_key="same-key",
        payment_method="pm_card_visa",
    )
    told: Counter[str] = Counter()
    outcomes = race(
        [(order.pk, "card", "same-key", "pm_card_visa")] * N, hold_provider=True, attempts=told
    )
    assert outcomes == {"succeeded": 1, "sent": 49}
    assert told == {str(created.public_id): 50}
    assert SimulatedCharge.objects.count() == 1


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

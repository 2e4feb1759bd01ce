"""Concurrent presses with routes (issue 15): exactly one charge across both routes, whether the
primary refuses connections (failover) or times out (no failover). PostgreSQL row locks."""

from __future__ import annotations

from collections import Counter
from unittest import mock

import pytest

from payments import services
from payments.models import PaymentAttempt, PaymentRoute, SimulatedCharge
from tests.conftest import ON_POSTGRES
from tests.factories import OrderFactory, PaymentMethodFactory
from tests.payments.test_concurrency import race

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not ON_POSTGRES,
        reason="needs PostgreSQL row locks across connections: set DATABASE_URL=postgres://...",
    ),
]

N = 30


def card_with_two_routes(*, primary_refuses: bool) -> None:
    card = PaymentMethodFactory(code="card")
    PaymentRoute.objects.create(
        method=card, provider="simulator", priority=10, simulate_refused=primary_refuses
    )
    PaymentRoute.objects.create(method=card, provider="simulator_b", priority=20)


def charges() -> list[tuple[str, str]]:
    return sorted(SimulatedCharge.objects.values_list("provider", "status"))


@pytest.mark.django_db(transaction=True)
def test_presses_with_the_primary_refusing_charge_once_on_the_second_route():
    card_with_two_routes(primary_refuses=True)
    order = OrderFactory()
    told: Counter[str] = Counter()
    outcomes = race(
        [(order.pk, "card", f"key-{i}", "pm_card_visa") for i in range(N)],
        hold_provider=True,
        attempts=told,
    )
    assert outcomes == {"succeeded": 1, "payment_in_progress": N - 1}
    winner = PaymentAttempt.objects.get(order=order)
    assert told == {str(winner.public_id): N}
    assert (winner.status, winner.provider, winner.route_try) == ("succeeded", "simulator_b", 2)
    assert charges() == [("simulator_b", "succeeded")]


@pytest.mark.django_db(transaction=True)
def test_same_key_presses_with_the_primary_refusing_charge_once():
    card_with_two_routes(primary_refuses=True)
    order = OrderFactory()
    told: Counter[str] = Counter()
    outcomes = race(
        [(order.pk, "card", "same-key", "pm_card_visa")] * N, hold_provider=True, attempts=told
    )
    assert outcomes == {"succeeded": 1, "sent": N - 1}
    attempt = PaymentAttempt.objects.get(order=order)
    assert told == {str(attempt.public_id): N}
    assert charges() == [("simulator_b", "succeeded")]


@pytest.mark.django_db(transaction=True)
def test_presses_with_the_primary_timing_out_stay_on_the_primary_and_reconcile_there():
    card_with_two_routes(primary_refuses=False)
    order = OrderFactory()
    told: Counter[str] = Counter()
    # The provider never tells us (its webhook would settle it first): reconciliation must.
    with mock.patch("payments.gateways.simulator._schedule_settle"):
        outcomes = race(
            [(order.pk, "card", f"key-{i}", "pm_sim_timeout_then_succeeded") for i in range(N)],
            hold_provider=True,
            attempts=told,
        )
    # The winner is "confirming"; every other press is told about it, never sent anywhere.
    assert outcomes == {"unknown": 1, "payment_in_progress": N - 1}
    attempt = PaymentAttempt.objects.get(order=order)
    assert told == {str(attempt.public_id): N}
    assert (attempt.status, attempt.provider) == ("unknown", "simulator")
    attempt = services.attempt_reconcile(attempt=attempt)
    assert (attempt.status, attempt.provider) == ("succeeded", "simulator")
    assert charges() == [("simulator", "succeeded")]  # nothing ever reached simulator_b

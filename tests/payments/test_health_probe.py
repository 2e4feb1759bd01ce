"""A circuit's probe can never wedge it: a probe that never reaches the provider (refused by the
risk rules, failed before sending, stuck) is let go, so the next attempt probes instead."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from payments import services
from payments.models import MethodHealth, MethodHealthEvent, PaymentAttempt
from payments.selectors import method_availability
from payments.services.health import health_claim_probe
from tests.conftest import ON_POSTGRES
from tests.factories import OrderFactory, PaymentMethodFactory

H = MethodHealth.State


@pytest.fixture(autouse=True)
def thresholds(settings):
    settings.PAYMENTS_HEALTH_MIN_VOLUME = 5
    settings.PAYMENTS_HEALTH_DEGRADED_PERCENT = 20
    settings.PAYMENTS_HEALTH_OPEN_PERCENT = 50
    settings.PAYMENTS_HEALTH_COOLDOWN_SECONDS = 60
    settings.PAYMENTS_HEALTH_PROBE_TIMEOUT_SECONDS = 120
    settings.RISK_NEW_ACCOUNT_REFUSE_AMOUNT = 10**9  # no risk refusal unless a test asks


def pay(method, token, n=[0]):  # noqa: B006 - a counter for unique keys
    n[0] += 1
    return services.attempt_pay(
        order=OrderFactory(), method=method, idempotency_key=f"probe-{n[0]}", payment_method=token
    )


def open_circuit(method):
    for _ in range(5):
        pay(method, "pm_sim_outage")
    assert MethodHealth.objects.get(method=method).state == H.OPEN


def health(method) -> MethodHealth:
    return MethodHealth.objects.get(method=method)


def claimant(method, key: str) -> PaymentAttempt:
    """An attempt row as attempt_create makes it, before it asks to be the probe."""
    return PaymentAttempt.objects.create(
        order=OrderFactory(),
        method=method,
        amount=100,
        currency="USD",
        idempotency_key=key,
        request_fingerprint="x",
        provider=method.provider,
    )


def available(method) -> bool:
    fresh = type(method).objects.select_related("health").get(pk=method.pk)
    return method_availability(method=fresh, amount=100, currency="USD").available


@pytest.mark.django_db
def test_a_probe_refused_by_the_risk_rules_does_not_wedge_the_circuit(shop, settings):
    card = shop["methods"]["card"]
    open_circuit(card)
    later = timezone.now() + timedelta(seconds=61)
    with time_machine.travel(later, tick=False):
        settings.RISK_NEW_ACCOUNT_REFUSE_AMOUNT = 1  # this guest's attempt is refused
        refused = pay(card, "pm_card_visa")
        assert (refused.status, refused.failure_code) == ("failed", "risk_refused")
        assert health(card).probe_attempt_id == refused.pk  # it was the probe, never sent
        settings.RISK_NEW_ACCOUNT_REFUSE_AMOUNT = 10**9

        # Well inside the probe timeout: the refused probe is let go at once.
        assert available(card)
        probe = pay(card, "pm_card_visa")
        assert probe.status == "succeeded"
    assert health(card).state == H.HEALTHY
    assert health(card).probe_attempt_id is None
    assert list(
        MethodHealthEvent.objects.order_by("created_at", "id").values_list(
            "from_state", "to_state", "reason"
        )
    ) == [
        ("healthy", "open", "5 of 5 attempts failed technically"),
        ("open", "healthy", "probe succeeded"),
    ]


@pytest.mark.django_db
def test_a_probe_stuck_sent_is_released_after_the_probe_timeout(shop):
    card = shop["methods"]["card"]
    open_circuit(card)
    start = timezone.now() + timedelta(seconds=61)
    with time_machine.travel(start, tick=False):
        stuck = claimant(card, "stuck")
        assert health_claim_probe(method=card, attempt=stuck)
        # The worker died between sending and hearing back: `sent` for ever, never counted.
        services.attempt_transition(attempt=stuck, to="sent", actor="system")
    with time_machine.travel(start + timedelta(seconds=119), tick=False):
        assert not available(card)  # the probe may still answer: wait for it
        with pytest.raises(services.MethodUnavailable):
            pay(card, "pm_card_visa")
    with time_machine.travel(start + timedelta(seconds=120), tick=False):
        assert available(card)
        probe = pay(card, "pm_card_visa")
        assert probe.status == "succeeded"
    assert (health(card).state, health(card).probe_attempt_id) == (H.HEALTHY, None)


@pytest.mark.django_db
def test_a_probe_that_was_sent_and_answered_is_not_released_before_it_is_counted(shop):
    """Between the provider's answer and the count, the probe is settled but still decides."""
    card = shop["methods"]["card"]
    open_circuit(card)
    with time_machine.travel(timezone.now() + timedelta(seconds=61), tick=False):
        answered = claimant(card, "answered")
        assert health_claim_probe(method=card, attempt=answered)
        services.attempt_transition(attempt=answered, to="sent", actor="system")
        services.attempt_transition(attempt=answered, to="failed", actor="provider:simulator")
        assert not available(card)
        other = OrderFactory()
        with pytest.raises(services.MethodUnavailable):
            services.attempt_pay(
                order=other, method=card, idempotency_key="second", payment_method="pm_card_visa"
            )


needs_postgres = pytest.mark.skipif(
    not ON_POSTGRES, reason="needs PostgreSQL row locks across connections"
)


@pytest.mark.postgres
@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_of_concurrent_claimants_exactly_one_becomes_the_probe():
    card = PaymentMethodFactory(code="card")
    MethodHealth.objects.create(
        method=card, state=H.OPEN, changed_at=timezone.now() - timedelta(minutes=5)
    )
    claimants = [claimant(card, f"claim-{i}") for i in range(8)]
    barrier = threading.Barrier(len(claimants), timeout=60)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def claim(attempt: PaymentAttempt) -> None:
        try:
            barrier.wait()
            outcome = "probe" if health_claim_probe(method=card, attempt=attempt) else "refused"
        except Exception as exc:  # noqa: BLE001 - any error is what this test hunts for
            outcome = f"error:{type(exc).__name__}"
        finally:
            connection.close()
        with lock:
            outcomes[outcome] += 1

    threads = [threading.Thread(target=claim, args=(a,)) for a in claimants]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert outcomes == Counter({"probe": 1, "refused": 7})
    assert MethodHealth.objects.get(method=card).probe_attempt_id in {a.pk for a in claimants}

"""The payment attempt and method health transition tables, pinned move by move. The expected
tables are written out by hand: a widened table (a new way out of `failed`, a circuit that can
leave `open` without a probe) fails here, and an illegal move raises and records nothing."""

from __future__ import annotations

import pytest

from payments import services
from payments.models import (
    ALLOWED,
    HEALTH_ALLOWED,
    MethodHealth,
    MethodHealthEvent,
    PaymentAttempt,
    PaymentEvent,
)
from payments.services.health import InvalidHealthTransition, health_transition
from tests.factories import OrderFactory, PaymentMethodFactory

ATTEMPT_MOVES = {
    ("created", "sent"),
    ("created", "failed"),
    ("created", "canceled"),
    ("sent", "requires_action"),
    ("sent", "processing"),
    ("sent", "unknown"),
    ("sent", "succeeded"),
    ("sent", "failed"),
    ("requires_action", "processing"),
    ("requires_action", "unknown"),
    ("requires_action", "succeeded"),
    ("requires_action", "failed"),
    ("requires_action", "canceled"),
    ("processing", "succeeded"),
    ("processing", "failed"),
    ("processing", "canceled"),
    ("unknown", "requires_action"),
    ("unknown", "processing"),
    ("unknown", "succeeded"),
    ("unknown", "failed"),
    ("unknown", "canceled"),
    ("succeeded", "partially_refunded"),
    ("succeeded", "refunded"),
    ("partially_refunded", "partially_refunded"),
    ("partially_refunded", "refunded"),
}
ATTEMPT_STATES = {
    "created",
    "sent",
    "requires_action",
    "processing",
    "unknown",
    "succeeded",
    "failed",
    "canceled",
    "refunded",
    "partially_refunded",
}

HEALTH_MOVES = {
    ("healthy", "degraded"),
    ("healthy", "open"),
    ("degraded", "healthy"),
    ("degraded", "open"),
    ("open", "healthy"),
    ("open", "open"),  # the probe failed: the cool-down starts again
}


def moves(table: dict[str, frozenset[str]]) -> set[tuple[str, str]]:
    return {(str(a), str(b)) for a, targets in table.items() for b in targets}


def test_the_attempt_table_is_exactly_the_agreed_moves():
    assert set(map(str, ALLOWED)) == ATTEMPT_STATES
    assert moves(ALLOWED) == ATTEMPT_MOVES


def test_the_method_health_table_is_exactly_the_agreed_moves():
    assert set(map(str, HEALTH_ALLOWED)) == {"healthy", "degraded", "open"}
    assert moves(HEALTH_ALLOWED) == HEALTH_MOVES


@pytest.mark.django_db
def test_an_illegal_attempt_move_raises_and_records_nothing():
    attempt = PaymentAttempt.objects.create(
        order=OrderFactory(),
        method=PaymentMethodFactory(code="card"),
        amount=100,
        currency="USD",
        idempotency_key="illegal",
        request_fingerprint="x",
        provider="simulator",
        status="failed",
    )
    with pytest.raises(services.InvalidTransition):
        services.attempt_transition(attempt=attempt, to="sent", actor="test")
    attempt.refresh_from_db()
    assert attempt.status == "failed"
    assert not PaymentEvent.objects.filter(attempt=attempt).exists()


@pytest.mark.django_db
def test_an_illegal_health_move_raises_and_records_nothing(django_capture_on_commit_callbacks):
    health = MethodHealth.objects.create(method=PaymentMethodFactory(code="card"), state="open")
    with django_capture_on_commit_callbacks() as alerts:
        with pytest.raises(InvalidHealthTransition):
            # Leaving `open` other than through the probe would skip the probe.
            health_transition(health, to="degraded", technical=0, total=0, reason="test")
    health.refresh_from_db()
    assert health.state == "open"
    assert not MethodHealthEvent.objects.exists()
    assert alerts == []


@pytest.mark.django_db
def test_a_health_move_writes_its_event_and_alerts_once_after_commit(
    django_capture_on_commit_callbacks, settings
):
    from django.core import mail

    settings.ADMINS = [("Ops", "ops@example.com")]
    health = MethodHealth.objects.create(method=PaymentMethodFactory(code="card"))
    with django_capture_on_commit_callbacks(execute=True):
        health_transition(health, to="open", technical=5, total=5, reason="burst")
        health_transition(health, to="open", technical=1, total=1, reason="probe failed")
    assert list(
        MethodHealthEvent.objects.order_by("id").values_list("from_state", "to_state", "reason")
    ) == [("healthy", "open", "burst"), ("open", "open", "probe failed")]
    # A failed probe is recorded, not alerted: one email per outage, not one per cool-down.
    assert [m.subject for m in mail.outbox] == ["Payment method card: healthy -> open"]


def test_the_timeline_has_only_the_kinds_the_services_write():
    """Each kind is written somewhere (attempts, refunds, reconciliation); a kind nobody writes
    ("sent": the status move says it) is a filter and a label support would wait on in vain."""
    assert PaymentEvent.Kind.values == [
        "created",
        "status_changed",
        "provider_response",
        "provider_error",
        "ignored",
        "reconciled",
        "order_paid",
        "refund",
        "risk",
        "refund_needed",
        "wallet",  # the wallet part of a split payment given back or taken again (split.py)
        "route",
    ]

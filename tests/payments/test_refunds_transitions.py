"""A refund's status moves along one declared table, through one helper that writes the event;
a refused top-up refund gives the customer's wallet credit back in the same transaction."""

from __future__ import annotations

import pytest
from django.db.models import Sum

from checkout.services import wallet_top_up_order_create
from payments import services
from payments.gateways import RefundResult
from payments.models import REFUND_ALLOWED, REFUND_LATE_SUCCESS, PaymentEvent, Refund, Wallet
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db


def test_the_refund_transition_table():
    assert {k: set(v) for k, v in REFUND_ALLOWED.items()} == {
        "pending": {"succeeded", "failed"},
        "succeeded": set(),
        "failed": set(),
    }
    assert REFUND_LATE_SUCCESS == ("failed", "succeeded")


@pytest.fixture
def pending(shop):
    attempt = services.attempt_pay(
        order=OrderFactory(total=2400),
        method=shop["methods"]["card"],
        idempotency_key="pay",
        payment_method="pm_card_visa",
    )
    refund, _created = services.refund_request(
        attempt=attempt, amount=500, destination="original", reason="x", actor="staff:carol"
    )
    return refund


@pytest.mark.parametrize(
    ("start", "failure_reason", "to"),
    [
        ("pending", "", "pending"),
        ("succeeded", "", "failed"),
        ("succeeded", "", "pending"),
        ("failed", "", "pending"),
        ("failed", "expired_or_canceled_card", "succeeded"),  # a real refusal stays refused
    ],
)
def test_illegal_refund_moves_raise(pending, start, failure_reason, to):
    Refund.objects.filter(pk=pending.pk).update(status=start, failure_reason=failure_reason)
    pending.refresh_from_db()
    with pytest.raises(services.InvalidTransition):
        services.refund_transition(refund=pending, to=to, actor="test")
    pending.refresh_from_db()
    assert pending.status == start
    assert not PaymentEvent.objects.filter(kind="refund", from_status=start).exists()


def test_a_move_saves_and_writes_the_event(pending):
    services.refund_transition(refund=pending, to="succeeded", actor="test", message="done")
    pending.refresh_from_db()
    assert pending.status == "succeeded" and pending.settled_at is not None
    event = PaymentEvent.objects.filter(kind="refund").last()
    assert (event.from_status, event.to_status, event.actor, event.message) == (
        "pending",
        "succeeded",
        "test",
        "done",
    )
    assert event.payload["refund"] == str(pending.public_id)


def test_the_late_move_is_allowed_only_after_no_answer(pending):
    Refund.objects.filter(pk=pending.pk).update(status="failed", failure_reason="no_answer")
    pending.refresh_from_db()
    services.refund_transition(refund=pending, to="succeeded", actor="test")
    pending.refresh_from_db()
    assert pending.status == "succeeded"


def test_a_refused_top_up_refund_gives_the_wallet_credit_back(shop, alice):
    order = wallet_top_up_order_create(user=alice, amount=5000, currency="USD", language="en")
    top_up = services.attempt_pay(
        order=order,
        method=shop["methods"]["card"],
        idempotency_key="t",
        payment_method="pm_sim_refund_fails",
    )
    before = Wallet.objects.get(user=alice).balance
    assert before == 5000
    refused = services.refund_create(
        attempt=top_up,
        amount=2000,
        destination="original",
        reason="asked",
        actor="staff:carol@example.com",
        idempotency_key="top-up-refund",
    )
    assert (refused.status, refused.failure_reason) == ("failed", "expired_or_canceled_card")
    wallet = Wallet.objects.get(user=alice)
    assert wallet.balance == before
    assert wallet.entries.aggregate(s=Sum("amount"))["s"] == wallet.balance
    # The same answer again (a redelivered event, a replayed task) credits nothing more.
    services.refund_settle(refund=refused, result=RefundResult(False, "x", failure_reason="y"))
    wallet.refresh_from_db()
    assert wallet.balance == before and wallet.entries.count() == 3
    top_up.refresh_from_db()
    assert top_up.refunded_amount == 0

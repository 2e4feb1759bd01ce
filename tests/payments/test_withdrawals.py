"""Cashing out the wallet: where the money goes, what is held, what comes back when a part
fails, and that the ledger stays the sum of its entries."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.db.models import Sum
from django.utils import timezone

from checkout.services import wallet_top_up_order_create
from outbox.models import Message
from payments import services
from payments.gateways import RefundResult
from payments.models import (
    AttemptStatus,
    Refund,
    SimulatedRefund,
    Wallet,
    WalletEntry,
    Withdrawal,
)
from payments.selectors import withdrawal_plan
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db
S = AttemptStatus
DAY = timedelta(days=1)


def top_up(user, amount, shop, *, days_ago=0, token="pm_card_visa", method="card"):
    with time_machine.travel(timezone.now() - days_ago * DAY, tick=False):
        order = wallet_top_up_order_create(user=user, amount=amount, currency="USD", language="en")
        attempt = services.attempt_pay(
            order=order,
            method=shop["methods"][method],
            idempotency_key=f"top-up-{order.pk}",
            payment_method=token,
        )
        if method != "card":  # the customer approves on the simulator's Alipay page
            services.simulator_action_complete(
                reference=attempt.provider_reference, decision="approve"
            )
            attempt.refresh_from_db()
        return attempt


def withdraw(user, amount, key="w-1", run=None):
    call = run or (lambda fn, **kw: fn(**kw))
    withdrawal, _created = call(
        services.withdrawal_request, user=user, currency="USD", amount=amount, idempotency_key=key
    )
    return withdrawal


def balance(user):
    return Wallet.objects.get(user=user, currency="USD").balance


def ledger_holds(user):
    wallet = Wallet.objects.get(user=user, currency="USD")
    assert wallet.entries.aggregate(t=Sum("amount"))["t"] == wallet.balance
    assert wallet.balance >= 0


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """Runs a service and then what it queued in the outbox, as a worker would."""

    def call(fn, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(**kwargs)

    return call


def test_plan_takes_the_oldest_top_up_first_and_splits_over_the_next(shop, alice):
    older = top_up(alice, 3000, shop, days_ago=10)
    newer = top_up(alice, 2000, shop, days_ago=5)
    plan = withdrawal_plan(user=alice, currency="USD", amount=4200)
    assert [(p.source.attempt, p.amount) for p in plan.parts] == [(older, 3000), (newer, 1200)]
    assert (plan.balance, plan.withdrawable, plan.covered, plan.excluded) == (5000, 5000, True, [])
    assert [p.arrival for p in plan.parts] == ["usually 5–10 business days"] * 2


def test_plan_says_what_cannot_be_withdrawn_and_why(shop, alice):
    top_up(alice, 2000, shop, days_ago=200)  # simulator refunds: 180 days
    top_up(alice, 1000, shop, token="pm_sim_processing")  # still confirming
    fresh = top_up(alice, 1500, shop, method="alipay", days_ago=1)
    services.wallet_move(
        user=alice, currency="USD", amount=500, kind="adjustment", actor="staff", reference="gift"
    )
    plan = withdrawal_plan(user=alice, currency="USD", amount=9999)
    assert [(e.reason, e.amount) for e in plan.excluded] == [
        ("past_refund_window", 2000),
        ("confirming", 1000),
        ("no_source", 500),
    ]
    assert (plan.balance, plan.withdrawable, plan.covered) == (4000, 1500, False)
    assert [(p.source.attempt, p.amount, p.arrival) for p in plan.parts] == [
        (fresh, 1500, "usually within minutes")
    ]


def test_spent_money_is_not_withdrawable(shop, alice):
    top_up(alice, 3000, shop, days_ago=2)
    services.attempt_pay(
        order=OrderFactory(user=alice, total=2500),
        method=shop["methods"]["wallet"],
        idempotency_key="spend",
        user=alice,
    )
    plan = withdrawal_plan(user=alice, currency="USD", amount=3000)
    assert (plan.balance, plan.withdrawable, plan.covered) == (500, 500, False)
    with pytest.raises(services.WithdrawalNotAllowed):
        withdraw(alice, 501)


def test_withdrawal_holds_then_refunds_each_top_up_under_its_own_key(shop, alice, run):
    older = top_up(alice, 3000, shop, days_ago=10)
    newer = top_up(alice, 2000, shop, days_ago=5)
    withdrawal = withdraw(alice, 4200, run=run)
    withdrawal.refresh_from_db()
    assert withdrawal.status == Withdrawal.Status.COMPLETED
    parts = list(withdrawal.parts.order_by("idempotency_key"))
    assert [(r.attempt, r.amount, r.status) for r in parts] == [
        (older, 3000, "succeeded"),
        (newer, 1200, "succeeded"),
    ]
    sent = SimulatedRefund.objects.order_by("amount")
    assert [(r.amount, r.idempotency_key) for r in sent] == [
        (1200, f"refund-{parts[1].public_id}"),
        (3000, f"refund-{parts[0].public_id}"),
    ]
    assert balance(alice) == 800
    entries = Wallet.objects.get(user=alice).entries.filter(kind="withdrawal")
    assert sorted((e.amount, e.reference) for e in entries) == sorted(
        [(-3000, f"withdrawal-{parts[0].public_id}"), (-1200, f"withdrawal-{parts[1].public_id}")]
    )
    older.refresh_from_db()
    newer.refresh_from_db()
    assert (older.status, older.refunded_amount) == (S.REFUNDED, 3000)
    assert (newer.status, newer.refunded_amount) == (S.PARTIALLY_REFUNDED, 1200)
    ledger_holds(alice)


def test_the_hold_makes_the_balance_unspendable_at_once(shop, alice):
    top_up(alice, 3000, shop, days_ago=1)
    withdrawal = withdraw(alice, 2000)  # requested, not sent yet
    assert withdrawal.status == Withdrawal.Status.REQUESTED
    assert balance(alice) == 1000
    with pytest.raises(services.PaymentError) as raised:
        services.attempt_pay(
            order=OrderFactory(user=alice, total=1500),
            method=shop["methods"]["wallet"],
            idempotency_key="spend",
            user=alice,
        )
    assert (raised.value.code, getattr(raised.value, "reason", "")) == (
        "method_unavailable",
        "wallet_insufficient",
    )
    assert balance(alice) == 1000
    ledger_holds(alice)


def test_a_failed_part_returns_exactly_its_amount_once_and_emails_once(shop, alice, run):
    good = top_up(alice, 3000, shop, days_ago=10)
    bad = top_up(alice, 2000, shop, days_ago=5, token="pm_sim_refund_fails")
    withdrawal = withdraw(alice, 4200, run=run)
    withdrawal.refresh_from_db()
    assert withdrawal.status == Withdrawal.Status.PARTLY_FAILED
    failed = withdrawal.parts.get(attempt=bad)
    assert (failed.status, failed.failure_reason) == ("failed", "expired_or_canceled_card")
    assert withdrawal.parts.get(attempt=good).status == "succeeded"
    assert balance(alice) == 800 + 1200
    # The failure told again (a replayed webhook, a retried task): nothing moves twice.
    run(services.refund_settle, refund=failed, result=RefundResult(False, "x", "card_expired"))
    run(services.refund_give_up, refund=failed)
    assert balance(alice) == 2000
    returns = WalletEntry.objects.filter(kind="withdrawal_return")
    assert [(e.amount, e.reference) for e in returns] == [
        (1200, f"withdrawal-return-{failed.public_id}")
    ]
    bad.refresh_from_db()
    assert (bad.status, bad.refunded_amount) == (S.SUCCEEDED, 0)
    failure_mails = [m for m in mail.outbox if "could not send your refund" in m.body]
    assert len(failure_mails) == 1
    assert "The money stays in your wallet" in failure_mails[0].body
    run(tasks_notify, refund_id=failed.pk)
    assert len([m for m in mail.outbox if "could not send your refund" in m.body]) == 1
    ledger_holds(alice)


def tasks_notify(*, refund_id):
    from payments.tasks import notify_refund_customer

    return notify_refund_customer(refund_id)


def test_every_part_failing_returns_everything(shop, alice, run):
    top_up(alice, 2000, shop, days_ago=5, token="pm_sim_refund_fails")
    withdrawal = withdraw(alice, 2000, run=run)
    withdrawal.refresh_from_db()
    assert withdrawal.status == Withdrawal.Status.FAILED
    assert balance(alice) == 2000
    assert list(withdrawal.events.values_list("from_status", "to_status")) == [
        ("requested", "sending"),
        ("sending", "failed"),
    ]
    ledger_holds(alice)


def test_a_part_without_an_answer_stays_held_until_given_up(shop, alice, run):
    top_up(alice, 2000, shop, days_ago=5, token="pm_sim_refund_no_answer")
    withdrawal = withdraw(alice, 2000, run=run)
    withdrawal.refresh_from_db()
    assert withdrawal.status == Withdrawal.Status.SENDING
    assert balance(alice) == 0
    part = withdrawal.parts.get()
    run(services.refund_give_up, refund=part)
    withdrawal.refresh_from_db()
    assert (withdrawal.status, balance(alice)) == (Withdrawal.Status.FAILED, 2000)
    ledger_holds(alice)


def test_replaying_the_key_makes_one_withdrawal(shop, alice, run):
    top_up(alice, 3000, shop, days_ago=1)
    first = withdraw(alice, 1000, key="same", run=run)
    again, created = services.withdrawal_request(
        user=alice, currency="USD", amount=1000, idempotency_key="same"
    )
    assert (again, created) == (first, False)
    assert (
        Withdrawal.objects.count(),
        Refund.objects.count(),
        SimulatedRefund.objects.count(),
    ) == (
        1,
        1,
        1,
    )
    assert balance(alice) == 2000
    assert Message.objects.filter(kind="payments.withdrawal_send").count() == 1
    with pytest.raises(services.WithdrawalKeyConflict):
        withdraw(alice, 500, key="same")


@pytest.mark.parametrize("amount", [0, -100])
def test_nothing_or_less_cannot_be_withdrawn(shop, alice, amount):
    top_up(alice, 3000, shop, days_ago=1)
    with pytest.raises(services.WithdrawalNotAllowed):
        withdraw(alice, amount)
    assert (Withdrawal.objects.count(), balance(alice)) == (0, 3000)


def test_a_purchase_refunded_to_the_wallet_goes_back_to_its_card(shop, alice, run):
    purchase = services.attempt_pay(
        order=OrderFactory(user=alice, total=5000),
        method=shop["methods"]["card"],
        idempotency_key="buy",
        payment_method="pm_card_visa",
    )
    services.refund_create(
        attempt=purchase, amount=2000, destination="wallet", reason="late", actor="staff"
    )
    purchase.refresh_from_db()
    assert (purchase.status, purchase.refunded_amount) == (S.PARTIALLY_REFUNDED, 2000)
    plan = withdrawal_plan(user=alice, currency="USD", amount=2000)
    assert [(p.source.attempt, p.amount, p.source.kind) for p in plan.parts] == [
        (purchase, 2000, "wallet_refund")
    ]
    withdrawal = withdraw(alice, 2000, run=run)
    withdrawal.refresh_from_db()
    assert withdrawal.status == Withdrawal.Status.COMPLETED
    assert list(SimulatedRefund.objects.values_list("amount", flat=True)) == [2000]
    purchase.refresh_from_db()
    # The same 2000 was refunded once: to the wallet, then on to the card.
    assert (purchase.status, purchase.refunded_amount) == (S.PARTIALLY_REFUNDED, 2000)
    assert balance(alice) == 0
    # Nothing more of it can be withdrawn.
    assert withdrawal_plan(user=alice, currency="USD", amount=1).withdrawable == 0
    ledger_holds(alice)


WITHDRAWAL_MOVES = {
    ("requested", "sending"),
    ("requested", "completed"),
    ("requested", "partly_failed"),
    ("requested", "failed"),
    ("sending", "completed"),
    ("sending", "partly_failed"),
    ("sending", "failed"),
    # Only for a part given up (no answer) that the provider then says went through.
    ("partly_failed", "completed"),
    ("failed", "partly_failed"),
    ("failed", "completed"),
}


def test_the_withdrawal_table_move_by_move(alice):
    from payments.models import WITHDRAWAL_ALLOWED, WithdrawalEvent

    table = {(a, b) for a, targets in WITHDRAWAL_ALLOWED.items() for b in targets}
    assert table == WITHDRAWAL_MOVES
    withdrawal = Withdrawal.objects.create(
        user=alice, currency="USD", amount=100, idempotency_key="k", status="completed"
    )
    with pytest.raises(services.InvalidTransition):
        services.withdrawal_transition(withdrawal=withdrawal, to="sending", actor="test")
    withdrawal.refresh_from_db()
    assert (withdrawal.status, WithdrawalEvent.objects.count()) == ("completed", 0)


@pytest.mark.parametrize(
    ("parts", "status"),
    [
        (["pending", "succeeded"], None),
        (["succeeded", "succeeded"], "completed"),
        (["failed", "failed"], "failed"),
        (["succeeded", "failed"], "partly_failed"),
        ([], None),
    ],
)
def test_a_withdrawal_says_what_its_parts_came_to(parts, status):
    from payments.services.withdrawal_parts import status_from_parts

    assert status_from_parts(parts) == status


def test_sending_again_sends_nothing_twice(shop, alice, run):
    top_up(alice, 3000, shop, days_ago=1)
    withdrawal = withdraw(alice, 1000, run=run)
    # The outbox handed it over twice (a redelivered message, the sweep racing the worker).
    for _ in range(2):
        services.withdrawal_send(withdrawal_id=withdrawal.pk)
    assert SimulatedRefund.objects.count() == 1
    assert (balance(alice), Withdrawal.objects.get().status) == (2000, "completed")
    assert WalletEntry.objects.filter(kind="withdrawal").count() == 1


def test_a_part_given_up_then_confirmed_late_is_held_again(shop, alice, run):
    top_up(alice, 2000, shop, days_ago=5, token="pm_sim_refund_no_answer")
    withdrawal = withdraw(alice, 2000, run=run)
    part = withdrawal.parts.get()
    run(services.refund_give_up, refund=part)
    assert balance(alice) == 2000
    # The provider did send it after all: the money left, so the wallet gives it up again.
    run(services.refund_settle, refund=part, result=RefundResult(True, "re_late"))
    withdrawal.refresh_from_db()
    assert (withdrawal.status, balance(alice)) == ("completed", 0)
    assert sorted(WalletEntry.objects.values_list("kind", "amount")) == [
        ("top_up", 2000),
        ("withdrawal", -2000),
        ("withdrawal", -2000),
        ("withdrawal_return", 2000),
    ]
    ledger_holds(alice)


def test_a_rerouted_part_confirmed_late_is_held_again_too(shop, alice, run):
    purchase = services.attempt_pay(
        order=OrderFactory(user=alice, total=3000),
        method=shop["methods"]["card"],
        idempotency_key="buy",
        payment_method="pm_sim_refund_no_answer",
    )
    services.refund_create(
        attempt=purchase, amount=3000, destination="wallet", reason="late", actor="staff"
    )
    withdrawal = withdraw(alice, 3000, run=run)
    part = withdrawal.parts.get()
    run(services.refund_give_up, refund=part)
    assert balance(alice) == 3000
    run(services.refund_settle, refund=part, result=RefundResult(True, "re_late"))
    withdrawal.refresh_from_db()
    purchase.refresh_from_db()
    assert (withdrawal.status, balance(alice)) == ("completed", 0)
    assert (purchase.status, purchase.refunded_amount) == (S.REFUNDED, 3000)
    ledger_holds(alice)

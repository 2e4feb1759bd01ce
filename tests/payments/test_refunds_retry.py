"""A refund the provider did not answer is sent again with its own key, with a growing delay,
and given up loudly after the limit; a given-up refund the provider later confirms is recorded."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings as django_settings
from django.contrib.auth.models import Permission
from django.core import mail
from django.db.models import Sum
from django.utils import timezone

from checkout.models import Order
from checkout.services import wallet_top_up_order_create
from payments import services, tasks
from payments.gateways import RefundResult
from payments.models import AttemptStatus, PaymentEvent, Refund, SimulatedRefund, Wallet
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db
S = AttemptStatus


@pytest.fixture(autouse=True)
def timing(settings):
    settings.PAYMENTS_REFUND_RETRY_SECONDS = 300
    settings.PAYMENTS_REFUND_GIVE_UP_HOURS = 24
    settings.ADMINS = [("Ops", "ops@example.com")]


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """Run a call and what it queued after commit (the emails), like a worker would."""

    def call(fn, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return call


def pay(shop, token, *, order=None):
    return services.attempt_pay(
        order=order or OrderFactory(email="alice@example.com", total=2400),
        method=shop["methods"]["card"],
        idempotency_key=f"pay-{token}",
        payment_method=token,
    )


def refund(attempt, amount=1000):
    return services.refund_create(
        attempt=attempt,
        amount=amount,
        destination="original",
        reason="asked",
        actor="staff:carol@example.com",
        idempotency_key=f"staff-{attempt.pk}-{amount}",
    )


def later(seconds):
    return time_machine.travel(timezone.now() + timedelta(seconds=seconds), tick=False)


def test_a_timed_out_refund_is_sent_again_with_the_same_key_and_settles(shop, run):
    attempt = pay(shop, "pm_sim_refund_timeout")
    pending = run(refund, attempt)
    assert pending.status == Refund.Status.PENDING
    assert run(tasks.retry_refunds) == 0  # not due yet
    with later(301):
        assert run(tasks.retry_refunds) == 1
    pending.refresh_from_db()
    assert pending.status == Refund.Status.SUCCEEDED and pending.sends == 2
    # The provider saw one key, so made one refund, however often we asked.
    assert list(SimulatedRefund.objects.values_list("idempotency_key", flat=True)) == [
        f"refund-{pending.public_id}"
    ]
    attempt.refresh_from_db()
    assert (attempt.status, attempt.refunded_amount) == (S.PARTIALLY_REFUNDED, 1000)
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]


def test_retries_back_off(shop, run):
    attempt = pay(shop, "pm_sim_refund_no_answer")
    pending = run(refund, attempt)
    start = pending.created_at
    assert pending.next_send_at == start + timedelta(seconds=300)
    waits = []
    at = 300
    for _ in range(6):
        with later(at + 1):
            run(tasks.retry_refunds)
        pending.refresh_from_db()
        waits.append(round((pending.next_send_at - start).total_seconds() - (at + 1)))
        at = round((pending.next_send_at - start).total_seconds())
    assert waits == [600, 1200, 2400, 3600, 3600, 3600]
    assert pending.status == Refund.Status.PENDING and pending.sends == 7
    assert not mail.outbox


def test_a_refund_without_an_answer_is_given_up_once_and_staff_are_told(shop, run, bob, carol):
    bob.user_permissions.add(Permission.objects.get(codename="add_refund"))
    attempt = pay(shop, "pm_sim_refund_no_answer")
    pending = run(refund, attempt)
    attempt.refresh_from_db()
    assert attempt.refunded_amount == 1000  # reserved while we wait
    with later(24 * 3600 + 1):
        assert run(tasks.retry_refunds) == 1
        assert run(tasks.retry_refunds) == 0
        run(tasks.alert_refund_staff, pending.pk, "given_up")  # a redelivered task
    pending.refresh_from_db()
    assert (pending.status, pending.failure_reason) == (Refund.Status.FAILED, "no_answer")
    attempt.refresh_from_db()
    assert (attempt.status, attempt.refunded_amount) == (S.SUCCEEDED, 0)
    staff = [m for m in mail.outbox if "Refund not confirmed" in m.subject]
    assert len(staff) == 1
    assert staff[0].to == ["bob@example.com", "carol@example.com", "ops@example.com"]
    assert f"refund-{pending.public_id}" in staff[0].body
    customer = [m for m in mail.outbox if m.to == ["alice@example.com"]]
    assert len(customer) == 1
    assert "could not send your refund" in customer[0].body
    events = list(
        attempt.events.filter(kind=PaymentEvent.Kind.REFUND).values_list("from_status", "to_status")
    )
    assert events == [("", "pending"), ("pending", "failed")]


def test_the_amount_given_back_can_be_refunded_another_way(shop, run, alice):
    attempt = pay(shop, "pm_sim_refund_no_answer", order=OrderFactory(user=alice, total=2400))
    pending = run(refund, attempt, 2400)
    with later(24 * 3600 + 1):
        run(tasks.retry_refunds)
    pending.refresh_from_db()
    assert pending.status == Refund.Status.FAILED
    wallet = services.refund_create(
        attempt=attempt,
        amount=2400,
        destination="wallet",
        reason="card refund got no answer",
        actor="staff:carol@example.com",
        idempotency_key="to-wallet",
    )
    assert wallet.status == Refund.Status.SUCCEEDED
    assert Wallet.objects.get(user=alice).balance == 2400


def test_the_provider_confirming_a_given_up_refund_records_it(shop, run, carol):
    attempt = pay(shop, "pm_sim_refund_no_answer")
    pending = run(refund, attempt)
    with later(24 * 3600 + 1):
        run(tasks.retry_refunds)
    mail.outbox.clear()
    late = run(
        services.refund_settle,
        refund=pending,
        result=RefundResult(True, "simre_late"),
        actor="webhook:simulator:evt_1",
    )
    assert (late.status, late.provider_reference) == (Refund.Status.SUCCEEDED, "simre_late")
    attempt.refresh_from_db()
    assert (attempt.status, attempt.refunded_amount) == (S.PARTIALLY_REFUNDED, 1000)
    assert Order.objects.get(pk=attempt.order_id).status == Order.Status.PARTIALLY_REFUNDED
    # Staff are told, and so is the customer, who was emailed that it had not gone.
    assert [m.subject for m in mail.outbox] == [
        f"Refund went through after all: order {attempt.order.number}",
        f"Your refund of $10.00 for order {attempt.order.number}",
    ]
    # Told again: nothing moves twice.
    run(services.refund_settle, refund=pending, result=RefundResult(True, "simre_late"))
    attempt.refresh_from_db()
    assert attempt.refunded_amount == 1000 and len(mail.outbox) == 2


def test_a_refund_the_provider_refused_is_never_revived(shop, run):
    attempt = pay(shop, "pm_sim_refund_fails")
    refused = run(refund, attempt)
    assert refused.failure_reason == "expired_or_canceled_card"
    again = run(services.refund_settle, refund=refused, result=RefundResult(True, "x"))
    assert again.status == Refund.Status.FAILED
    attempt.refresh_from_db()
    assert attempt.refunded_amount == 0


def test_giving_up_a_top_up_refund_gives_the_wallet_credit_back(shop, run, alice):
    order = wallet_top_up_order_create(user=alice, amount=5000, currency="USD", language="en")
    top_up = pay(shop, "pm_sim_refund_no_answer", order=order)
    wallet = Wallet.objects.get(user=alice)
    assert wallet.balance == 5000
    run(refund, top_up, 2000)
    wallet.refresh_from_db()
    assert wallet.balance == 3000  # taken out while the refund is on its way
    with later(24 * 3600 + 1):
        run(tasks.retry_refunds)
        run(tasks.retry_refunds)
    wallet.refresh_from_db()
    assert wallet.balance == 5000
    assert wallet.entries.aggregate(s=Sum("amount"))["s"] == 5000


def test_the_beat_runs_the_sweep():
    entry = django_settings.CELERY_BEAT_SCHEDULE["retry-refunds"]
    assert entry == {"task": "payments.tasks.retry_refunds", "schedule": 60.0}

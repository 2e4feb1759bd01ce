"""Where is my money: the customer's step for each refund, the promised arrival date, the
emails at "sent" and at "failed" (once each), and the agents' alert when the date passes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from outbox.models import Message
from payments import services, tasks
from payments.arrival import (
    ARRIVAL,
    ARRIVAL_DAYS,
    Step,
    add_business_days,
    customer_step,
    expected_by,
)
from payments.gateways import RefundResult
from payments.models import PaymentMethod, Refund
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 6, 10, 0, tzinfo=UTC)  # a Friday
SENT = datetime(2026, 3, 6, 9, 0, tzinfo=UTC)


# --- The step, as a literal table -------------------------------------------------------------

STEP_TABLE = [
    # status, provider reference, provider's word, sent_at -> step
    ("pending", "", "", None, Step.REQUESTED),
    ("pending", "re_1", "", None, Step.REQUESTED),  # a reference we have not marked sent yet
    ("pending", "", "", SENT, Step.REQUESTED),
    ("pending", "re_1", "", SENT, Step.SENT),
    ("pending", "re_1", "pending", SENT, Step.ON_ITS_WAY),
    ("pending", "re_1", "processing", SENT, Step.ON_ITS_WAY),
    ("pending", "re_1", "requires_action", SENT, Step.ON_ITS_WAY),
    ("pending", "re_1", "canceled", SENT, Step.SENT),
    ("succeeded", "re_1", "", SENT, Step.ARRIVED),
    ("succeeded", "re_1", "pending", SENT, Step.ARRIVED),
    ("succeeded", "", "", None, Step.ARRIVED),
    ("failed", "", "", None, Step.FAILED),
    ("failed", "re_1", "pending", SENT, Step.FAILED),
]


@pytest.mark.parametrize(("status", "reference", "word", "sent_at", "step"), STEP_TABLE)
def test_the_customer_step_table(status, reference, word, sent_at, step):
    got = customer_step(
        status=status, provider_reference=reference, provider_status=word, sent_at=sent_at
    )
    assert got == step


ARRIVAL_TABLE = [
    # sent at, method kind, destination -> expected by
    (datetime(2026, 3, 6, 10, 0, tzinfo=UTC), "card", "original", "2026-03-20 10:00"),
    (datetime(2026, 3, 6, 10, 0, tzinfo=UTC), "alipay", "original", "2026-03-09 10:00"),
    (datetime(2026, 3, 6, 10, 0, tzinfo=UTC), "wechat_pay", "original", "2026-03-09 10:00"),
    (datetime(2026, 3, 9, 10, 0, tzinfo=UTC), "alipay", "original", "2026-03-10 10:00"),
    (datetime(2026, 3, 7, 10, 0, tzinfo=UTC), "wechat_pay", "original", "2026-03-09 10:00"),
    (datetime(2026, 3, 6, 10, 0, tzinfo=UTC), "wallet", "original", "2026-03-06 10:00"),
    (datetime(2026, 3, 6, 10, 0, tzinfo=UTC), "card", "wallet", "2026-03-06 10:00"),
    (datetime(2026, 3, 6, 10, 0, tzinfo=UTC), "new_kind", "original", "2026-03-20 10:00"),
]


@pytest.mark.parametrize(("sent_at", "kind", "destination", "by"), ARRIVAL_TABLE)
def test_the_expected_arrival_table(sent_at, kind, destination, by):
    got = expected_by(sent_at=sent_at, method_kind=kind, destination=destination)
    assert got.strftime("%Y-%m-%d %H:%M") == by


def test_business_days_skip_the_weekend():
    assert add_business_days(T0, 1).date().isoformat() == "2026-03-09"
    assert add_business_days(T0, 5).date().isoformat() == "2026-03-13"
    assert add_business_days(T0, 0) == T0


# What the withdrawal page says before confirming must never be later than the date the
# money-back pages then promise: both tables, written out.
ARRIVAL_WORDS_TABLE = {
    # kind: (shortest, longest business days, the words)
    "card": (5, 10, "usually 5–10 business days"),
    "alipay": (0, 0, "usually within minutes"),
    "wechat_pay": (0, 0, "usually within minutes"),
    "wallet": (0, 0, "at once"),
}
ARRIVAL_PROMISE_TABLE = {"card": 10, "alipay": 1, "wechat_pay": 1, "wallet": 0}


def test_the_words_before_a_withdrawal_never_promise_later_than_the_arrival_date():
    # Every kind of method is in both tables, and the two name the same kinds.
    assert set(ARRIVAL) == set(ARRIVAL_DAYS) == set(PaymentMethod.Kind.values)
    for kind, (shortest, longest, _words) in ARRIVAL.items():
        assert 0 <= shortest <= longest <= ARRIVAL_DAYS[kind], kind
    # And the tables are these (a change to either is a change to what customers are told).
    assert {k: (a, b, str(words)) for k, (a, b, words) in ARRIVAL.items()} == ARRIVAL_WORDS_TABLE
    assert ARRIVAL_DAYS == ARRIVAL_PROMISE_TABLE


# --- Emails at sent and failed, once each ----------------------------------------------------


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    def call(fn, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return call


def pay(shop, token="pm_sim_refund_no_answer", method="card", **order):
    order = OrderFactory(email="li@example.com", full_name="Li Lei", total=2400, **order)
    return services.attempt_pay(
        order=order,
        method=shop["methods"][method],
        idempotency_key=f"pay-{order.pk}",
        payment_method=token,
    )


def pending_refund(run, attempt, amount=500):
    """A refund the provider has not answered yet: requested, no reference."""
    return run(
        services.refund_create,
        attempt=attempt,
        amount=amount,
        destination="original",
        reason="asked",
        actor="staff:carol@example.com",
        idempotency_key=f"k-{attempt.pk}",
    )


def notices(refund):
    return sorted(
        Message.objects.filter(
            kind="payments.refund_customer", key__contains=f":{refund.pk}:"
        ).values_list("key", flat=True)
    )


def test_sent_and_failed_are_each_emailed_once_even_when_told_twice(shop, run):
    with time_machine.travel(T0, tick=False):
        attempt = pay(shop)
        refund = pending_refund(run, attempt)
        assert refund.status == "pending" and not mail.outbox
        accepted = RefundResult(False, "re_abc", pending=True)
        run(services.refund_settle, refund=refund, result=accepted, actor="webhook:1")
        run(services.refund_settle, refund=refund, result=accepted, actor="webhook:1-again")
        run(
            services.refund_provider_update,
            refund=refund,
            reference="re_abc",
            provider_status="processing",
        )
    refund.refresh_from_db()
    assert (refund.sent_at, refund.provider_status) == (T0, "processing")
    assert refund.expected_by == datetime(2026, 3, 20, 10, 0, tzinfo=UTC)  # card: 10 days
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["li@example.com"]
    assert sent.subject == f"Your refund of $5.00 for order {attempt.order.number}"
    assert "It should arrive by March 20, 2026." in sent.body
    assert "give them this reference: re_abc" in sent.body
    assert f"/money-back/{refund.public_id}/?key={attempt.order.client_secret}" in sent.body

    refused = RefundResult(False, "re_abc", failure_reason="expired_or_canceled_card")
    run(services.refund_settle, refund=refund, result=refused, actor="webhook:2")
    run(services.refund_settle, refund=refund, result=refused, actor="webhook:2-again")
    # A redelivered task for either notice: nothing more.
    assert run(tasks.notify_refund_customer, refund.pk, "sent") is False
    assert run(tasks.notify_refund_customer, refund.pk, "failed") is False
    assert [m.subject for m in mail.outbox] == [
        f"Your refund of $5.00 for order {attempt.order.number}",
        f"About your refund for order {attempt.order.number}",
    ]
    failed = mail.outbox[1].body
    assert "The card you paid with is expired or canceled" in failed
    assert notices(refund) == [
        f"refund_customer:{refund.pk}:failed",
        f"refund_customer:{refund.pk}:sent",
    ]


def test_a_refund_done_at_once_is_one_sent_email_in_the_customers_language(shop, run):
    with time_machine.travel(T0, tick=False):
        attempt = pay(shop, "pm_card_visa", language="zh-hans")
        refund = pending_refund(run, attempt)
    refund.refresh_from_db()
    assert refund.status == "succeeded"
    assert (refund.sent_at, refund.expected_by) == (T0, datetime(2026, 3, 20, 10, 0, tzinfo=UTC))
    assert len(mail.outbox) == 1
    assert mail.outbox[0].body.startswith("Li Lei，您好：")


def test_a_pending_refund_without_a_reference_is_not_told(shop, run):
    attempt = pay(shop)
    refund = pending_refund(run, attempt)
    run(services.refund_settle, refund=refund, result=RefundResult(False, "", pending=True))
    refund.refresh_from_db()
    assert refund.sent_at is None and not mail.outbox
    assert run(tasks.notify_refund_customer, refund.pk) is False


# --- Overdue: the page says so, agents are alerted once -------------------------------------


def test_past_the_expected_date_the_page_says_late_and_agents_are_told_once(
    shop, run, client, carol
):
    with time_machine.travel(T0, tick=False):
        attempt = pay(shop)
        refund = pending_refund(run, attempt)
        run(
            services.refund_settle,
            refund=refund,
            result=RefundResult(False, "re_slow", pending=True),
        )
    refund.refresh_from_db()
    assert refund.expected_by == datetime(2026, 3, 20, 10, 0, tzinfo=UTC)
    url = reverse("checkout:money_back", args=[refund.public_id])
    key = {"key": attempt.order.client_secret}
    mail.outbox.clear()

    with time_machine.travel(datetime(2026, 3, 20, 9, 59, tzinfo=UTC), tick=False):
        assert run(tasks.alert_overdue_refunds) == 0
        page = client.get(url, key).content.decode()
    assert "It should arrive by March 20, 2026." in page
    assert "has not confirmed it yet" not in page

    with time_machine.travel(datetime(2026, 3, 20, 10, 1, tzinfo=UTC), tick=False):
        assert run(tasks.alert_overdue_refunds) == 1
        assert run(tasks.alert_overdue_refunds) == 0
        page = client.get(url, key).content.decode()
    assert (
        "It should have arrived by March 20, 2026, and the provider has not confirmed it yet."
        in page
    )
    late = [m for m in mail.outbox if m.subject.startswith("Refund late")]
    assert [m.subject for m in late] == [f"Refund late: order {attempt.order.number}"]
    assert "carol@example.com" in late[0].to
    assert "re_slow" in late[0].body
    alerts = Message.objects.filter(kind="payments.refund_staff", key__endswith=":overdue")
    assert alerts.count() == 1


def test_a_settled_refund_is_never_late(shop, run):
    with time_machine.travel(T0, tick=False):
        attempt = pay(shop, "pm_card_visa")
        pending_refund(run, attempt)
    with time_machine.travel(datetime(2026, 6, 1, tzinfo=UTC), tick=False):
        assert run(tasks.alert_overdue_refunds) == 0
    assert not Refund.objects.filter(overdue_alerted_at__isnull=False).exists()


def test_a_refund_the_provider_accepted_is_not_given_up_but_asked_again(shop, run):
    with time_machine.travel(T0, tick=False):
        attempt = pay(shop)
        refund = pending_refund(run, attempt)
        run(
            services.refund_settle,
            refund=refund,
            result=RefundResult(False, "re_slow", pending=True),
        )
    # Two days on: past the 24 hours after which an unanswered refund is given up.
    with time_machine.travel(datetime(2026, 3, 8, 10, 0, tzinfo=UTC), tick=False):
        run(tasks.retry_refunds)
    refund.refresh_from_db()
    assert (refund.status, refund.failure_reason) == ("pending", "")
    assert refund.sends == 2  # asked again under its own key


def test_refunds_made_before_the_steps_are_carried_over(shop, run):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("payments.migrations.0008_money_back")
    with time_machine.travel(T0, tick=False):
        attempt = pay(shop)
        accepted = pending_refund(run, attempt)
    Refund.objects.filter(pk=accepted.pk).update(provider_reference="re_old")
    failed = Refund.objects.create(
        attempt=attempt,
        amount=100,
        currency="USD",
        status="failed",
        reason="old",
        created_by="staff",
        customer_notified_at=T0,
    )
    migration.existing_refunds(apps, None)
    accepted.refresh_from_db()
    failed.refresh_from_db()
    assert (accepted.sent_at, accepted.expected_by) == (
        T0,
        datetime(2026, 3, 20, 10, 0, tzinfo=UTC),
    )
    assert (failed.customer_notified_at, failed.failed_notified_at) == (None, T0)

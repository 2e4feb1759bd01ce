"""The outbox's rules, unit by unit: written only inside the state change's transaction, acted on
once, retried with backoff, given up loudly once, swept when the hand-off was lost, and run under
the request id that caused it."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.db import connection, transaction
from kombu.exceptions import OperationalError as BrokerError

from checkout.models import OrderStatus
from checkout.status import order_transition
from config.request_context import current_request_id, request_id_bound
from outbox import services as outbox_services
from outbox import tasks as outbox_tasks
from outbox.models import Message
from outbox.services import outbox_deliver, outbox_enqueue, outbox_handler, outbox_sweep
from tests.conftest import ON_POSTGRES
from tests.factories import OrderFactory

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

calls: list[dict] = []
failures_left = {"n": 0}
tries: list[int] = []


@outbox_handler("tests.record")
def _record(payload: dict) -> None:
    calls.append({**payload, "request_id": current_request_id()})


@outbox_handler("tests.flaky")
def _flaky(payload: dict) -> None:
    tries.append(payload["n"])
    if failures_left["n"] != 0:
        failures_left["n"] -= 1
        raise OSError("mail server said no")
    calls.append(dict(payload))


@pytest.fixture(autouse=True)
def _reset(settings):
    calls.clear()
    tries.clear()
    failures_left["n"] = 0
    settings.OUTBOX_HANDOFF_GRACE_SECONDS = 0
    settings.OUTBOX_RETRY_SECONDS = 10
    settings.OUTBOX_RETRY_MAX_SECONDS = 3600
    settings.OUTBOX_MAX_ATTEMPTS = 4
    settings.ADMINS = [("Carol", "carol@example.com")]


def _paid_order(**kwargs):
    """An order moved to paid in one transaction; its receipt is an outbox row whose hand-off
    (on_commit) never runs inside a test transaction: exactly a lost hand-off."""
    order = OrderFactory(**kwargs)
    with transaction.atomic():
        order_transition(order=order, to=OrderStatus.PAID)
    return order


def _receipts(order) -> list:
    return [m for m in mail.outbox if order.number in m.subject or order.number in m.body]


@pytest.mark.django_db(transaction=True)
def test_enqueue_outside_a_transaction_raises_and_writes_nothing():
    with pytest.raises(RuntimeError, match="inside the transaction"):
        outbox_enqueue(kind="tests.record", payload={}, key="k1")
    assert Message.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_the_hand_off_after_commit_delivers_at_once():
    with transaction.atomic():
        outbox_enqueue(kind="tests.record", payload={"n": 1}, key="k-now")
    row = Message.objects.get(key="k-now")
    assert calls == [{"n": 1, "request_id": calls[0]["request_id"]}]
    assert row.sent_at is not None and row.attempts == 1 and row.last_error == ""


@pytest.mark.django_db(transaction=True)
def test_a_dead_broker_at_hand_off_is_logged_and_never_raised(monkeypatch, caplog):
    def refused(*args, **kwargs):
        raise BrokerError("Error 111 connecting to 127.0.0.1:6391. Connection refused.")

    monkeypatch.setattr(outbox_tasks.deliver, "delay", refused)
    with caplog.at_level(logging.WARNING, logger="outbox.services"):
        with transaction.atomic():  # no exception leaves the commit
            outbox_enqueue(kind="tests.record", payload={"n": 2}, key="k-dead")
    row = Message.objects.get(key="k-dead")
    assert row.sent_at is None and calls == []
    assert "the sweep will deliver it" in caplog.text
    assert outbox_sweep() == 1
    assert [c["n"] for c in calls] == [2]


def test_the_same_key_is_one_side_effect(db):
    with transaction.atomic():
        first = outbox_enqueue(kind="tests.record", payload={"n": 1}, key="same")
        second = outbox_enqueue(kind="tests.record", payload={"n": 2}, key="same")
    assert first.pk == second.pk and Message.objects.count() == 1
    assert Message.objects.get().payload == {"n": 1}


def test_a_delivered_message_is_not_delivered_again(db):
    """A handler without a mark of its own: the row is its key."""
    with transaction.atomic():
        row = outbox_enqueue(kind="tests.record", payload={"n": 5}, key="twice")
    assert outbox_deliver(message_id=row.pk) == "sent"
    assert outbox_deliver(message_id=row.pk) == "skipped"
    assert outbox_sweep() == 0
    assert [c["n"] for c in calls] == [5]


def test_a_delivered_receipt_is_not_delivered_again(db):
    order = _paid_order(email="once@example.com")
    row = Message.objects.get(kind="checkout.receipt")
    assert outbox_deliver(message_id=row.pk) == "sent"
    assert outbox_deliver(message_id=row.pk) == "skipped"  # a redelivered task
    assert outbox_sweep() == 0  # the sweep racing the worker
    assert len(_receipts(order)) == 1
    assert mail.outbox[0].to == ["once@example.com"]


def test_a_failing_handler_backs_off_then_gives_up_with_one_admin_mail(db):
    failures_left["n"] = -1  # never succeeds
    with time_machine.travel(T0, tick=False):
        with transaction.atomic():
            row = outbox_enqueue(kind="tests.flaky", payload={"n": 1}, key="flaky")
        # Try 1 fails: 10 s to wait; asking earlier (a redelivered task, the sweep) does nothing.
        assert outbox_deliver(message_id=row.pk) == "retry"
        row.refresh_from_db()
        assert (row.attempts, row.next_attempt_at) == (1, T0 + timedelta(seconds=10))
        assert row.last_error == "OSError: mail server said no"
        assert outbox_deliver(message_id=row.pk) == "skipped"
        assert outbox_sweep() == 0
    with time_machine.travel(T0 + timedelta(seconds=10), tick=False):
        assert outbox_sweep() == 0  # try 2 fails: 20 s
        row.refresh_from_db()
        assert (row.attempts, row.next_attempt_at) == (2, T0 + timedelta(seconds=30))
    with time_machine.travel(T0 + timedelta(seconds=30), tick=False):
        assert outbox_deliver(message_id=row.pk) == "retry"  # try 3: 40 s
        row.refresh_from_db()
        assert (row.attempts, row.next_attempt_at) == (3, T0 + timedelta(seconds=70))
        assert mail.outbox == []
    with time_machine.travel(T0 + timedelta(seconds=70), tick=False):
        assert outbox_deliver(message_id=row.pk) == "gave_up"  # try 4 of 4
        row.refresh_from_db()
        assert row.attempts == 4 and row.gave_up_at == T0 + timedelta(seconds=70)
        assert row.sent_at is None
    with time_machine.travel(T0 + timedelta(hours=5), tick=False):
        assert outbox_deliver(message_id=row.pk) == "skipped"
        assert outbox_sweep() == 0
    assert calls == [] and tries == [1, 1, 1, 1]  # four tries, none after the give-up
    assert len(mail.outbox) == 1
    alert = mail.outbox[0]
    assert alert.to == ["carol@example.com"]
    assert "tests.flaky" in alert.subject and "flaky" in alert.body
    assert "OSError: mail server said no" in alert.body


def test_a_handler_that_recovers_is_sent_once_and_its_writes_are_kept(db):
    failures_left["n"] = 1
    with transaction.atomic():
        row = outbox_enqueue(kind="tests.flaky", payload={"n": 7}, key="recovers")
    assert outbox_deliver(message_id=row.pk) == "retry"
    with time_machine.travel(datetime.now(UTC) + timedelta(seconds=11)):
        assert outbox_sweep() == 1
        assert outbox_sweep() == 0
    row.refresh_from_db()
    assert (row.attempts, row.last_error != "", row.sent_at is not None) == (2, True, True)
    assert calls == [{"n": 7}]


def test_a_failed_receipt_rolls_back_its_mark_and_is_sent_once_on_retry(db, settings):
    order = _paid_order(email="retry@example.com")
    row = Message.objects.get(kind="checkout.receipt")
    settings.EMAIL_BACKEND = "tests.outbox.mailers.BrokenBackend"
    assert outbox_deliver(message_id=row.pk) == "retry"
    order.refresh_from_db()
    assert order.receipt_sent_at is None  # rolled back with the failure
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with time_machine.travel(datetime.now(UTC) + timedelta(seconds=11)):
        assert outbox_sweep() == 1
        assert outbox_sweep() == 0
    order.refresh_from_db()
    assert order.receipt_sent_at is not None
    assert len(_receipts(order)) == 1


def test_the_sweep_delivers_lost_hand_offs_oldest_first_and_only_when_due(db, settings):
    settings.OUTBOX_SWEEP_BATCH = 2
    with time_machine.travel(T0, tick=False):
        with transaction.atomic():
            outbox_enqueue(kind="tests.record", payload={"n": 3}, key="c")
            outbox_enqueue(kind="tests.record", payload={"n": 9}, key="later", delay=timedelta(60))
    with time_machine.travel(T0 - timedelta(seconds=5), tick=False):
        with transaction.atomic():
            outbox_enqueue(kind="tests.record", payload={"n": 1}, key="a")
            outbox_enqueue(kind="tests.record", payload={"n": 2}, key="b")
    with time_machine.travel(T0 + timedelta(seconds=1), tick=False):
        assert outbox_sweep() == 2  # the batch bound
        assert [c["n"] for c in calls] == [1, 2]
        assert outbox_sweep() == 1
        assert outbox_sweep() == 0  # "later" is not due for 60 days
    assert [c["n"] for c in calls] == [1, 2, 3]
    assert Message.objects.get(key="later").sent_at is None


def test_the_sweep_leaves_a_fresh_row_to_its_hand_off(db, settings):
    settings.OUTBOX_HANDOFF_GRACE_SECONDS = 10
    with time_machine.travel(T0, tick=False):
        with transaction.atomic():
            outbox_enqueue(kind="tests.record", payload={"n": 1}, key="fresh")
        assert outbox_sweep() == 0
    with time_machine.travel(T0 + timedelta(seconds=10), tick=False):
        assert outbox_sweep() == 1


def test_the_request_id_is_stored_and_bound_while_delivering(db):
    with request_id_bound("req-abc123"):
        with transaction.atomic():
            row = outbox_enqueue(kind="tests.record", payload={"n": 1}, key="rid")
    assert row.request_id == "req-abc123"
    assert current_request_id() == ""
    assert outbox_deliver(message_id=row.pk) == "sent"
    assert calls == [{"n": 1, "request_id": "req-abc123"}]
    assert current_request_id() == ""  # restored after delivery


def test_a_secret_payload_is_emptied_once_delivered(db):
    with transaction.atomic():
        row = outbox_enqueue(
            kind="tests.record", payload={"code": "123456"}, key="secret", sensitive=True
        )
    assert Message.objects.get(pk=row.pk).payload == {"code": "123456"}
    assert outbox_deliver(message_id=row.pk) == "sent"
    assert Message.objects.get(pk=row.pk).payload == {}
    assert calls[0]["code"] == "123456"


def test_an_unknown_kind_is_refused_at_enqueue(db):
    with pytest.raises(LookupError):
        with transaction.atomic():
            outbox_enqueue(kind="tests.nobody", payload={}, key="x")


@outbox_handler("tests.slow")
def _slow(payload: dict) -> None:
    time.sleep(0.5)  # holds the row lock while the other deliverer arrives
    calls.append(dict(payload))


@pytest.mark.postgres
@pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL row locks across connections")
@pytest.mark.django_db(transaction=True)
def test_two_deliverers_at_once_act_once(monkeypatch):
    """The worker's task and the sweep (or a redelivered message) on the same row together."""
    monkeypatch.setattr(outbox_services, "_hand_off", lambda *a: None)  # a lost hand-off
    with transaction.atomic():
        row = outbox_enqueue(kind="tests.slow", payload={"n": 1}, key="race")
    barrier = threading.Barrier(3, timeout=60)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def deliverer() -> None:
        try:
            barrier.wait(timeout=10)
            outcome = outbox_deliver(message_id=row.pk)
            with lock:
                outcomes[outcome] += 1
        finally:
            connection.close()

    threads = [threading.Thread(target=deliverer) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert outcomes == Counter({"sent": 1, "skipped": 2})
    assert calls == [{"n": 1}]
    assert Message.objects.get(pk=row.pk).attempts == 1


def test_a_dead_channel_layer_never_fails_a_chat_message(monkeypatch, caplog):
    from support.chat import services as chat

    class DeadLayer:
        async def group_send(self, group, event):
            raise ConnectionError("channel layer down")

    from config import broadcast

    monkeypatch.setattr(broadcast, "get_channel_layer", lambda: DeadLayer())
    with caplog.at_level(logging.WARNING, logger="config.broadcast"):
        chat._send("chat.x", {"type": "chat.message"})  # no exception
    assert "push to chat.x dropped: ConnectionError" in caplog.text


@pytest.mark.django_db
def test_deliveries_are_counted_by_outcome():
    from config.metrics import OUTBOX_DELIVERIES

    def count(outcome: str) -> float:
        return OUTBOX_DELIVERIES.labels(outcome=outcome)._value.get()

    outcomes = ("sent", "retry", "gave_up")
    before = {o: count(o) for o in outcomes}
    with transaction.atomic():
        outbox_enqueue(kind="tests.record", payload={"n": 1}, key="counted")
    row = Message.objects.get(key="counted")
    assert outbox_deliver(message_id=row.pk) == "sent"
    assert outbox_deliver(message_id=row.pk) == "skipped"  # not counted
    assert {o: count(o) - before[o] for o in outcomes} == {"sent": 1, "retry": 0, "gave_up": 0}
    failures_left["n"] = 1
    with transaction.atomic():
        flaky = outbox_enqueue(kind="tests.flaky", payload={"n": 2}, key="flaky-counted")
    assert outbox_deliver(message_id=flaky.pk) == "retry"
    assert {o: count(o) - before[o] for o in outcomes} == {"sent": 1, "retry": 1, "gave_up": 0}

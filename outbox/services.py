"""The transactional outbox: side effects written with the state change, acted on after it.

`outbox_enqueue` writes a row inside the transaction that changes state, so the side effect
exists exactly when the change does. After the commit the row is handed to Celery; when the
broker is down that hand-off is only logged, never raised into the request, and the periodic
sweep delivers the row instead. Delivery locks the row, runs the kind's handler and marks the
row sent in one transaction, so at-least-once hand-offs (a retry, a redelivered message, the
sweep racing the worker) act once. Failures back off exponentially and, after
OUTBOX_MAX_ATTEMPTS, are given up loudly (an error log and one mail to the admins).

Apps register their handlers here by kind; this module imports none of them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import mail_admins
from django.db import connection, transaction
from django.utils import timezone

from config import metrics
from config.request_context import current_request_id, request_id_bound

from .models import Message

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], object]
_HANDLERS: dict[str, Handler] = {}


def outbox_handler(kind: str) -> Callable[[Handler], Handler]:
    """Register the function that acts on messages of `kind`. It must be idempotent: it may run
    again after a crash between its effect and the commit of the row's mark."""

    def register(func: Handler) -> Handler:
        existing = _HANDLERS.get(kind)
        if existing is not None and existing is not func:
            raise ValueError(f"outbox kind {kind!r} already has a handler")
        _HANDLERS[kind] = func
        return func

    return register


def outbox_enqueue(
    *,
    kind: str,
    payload: dict[str, Any],
    key: str,
    delay: timedelta | None = None,
    sensitive: bool = False,
) -> Message:
    """Write one side effect in the caller's transaction and hand it to Celery after commit.

    `key` names the side effect: enqueueing the same key again returns the first row. `delay`
    holds the first delivery back (a scheduled step); the row, not the broker, keeps the time,
    so a lost timer is delivered by the sweep once due.
    """
    if not connection.in_atomic_block:
        # Outside a transaction the row could commit without the change, or the change without
        # the row: exactly the loss the outbox exists to prevent.
        raise RuntimeError("outbox_enqueue must run inside the transaction of the state change")
    if kind not in _HANDLERS:
        raise LookupError(f"no outbox handler is registered for {kind!r}")
    now = timezone.now()
    due = now + delay if delay else now
    # One INSERT that does nothing on a known key (no savepoint round trips on the pay path).
    Message.objects.bulk_create(
        [
            Message(
                kind=kind,
                payload=payload,
                key=key[:200],
                request_id=current_request_id()[:64],
                sensitive=sensitive,
                created_at=now,
                next_attempt_at=due,
            )
        ],
        ignore_conflicts=True,
    )
    message = Message.objects.get(key=key[:200])
    if message.sent_at is None and message.gave_up_at is None:
        message_id, when = message.pk, message.next_attempt_at
        # A second enqueue of a pending key hands it off again: harmless (the row is locked
        # and marked), and it is what a replay of a stuck request would want.
        transaction.on_commit(lambda: _hand_off(message_id, when))
    return message


def _hand_off(message_id: int, due: datetime) -> None:
    """Give the committed row to the broker. Best effort: the row is already safe."""
    from .tasks import deliver

    try:
        if due > timezone.now():
            deliver.apply_async((message_id,), eta=due)
        else:
            deliver.delay(message_id)
    except Exception:  # noqa: BLE001 - a broker fault must never reach the customer
        logger.warning(
            "outbox: could not hand message %s to the broker; the sweep will deliver it",
            message_id,
            exc_info=True,
        )


def _claim(message_id: int, *, due_only: bool) -> Message | None:
    """Lock a pending row, or None when it is sent, given up, not due, or being delivered."""
    row = (
        Message.objects.select_for_update(skip_locked=True)
        .filter(pk=message_id, sent_at__isnull=True, gave_up_at__isnull=True)
        .first()
    )
    if row is None:
        return None
    # The first hand-off may run early (its broker timer fired, or tasks run eagerly); a retry
    # waits for its backoff, whoever asks.
    if (due_only or row.attempts) and row.next_attempt_at > timezone.now():
        return None
    return row


def outbox_deliver(*, message_id: int, due_only: bool = False) -> str:
    """Act on one message once. Returns "sent", "retry", "gave_up" or "skipped"."""
    outcome = _deliver(message_id=message_id, due_only=due_only)
    if outcome != "skipped":
        metrics.record_outbox(outcome)  # after the delivery's own commit
    return outcome


def _deliver(*, message_id: int, due_only: bool) -> str:
    try:
        with transaction.atomic():
            row = _claim(message_id, due_only=due_only)
            if row is None:
                return "skipped"
            handler = _HANDLERS.get(row.kind)
            if handler is None:
                raise LookupError(f"no outbox handler is registered for {row.kind!r}")
            with request_id_bound(row.request_id or None):
                handler(dict(row.payload))
            # The mark commits with whatever the handler wrote: both or neither.
            row.sent_at = timezone.now()
            row.attempts += 1
            fields = ["sent_at", "attempts"]
            if row.sensitive:
                row.payload = {}
                fields.append("payload")
            row.save(update_fields=fields)
        return "sent"
    except Exception as exc:  # noqa: BLE001 - recorded on the row, retried with backoff
        return _record_failure(message_id, exc)


def backoff(attempts: int) -> timedelta:
    """The wait before try number `attempts + 1`: doubling from the base, capped."""
    base = settings.OUTBOX_RETRY_SECONDS
    seconds = min(base * 2 ** max(attempts - 1, 0), settings.OUTBOX_RETRY_MAX_SECONDS)
    return timedelta(seconds=seconds)


def _record_failure(message_id: int, exc: Exception) -> str:
    error = f"{type(exc).__name__}: {exc}"[:2000]
    with transaction.atomic():
        row = Message.objects.select_for_update().filter(pk=message_id).first()
        if row is None or row.sent_at is not None or row.gave_up_at is not None:
            return "skipped"  # delivered by someone else meanwhile
        row.attempts += 1
        row.last_error = error
        now = timezone.now()
        if row.attempts < settings.OUTBOX_MAX_ATTEMPTS:
            row.next_attempt_at = now + backoff(row.attempts)
            row.save(update_fields=["attempts", "last_error", "next_attempt_at"])
            logger.warning(
                "outbox: %s %s failed (try %d), next at %s: %s",
                row.kind,
                row.key,
                row.attempts,
                row.next_attempt_at.isoformat(),
                error,
            )
            return "retry"
        row.gave_up_at = now
        fields = ["attempts", "last_error", "gave_up_at"]
        if row.sensitive:
            row.payload = {}
            fields.append("payload")
        row.save(update_fields=fields)
        # Under the row lock with gave_up_at set: told once, however many deliverers race.
        logger.error(
            "outbox: gave up on %s %s after %d tries: %s", row.kind, row.key, row.attempts, error
        )
        mail_admins(
            f"Side effect given up: {row.kind}",
            f"Outbox message {row.pk} ({row.kind}, key {row.key}, request {row.request_id or '-'})"
            f" failed {row.attempts} times and will not be tried again.\n\nLast error: {error}\n"
            f"\nIt is in admin under Outbox; fix the cause, then deliver it again from there.",
            fail_silently=True,
        )
    return "gave_up"


def outbox_sweep(*, limit: int | None = None) -> int:
    """Deliver due rows whose hand-off was lost (broker down, worker killed), oldest first, a
    bounded batch within a time budget. Returns how many were sent."""
    limit = limit or settings.OUTBOX_SWEEP_BATCH
    # A row due only a moment ago is still on its way through the broker: leave it that long.
    cutoff = timezone.now() - timedelta(seconds=settings.OUTBOX_HANDOFF_GRACE_SECONDS)
    pending = list(
        Message.objects.filter(
            sent_at__isnull=True, gave_up_at__isnull=True, next_attempt_at__lte=cutoff
        )
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    deadline = time.monotonic() + settings.OUTBOX_SWEEP_BUDGET_SECONDS
    sent = 0
    for pk in pending:
        if time.monotonic() > deadline:
            break  # the next sweep goes on; one must not outlive the broker's visibility timeout
        if outbox_deliver(message_id=pk, due_only=True) == "sent":
            sent += 1
    return sent


def outbox_retry_now(*, message_id: int) -> Message:
    """Staff fixed the cause of a given-up message: try it again from the start."""
    with transaction.atomic():
        row = Message.objects.select_for_update().get(pk=message_id)
        if row.sent_at is not None:
            return row
        row.gave_up_at = None
        row.attempts = 0
        row.next_attempt_at = timezone.now()
        row.save(update_fields=["gave_up_at", "attempts", "next_attempt_at"])
        transaction.on_commit(lambda: _hand_off(message_id, timezone.now()))
    return row

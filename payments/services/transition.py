"""An attempt's one transition helper: every move is checked against the declared table
(payments.models.ALLOWED, LATE_CONFIRMATION), written to the timeline and counted."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from config import metrics

from ..models import (
    ALLOWED,
    IN_FLIGHT,
    LATE_CONFIRMATION,
    PaymentAttempt,
    PaymentEvent,
    PaymentMethod,
)
from ..orders import order_book
from .errors import InvalidTransition
from .split import split_release

# The attempts' log keeps the name it had before this module was split off: log searches use it.
logger = logging.getLogger("payments.services.attempts")
S = PaymentAttempt.Status


def attempt_transition(
    *,
    attempt: PaymentAttempt,
    to: str,
    actor: str,
    message: str = "",
    payload: dict[str, Any] | None = None,
    extra_fields: tuple[str, ...] = (),
    late_confirmation: bool = False,
) -> PaymentAttempt:
    """Move a locked attempt along the transition table and write the event. Illegal moves raise.

    `late_confirmation` admits the provider's word that a failed or canceled attempt was paid
    after all (LATE_CONFIRMATION); only the handler of that answer passes it.
    """
    late = late_confirmation and _late_confirmation(attempt, to)
    if to not in ALLOWED[attempt.status] and not late:
        raise InvalidTransition(f"attempt {attempt.public_id}: {attempt.status} -> {to}")
    from_status = attempt.status
    attempt.status = to
    if to not in IN_FLIGHT:
        attempt.settled_at = attempt.settled_at or timezone.now()
    attempt.save(update_fields=["status", "settled_at", "updated_at", *extra_fields])
    PaymentEvent.objects.create(
        attempt=attempt,
        kind=PaymentEvent.Kind.STATUS_CHANGED,
        from_status=from_status,
        to_status=to,
        actor=actor,
        message=message[:500],
        payload=payload or {},
    )
    logger.info("attempt %s: %s -> %s (%s)", attempt.public_id, from_status, to, actor)
    # Every way an attempt ends unpaid passes here: a held wallet part goes back with it.
    split_release(attempt=attempt, from_status=from_status, actor=actor)
    _count_move(attempt=attempt, from_status=from_status)
    # Read the number alone: caching attempt.order here would hand callers a stale order.
    number = order_book().number(attempt.order_id)
    transaction.on_commit(lambda: order_book().broadcast(number, attempt=to))
    return attempt


def _count_move(*, attempt: PaymentAttempt, from_status: str) -> None:
    """Count an attempt's move once its transaction commits: the first final answer (by method
    and status, with the time it took), or a late confirmation of a final one."""
    to_status = attempt.status
    settled = from_status in IN_FLIGHT and to_status not in IN_FLIGHT
    late = (from_status, to_status) in LATE_CONFIRMATION
    if not (settled or late):
        return  # still waiting, or a refund moving a paid attempt: not a new answer
    method = _method_code(attempt)
    if late:
        metrics.record_late_confirmation(method=method)
        return
    took = (attempt.settled_at - attempt.created_at).total_seconds() if attempt.settled_at else 0
    metrics.record_attempt_settled(method=method, status=to_status, seconds=took)
    if to_status == S.SUCCEEDED and attempt.route_try > 1:  # a later route took it (routing)
        metrics.record_failover_saved(method=method, route=attempt.provider)


def _method_code(attempt: PaymentAttempt) -> str:
    if PaymentAttempt.method.is_cached(attempt):
        return attempt.method.code
    return str(PaymentMethod.objects.values_list("code", flat=True).get(pk=attempt.method_id))


def _late_confirmation(attempt: PaymentAttempt, to: str) -> bool:
    return (attempt.status, to) in LATE_CONFIRMATION

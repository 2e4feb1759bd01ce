"""Method health: a circuit breaker per payment method, kept in the database so every web and
worker process sees the same state.

Only technical failures count (the provider timed out, was down, answered 5xx), never a
customer's decline. Over the rolling window, with at least MIN_VOLUME attempts, a share of
technical failures above DEGRADED_PERCENT marks the method degraded (still offered, with a
warning, ranked lower); above OPEN_PERCENT the circuit opens (not offered). After the cool-down
exactly one attempt goes through as a probe: it closes the circuit or opens it again.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from outbox.services import outbox_enqueue

from ..models import (
    HEALTH_ALLOWED,
    IN_FLIGHT,
    MethodHealth,
    MethodHealthEvent,
    PaymentAttempt,
    PaymentEvent,
    PaymentMethod,
)
from ..selectors import cooled_down

logger = logging.getLogger(__name__)
H = MethodHealth.State


class InvalidHealthTransition(Exception):
    """A move the health table does not allow: a bug in the caller, never the customer's."""


def _health_locked(method: PaymentMethod) -> MethodHealth:
    # By id: `method` may be a process's kept copy (payments/stamps.py), which must not be
    # handed a row this transaction may yet roll back.
    MethodHealth.objects.get_or_create(method_id=method.pk)
    return MethodHealth.objects.select_for_update().get(method=method)


def _window_counts(method: PaymentMethod, since: object) -> tuple[int, int]:
    attempts = PaymentAttempt.objects.filter(method=method, created_at__gte=since).exclude(
        status=PaymentAttempt.Status.CREATED
    )
    technical = (
        PaymentEvent.objects.filter(attempt__in=attempts, kind=PaymentEvent.Kind.PROVIDER_ERROR)
        .values("attempt")
        .distinct()
        .count()
    )
    return technical, attempts.count()


def degraded_now(health: MethodHealth) -> bool:
    """Whether a method marked degraded still is, judged from the window as it stands now.

    The state row only moves when an attempt is counted, so a method nobody paid with since its
    errors would show its warning forever; read here, the warning clears by itself once those
    errors have left the window (by the same rule _health_update applies). Costs two counts,
    and only for a degraded method.
    """
    if health.state != H.DEGRADED:
        return False
    window = timezone.now() - timedelta(seconds=settings.PAYMENTS_HEALTH_WINDOW_SECONDS)
    since = max(window, health.window_started_at) if health.window_started_at else window
    technical, total = _window_counts(health.method, since)
    if total < settings.PAYMENTS_HEALTH_MIN_VOLUME:
        return technical > 0
    return technical * 100 >= settings.PAYMENTS_HEALTH_DEGRADED_PERCENT * total


def health_transition(
    health: MethodHealth, *, to: str, technical: int, total: int, reason: str
) -> MethodHealthEvent:
    """Move a locked health row along HEALTH_ALLOWED, write its event and, when the state
    really changed, alert the people who run payments after the commit. Illegal moves raise.

    open -> open (a failed probe) is recorded but not alerted: the admins already know the
    method is down, and one email per cool-down would bury the one that says it recovered.
    """
    before = health.state
    if to not in HEALTH_ALLOWED[before]:
        raise InvalidHealthTransition(f"method {health.method_id}: {before} -> {to}")
    event = MethodHealthEvent.objects.create(
        method_id=health.method_id,
        from_state=before,
        to_state=to,
        technical_failures=technical,
        attempts=total,
        reason=reason,
    )
    now = timezone.now()
    fields = ["state", "changed_at", "probe_attempt"]
    if to == H.HEALTHY and before == H.OPEN:
        health.window_started_at = now  # the outage's failures no longer count
        fields.append("window_started_at")
    # Every move restarts the clock (an open circuit's cool-down) and ends any probe.
    health.state, health.changed_at, health.probe_attempt = to, now, None
    health.save(update_fields=fields)
    if to != before:
        outbox_enqueue(
            kind="payments.health_alert",
            payload={"event_id": event.pk},
            key=f"health_alert:{event.pk}",
        )
    return event


def probe_releasable(health: MethodHealth, *, now: datetime | None = None) -> bool:
    """The circuit's outstanding probe will never be counted, so another attempt may probe.

    Only `health_record` clears a probe, and only when the provider answered (or failed to).
    A probe that never got that far (refused by the risk rules, failed or canceled before it
    was sent, rolled back, or stuck) would hold the circuit shut forever. So a probe is let go
    when it settled without ever being sent, or once it is older than the probe timeout
    (whatever happened to it; a late answer is then simply not counted). A probe that was sent
    and settled is about to be counted by the request that sent it: it is not released early.
    """
    if health.probe_attempt_id is None:
        return False
    probe = (
        PaymentAttempt.objects.filter(pk=health.probe_attempt_id)
        .only("status", "created_at")
        .first()
    )
    if probe is None:
        return True
    limit = timedelta(seconds=settings.PAYMENTS_HEALTH_PROBE_TIMEOUT_SECONDS)
    if (now or timezone.now()) - probe.created_at >= limit:
        return True
    if probe.status in IN_FLIGHT:
        return False
    was_sent = PaymentEvent.objects.filter(
        attempt_id=health.probe_attempt_id,
        kind=PaymentEvent.Kind.STATUS_CHANGED,
        to_status=PaymentAttempt.Status.SENT,
    ).exists()
    return not was_sent


@transaction.atomic
def health_claim_probe(*, method: PaymentMethod, attempt: PaymentAttempt) -> bool:
    """Let `attempt` through an open circuit after its cool-down, if no other probe is out.

    Under the health row lock: of any number of concurrent claimants exactly one wins. A probe
    that will never be counted is released here first (`probe_releasable`).
    """
    health = _health_locked(method)
    if health.state != H.OPEN:
        return True
    if not cooled_down(health):
        return False
    if health.probe_attempt_id is not None:
        if not probe_releasable(health):
            return False
        logger.warning(
            "method %s: releasing probe attempt %s, it was never counted",
            method.pk,
            health.probe_attempt_id,
        )
    health.probe_attempt = attempt
    health.save(update_fields=["probe_attempt"])
    return True


def health_record(*, attempt: PaymentAttempt, technical: bool) -> None:
    """Count one attempt's first answer (or its absence) and move the method's state.

    The common case, a healthy method answering, costs one read and no lock.
    """
    state = (
        MethodHealth.objects.filter(method_id=attempt.method_id)
        .values_list("state", flat=True)
        .first()
    )
    if not technical and state in (None, H.HEALTHY):
        return  # an answer cannot make a healthy method worse
    _health_update(attempt=attempt, technical=technical)


@transaction.atomic
def _health_update(*, attempt: PaymentAttempt, technical: bool) -> MethodHealth:
    health = _health_locked(attempt.method)
    if health.state == H.OPEN:
        if health.probe_attempt_id == attempt.pk:
            if technical:
                # Still failing: the circuit stays open and the cool-down starts again.
                health_transition(health, to=H.OPEN, technical=1, total=1, reason="probe failed")
            else:
                health_transition(
                    health, to=H.HEALTHY, technical=0, total=1, reason="probe succeeded"
                )
        return health
    window = timezone.now() - timedelta(seconds=settings.PAYMENTS_HEALTH_WINDOW_SECONDS)
    since = max(window, health.window_started_at) if health.window_started_at else window
    technical_count, total = _window_counts(attempt.method, since)
    share = f"{technical_count} of {total} attempts failed technically"
    if total < settings.PAYMENTS_HEALTH_MIN_VOLUME:
        target = H.HEALTHY if health.state == H.DEGRADED and technical_count == 0 else health.state
    elif technical_count * 100 >= settings.PAYMENTS_HEALTH_OPEN_PERCENT * total:
        target = H.OPEN
    elif technical_count * 100 >= settings.PAYMENTS_HEALTH_DEGRADED_PERCENT * total:
        target = H.DEGRADED
    else:
        target = H.HEALTHY
    if target != health.state:
        health_transition(health, to=target, technical=technical_count, total=total, reason=share)
    return health

"""Method health: a circuit breaker per payment method, kept in the database so every web and
worker process sees the same state.

Only technical failures count (the provider timed out, was down, answered 5xx), never a
customer's decline. Over the rolling window, with at least MIN_VOLUME attempts, a share of
technical failures above DEGRADED_PERCENT marks the method degraded (still offered, with a
warning, ranked lower); above OPEN_PERCENT the circuit opens (not offered). After the cool-down
exactly one attempt goes through as a probe: it closes the circuit or opens it again.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..models import MethodHealth, MethodHealthEvent, PaymentAttempt, PaymentEvent, PaymentMethod
from ..selectors import cooled_down

H = MethodHealth.State


def _health_locked(method: PaymentMethod) -> MethodHealth:
    MethodHealth.objects.get_or_create(method=method)
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


def _move(health: MethodHealth, to: str, *, technical: int, total: int, reason: str) -> None:
    if health.state == to:
        return
    event = MethodHealthEvent.objects.create(
        method=health.method,
        from_state=health.state,
        to_state=to,
        technical_failures=technical,
        attempts=total,
        reason=reason,
    )
    now = timezone.now()
    if to == H.HEALTHY and health.state == H.OPEN:
        health.window_started_at = now  # the outage's failures no longer count
    health.state, health.changed_at, health.probe_attempt = to, now, None
    health.save()
    from ..tasks import alert_health_change

    transaction.on_commit(lambda: alert_health_change.delay(event.pk))


@transaction.atomic
def health_claim_probe(*, method: PaymentMethod, attempt: PaymentAttempt) -> bool:
    """Let `attempt` through an open circuit after its cool-down, if no other probe is out."""
    health = _health_locked(method)
    if health.state != H.OPEN:
        return True
    if not cooled_down(health) or health.probe_attempt_id is not None:
        return False
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
                MethodHealthEvent.objects.create(
                    method=health.method,
                    from_state=H.OPEN,
                    to_state=H.OPEN,
                    technical_failures=1,
                    attempts=1,
                    reason="probe failed",
                )
                health.changed_at, health.probe_attempt = timezone.now(), None
                health.save(update_fields=["changed_at", "probe_attempt"])
            else:
                _move(health, H.HEALTHY, technical=0, total=1, reason="probe succeeded")
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
    _move(health, target, technical=technical_count, total=total, reason=share)
    return health

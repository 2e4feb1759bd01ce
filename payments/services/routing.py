"""Routes and failover (issue 15): which provider carries an attempt, and when it may move on.

An attempt is sent to the first usable route (enabled, within its limits, circuit not open). It
moves to the next route ONLY when the first certainly did not charge: its circuit is open (it
was never called), or the gateway raised `NotCharged` (connection refused before anything was
sent, or a documented "not processed" answer). A timeout, an outage, an unreadable answer or any
other error stays `unknown` on that route and is reconciled there: it never fails over, so a
payment can never be charged on two routes.

Before each call the attempt is pointed at the route (provider, route, route_try) under its row
lock, so a webhook, a return from a redirect or reconciliation finds the route that owns it. The
route's idempotency key is derived from the attempt and the try (PaymentAttempt.provider_key):
a replay on a route is a replay there.

Every try is a `route` event on the attempt's timeline (skipped / not charged / answered /
unknown, with how long the call took); each route's circuit breaker is counted from them.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from config import metrics
from outbox.services import outbox_enqueue

from ..gateways import (
    ChargeRequest,
    ChargeResult,
    GatewayError,
    InvalidPaymentDetails,
    NotCharged,
    Outcome,
    ProviderRejected,
    get_gateway,
)
from ..gateways.simulator import SIMULATOR_PROVIDERS
from ..models import (
    HEALTH_ALLOWED,
    PaymentAttempt,
    PaymentEvent,
    PaymentMethod,
    PaymentRoute,
    RouteHealth,
)

logger = logging.getLogger(__name__)
S = PaymentAttempt.Status
H = RouteHealth.State

# What a route try can end with (PaymentEvent kind `route`, payload["outcome"]).
SKIPPED = "skipped"  # circuit open: never called
NOT_CHARGED = "not_charged"  # called, certainly did not charge: the next route is tried
ANSWERED = "answered"  # the provider answered: this route owns the attempt
UNKNOWN = "unknown"  # no answer (timeout, outage...): owns the attempt, reconciled there
TRIED = (NOT_CHARGED, ANSWERED, UNKNOWN)
TECHNICAL = (NOT_CHARGED, UNKNOWN)


class InvalidRouteHealthTransition(Exception):
    """A move HEALTH_ALLOWED does not allow: a bug in the caller."""


def routes_for(*, method: PaymentMethod, amount: int, currency: str) -> list[PaymentRoute]:
    """The routes that may carry this payment, in the admins' order.

    A method without any route rows is carried by its own provider (an unsaved route), exactly
    as before routes existed.
    """
    rows = list(method.routes.all())
    if not rows:
        return [PaymentRoute(method=method, provider=method.provider, priority=0)]
    return [r for r in rows if r.enabled and r.carries(amount=amount, currency=currency)]


# --- Each route's circuit breaker -----------------------------------------------------------


def _cooled_down(health: RouteHealth, now: Any) -> bool:
    cooldown = timedelta(seconds=settings.PAYMENTS_HEALTH_COOLDOWN_SECONDS)
    return bool(now >= health.changed_at + cooldown)


def route_admit(*, route: PaymentRoute, attempt: PaymentAttempt) -> bool:
    """Whether this attempt may call the route now. An open circuit admits exactly one attempt
    after its cool-down, as its probe (under the health row lock); the probe holds the circuit
    for PAYMENTS_HEALTH_PROBE_TIMEOUT_SECONDS at most, so a probe that is never counted cannot
    keep the route shut forever."""
    if route.pk is None:
        return True
    if not RouteHealth.objects.filter(route=route, state=H.OPEN).exists():
        return True
    return _route_claim_probe(route=route, attempt=attempt)


@transaction.atomic
def _route_claim_probe(*, route: PaymentRoute, attempt: PaymentAttempt) -> bool:
    health = RouteHealth.objects.select_for_update().get(route=route)
    if health.state != H.OPEN:
        return True
    now = timezone.now()
    if not _cooled_down(health, now):
        return False
    if health.probe_until is not None and health.probe_until > now:
        return False
    health.probe_attempt = attempt
    health.probe_until = now + timedelta(seconds=settings.PAYMENTS_HEALTH_PROBE_TIMEOUT_SECONDS)
    health.save(update_fields=["probe_attempt", "probe_until"])
    return True


def route_window_counts(route: PaymentRoute, since: Any) -> tuple[int, int]:
    """(technical failures, tries) of this route since `since`, from its route events."""
    tries = PaymentEvent.objects.filter(
        kind=PaymentEvent.Kind.ROUTE,
        payload__route_id=route.pk,
        payload__outcome__in=TRIED,
        created_at__gte=since,
    )
    return tries.filter(payload__outcome__in=TECHNICAL).count(), tries.count()


def _route_transition(health: RouteHealth, *, to: str, reason: str) -> None:
    before = health.state
    if to not in HEALTH_ALLOWED[before]:
        raise InvalidRouteHealthTransition(f"route {health.route_id}: {before} -> {to}")
    now = timezone.now()
    if to == H.HEALTHY and before == H.OPEN:
        health.window_started_at = now  # the outage's failures no longer count
    health.state, health.changed_at = to, now
    health.probe_attempt, health.probe_until = None, None
    health.save()
    logger.warning("route %s: %s -> %s (%s)", health.route_id, before, to, reason)
    if to != before:
        # As for a method's circuit: the people who run payments hear of every real move,
        # recovery included; open -> open (a failed probe) is not news.
        outbox_enqueue(
            kind="payments.route_health_alert",
            payload={
                "route_id": health.route_id,
                "from": before,
                "to": to,
                "reason": reason,
                "at": f"{now:%Y-%m-%d %H:%M:%S %Z}",
            },
            key=f"route_health_alert:{health.route_id}:{now.isoformat()}",
        )


def route_health_record(*, route: PaymentRoute, attempt: PaymentAttempt, technical: bool) -> None:
    """Count one try of a route (its route event is already written) and move its circuit."""
    if route.pk is None:
        return
    state = RouteHealth.objects.filter(route=route).values_list("state", flat=True).first()
    if not technical and state in (None, H.HEALTHY):
        return  # an answer cannot make a healthy route worse
    with transaction.atomic():
        # By id: `route` may be a process's kept copy (payments/stamps.py), which must not be
        # handed a row this transaction may yet roll back.
        RouteHealth.objects.get_or_create(route_id=route.pk)
        health = RouteHealth.objects.select_for_update().get(route=route)
        if health.state == H.OPEN:
            if health.probe_attempt_id == attempt.pk:
                _route_transition(health, to=H.OPEN if technical else H.HEALTHY, reason="probe")
            return
        window = timezone.now() - timedelta(seconds=settings.PAYMENTS_HEALTH_WINDOW_SECONDS)
        since = max(window, health.window_started_at) if health.window_started_at else window
        bad, total = route_window_counts(route, since)
        target: str
        if total < settings.PAYMENTS_HEALTH_MIN_VOLUME:
            target = H.HEALTHY if health.state == H.DEGRADED and bad == 0 else health.state
        elif bad * 100 >= settings.PAYMENTS_HEALTH_OPEN_PERCENT * total:
            target = H.OPEN
        elif bad * 100 >= settings.PAYMENTS_HEALTH_DEGRADED_PERCENT * total:
            target = H.DEGRADED
        else:
            target = H.HEALTHY
        if target != health.state:
            _route_transition(health, to=target, reason=f"{bad} of {total} tries failed")


# --- The walk -------------------------------------------------------------------------------


def _route_event(
    *,
    attempt: PaymentAttempt,
    route: PaymentRoute,
    outcome: str,
    message: str,
    number: int,
    seconds: float | None = None,
    reason: str = "",
) -> None:
    payload: dict[str, Any] = {
        "route_id": route.pk,
        "provider": route.provider,
        "route": route.name,
        "outcome": outcome,
        "try": number,
    }
    if seconds is not None:
        payload["duration_ms"] = round(seconds * 1000)
    if reason:
        payload["reason"] = reason[:300]
    PaymentEvent.objects.create(
        attempt=attempt,
        kind=PaymentEvent.Kind.ROUTE,
        actor="routing",
        message=message[:500],
        payload=payload,
    )
    metrics.record_route_try(
        method=attempt.method.code, route=route.provider, outcome=outcome, seconds=seconds
    )


def _route_take(*, attempt: PaymentAttempt, route: PaymentRoute, number: int) -> PaymentAttempt:
    """Point the attempt at the route it is about to be sent on, before the call: from here on a
    webhook, a redirect's return or reconciliation finds this route. One conditional UPDATE
    (only while the attempt is `sent`), none when it already points there."""
    route_id = route.pk  # None for a method without route rows: its own provider carries it
    if (attempt.provider, attempt.route_id, attempt.route_try) == (
        route.provider,
        route_id,
        number,
    ):
        return attempt
    moved = PaymentAttempt.objects.filter(pk=attempt.pk, status=S.SENT).update(
        provider=route.provider, route_id=route_id, route_try=number, updated_at=timezone.now()
    )
    if not moved:
        return PaymentAttempt.objects.select_related("method").get(pk=attempt.pk)
    attempt.provider, attempt.route_id, attempt.route_try = route.provider, route_id, number
    return attempt


def _charge(route: PaymentRoute, request: ChargeRequest) -> ChargeResult:
    if route.simulate_refused and route.provider in SIMULATOR_PROVIDERS:
        # The demo's and the tests' way to have a fake provider refuse connections.
        raise NotCharged(f"{route.provider}: connection refused (simulated)")
    return get_gateway(route.provider).charge(request)


def attempt_route_send(*, attempt: PaymentAttempt) -> PaymentAttempt:
    """Send a `sent` attempt along its method's routes and record what came back.

    No lock is held during a provider call (the attempt is `sent`, which already blocks any
    other attempt for the order).
    """
    from .attempts import (
        _attempt_mark_unknown,
        _provider_error,
        attempt_apply_result,
        charge_request,
    )
    from .health import health_record

    routes = routes_for(method=attempt.method, amount=attempt.amount, currency=attempt.currency)
    passed: list[str] = []  # routes that could not take it, in words for the timeline
    # `number` is the route's place in the walk: 1 is the method's first route, more means the
    # attempt was passed on (failover), and it names the route's key (provider_key).
    for number, route in enumerate(routes, start=1):
        if not route_admit(route=route, attempt=attempt):
            _route_event(
                attempt=attempt,
                route=route,
                outcome=SKIPPED,
                number=number,
                message=f"{route.name}: circuit open, skipped",
            )
            passed.append(f"{route.name} unavailable")
            continue
        attempt = _route_take(attempt=attempt, route=route, number=number)
        if attempt.status != S.SENT:
            return attempt
        sent_to = " → ".join([*passed, f"sent to {route.name}"])
        started = time.monotonic()
        technical = False
        try:
            result = _charge(route, charge_request(attempt))
        except NotCharged as exc:
            seconds = time.monotonic() - started
            _route_event(
                attempt=attempt,
                route=route,
                outcome=NOT_CHARGED,
                number=number,
                seconds=seconds,
                reason=str(exc),
                message=f"{route.name} did not charge: {exc}",
            )
            route_health_record(route=route, attempt=attempt, technical=True)
            passed.append(f"{route.name} unavailable")
            continue
        except InvalidPaymentDetails as exc:
            result = ChargeResult(outcome=Outcome.FAILED, reference="", failure_code=exc.code)
        except ProviderRejected as exc:
            # Refused before anything was charged, but not documented as "try elsewhere":
            # a failure of ours, not the customer's, and not a reason to move on.
            _provider_error(attempt=attempt, error=exc, provider=route.provider)
            result = ChargeResult(outcome=Outcome.FAILED, reference="", failure_code=exc.code)
            technical = True
        except Exception as exc:  # noqa: BLE001 - a timeout or anything else: it may have charged
            seconds = time.monotonic() - started
            if not isinstance(exc, GatewayError):
                logger.exception("attempt %s: unexpected error from %s", attempt.public_id, route)
            _route_event(
                attempt=attempt,
                route=route,
                outcome=UNKNOWN,
                number=number,
                seconds=seconds,
                reason=f"{type(exc).__name__}: {exc}",
                message=f"{sent_to}: no answer, confirming there",
            )
            route_health_record(route=route, attempt=attempt, technical=True)
            attempt = _attempt_mark_unknown(attempt=attempt, error=exc, provider=route.provider)
            health_record(attempt=attempt, technical=True)
            return attempt
        seconds = time.monotonic() - started
        _route_event(
            attempt=attempt,
            route=route,
            outcome=ANSWERED,
            number=number,
            seconds=seconds,
            message=sent_to,
        )
        route_health_record(route=route, attempt=attempt, technical=technical)
        attempt = attempt_apply_result(
            attempt=attempt, result=result, actor=f"provider:{route.provider}"
        )
        health_record(attempt=attempt, technical=technical)
        return attempt
    return _routes_exhausted(attempt=attempt, passed=passed)


def _routes_exhausted(*, attempt: PaymentAttempt, passed: list[str]) -> PaymentAttempt:
    """No route could take the payment, and none charged: it fails with `method_unhealthy`
    (the catalog offers another method) and the method's health counts a technical failure."""
    from .attempts import _provider_error
    from .health import health_record
    from .transition import attempt_transition

    reason = " → ".join(passed) or "no route carries this payment"
    with transaction.atomic():
        attempt = PaymentAttempt.objects.select_for_update().get(pk=attempt.pk)
        if attempt.status != S.SENT:
            return attempt
        _provider_error(
            attempt=attempt, error=NotCharged(f"no route took the payment: {reason}"), provider=""
        )
        attempt.failure_code, attempt.failure_category = "method_unhealthy", "another_method"
        attempt_transition(
            attempt=attempt,
            to=S.FAILED,
            actor="routing",
            message=f"no route took the payment; nothing was charged ({reason})",
            extra_fields=("failure_code", "failure_category"),
        )
    health_record(attempt=attempt, technical=True)
    return attempt

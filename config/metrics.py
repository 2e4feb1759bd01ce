"""Prometheus metrics, counted where things happen, so a scrape reads counters instead of
scanning every attempt ever made.

Each process counts in memory (prometheus-client's default registry). Under several web
processes and Celery workers set PROMETHEUS_MULTIPROC_DIR to an empty folder shared by all of
them (wiped at each deploy, before any process starts): each process then writes its counts to
files there and a scrape of any web process adds them all up. The variable must be set before
the processes start, because prometheus-client chooses how to store values when it is imported.

Counts are added when the transaction that made the change commits: a rolled-back settlement
never counted. They start at zero with each deploy (or process, without the shared folder);
Prometheus' rate() and increase() are built for that.
"""

from __future__ import annotations

import os

from django.db import transaction
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
# Seconds from an attempt's creation to its final answer: card payments land in the first
# buckets, bank redirects and "unknown" answers settled by reconciliation in the last.
CONFIRMATION_BUCKETS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)

# The *_created series would be one more line per label set, meaningless across processes.
disable_created_metrics()

PAYMENT_ATTEMPTS = Counter(
    "checkout_payment_attempts",
    "Payment attempts that got their final answer, by method and final status "
    "(succeeded, failed, canceled). Success rate: succeeded / all, per method.",
    ["method", "status"],
)
LATE_CONFIRMATIONS = Counter(
    "checkout_payment_late_confirmations",
    "Attempts we had failed or canceled that the provider later said were paid.",
    ["method"],
)
CONFIRMATION_SECONDS = Histogram(
    "checkout_payment_confirmation_seconds",
    "Time from an attempt's creation to its final answer.",
    ["method"],
    buckets=CONFIRMATION_BUCKETS,
)
REFUNDS = Counter(
    "checkout_refunds",
    "Refund status changes, by the status reached (succeeded, failed).",
    ["status"],
)
WEBHOOK_EVENTS = Counter(
    "checkout_webhook_events",
    "Provider events: received (new), duplicate, rejected (bad signature or body), "
    "processed (acted on), ignored (not ours or not an event we act on).",
    ["provider", "outcome"],
)
ROUTE_TRIES = Counter(
    "checkout_payment_route_tries",
    "Tries of a payment route (issue 15), by outcome: answered, unknown (timeout or no "
    "answer: stays on the route), not_charged (moved on), skipped (circuit open).",
    ["method", "route", "outcome"],
)
ROUTE_SECONDS = Histogram(
    "checkout_payment_route_seconds",
    "How long one route's charge call took (answered, unknown or not charged).",
    ["method", "route"],
    buckets=(0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0),
)
FAILOVER_SAVES = Counter(
    "checkout_payment_failover_saves",
    "Payments paid on a later route after an earlier one was skipped (circuit open) or "
    "certainly did not charge, by the route that took them. Last day: increase(...[24h]).",
    ["method", "route"],
)
OUTBOX_DELIVERIES = Counter(
    "checkout_outbox_deliveries",
    "Outbox deliveries by outcome (for example sent, retried, given_up).",
    ["outcome"],
)


def _after_commit(action: object) -> None:
    transaction.on_commit(action)  # type: ignore[arg-type]


def record_attempt_settled(*, method: str, status: str, seconds: float) -> None:
    """An attempt got its first final answer (`status`) `seconds` after it was created;
    counted when the transaction commits. Payments decides what counts as settled."""

    def count() -> None:
        PAYMENT_ATTEMPTS.labels(method=method, status=status).inc()
        CONFIRMATION_SECONDS.labels(method=method).observe(max(seconds, 0.0))

    _after_commit(count)


def record_late_confirmation(*, method: str) -> None:
    """An attempt we had failed or canceled was paid after all; counted when it commits."""
    _after_commit(lambda: LATE_CONFIRMATIONS.labels(method=method).inc())


def record_refund(*, status: str) -> None:
    """A refund reached `status`; counted when the transaction commits."""
    _after_commit(lambda: REFUNDS.labels(status=status).inc())


def record_webhook(*, provider: str, outcome: str) -> None:
    """A provider event was received, found duplicate, rejected, processed or ignored."""
    _after_commit(lambda: WEBHOOK_EVENTS.labels(provider=provider, outcome=outcome).inc())


def record_route_try(*, method: str, route: str, outcome: str, seconds: float | None) -> None:
    """One route try ended with `outcome`; counted when the transaction commits."""

    def count() -> None:
        ROUTE_TRIES.labels(method=method, route=route, outcome=outcome).inc()
        if seconds is not None:
            ROUTE_SECONDS.labels(method=method, route=route).observe(max(seconds, 0.0))

    _after_commit(count)


def record_failover_saved(*, method: str, route: str) -> None:
    """A payment failover saved was paid (on `route`); counted when the transaction commits."""
    _after_commit(lambda: FAILOVER_SAVES.labels(method=method, route=route).inc())


def record_outbox(outcome: str) -> None:
    """One outbox delivery ended with `outcome` (sent, retried, given_up...). Counted at once:
    the caller calls it after the delivery's own commit."""
    OUTBOX_DELIVERIES.labels(outcome=outcome).inc()


def render_counters() -> bytes:
    """The counters and histograms in Prometheus text: every process's when they share
    PROMETHEUS_MULTIPROC_DIR, else this process's."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)

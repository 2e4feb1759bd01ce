"""Operational endpoints."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.db import connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from kombu import Connection
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from payments.models import MethodHealth, PaymentMethod, PaymentRoute, WebhookEvent

from . import metrics as app_metrics

logger = logging.getLogger(__name__)

# /healthz answers within this many seconds whatever is down: load balancers poll it with a
# timeout of their own (often 2 s) and a hung check would read as "this web process is dead".
HEALTHZ_DEADLINE_SECONDS = 1.5
# The broker probe's own connect and socket timeouts (the cache's come from CACHES, the
# database's from DB_CONNECT_TIMEOUT); the deadline above bounds the answer in any case.
BROKER_PROBE_TIMEOUT_SECONDS = 1.0


def _check_database() -> None:
    # Runs in a probe thread, so this is a connection of its own (from the pool on
    # PostgreSQL); closing it hands it back instead of leaking one per poll.
    connection = connections["default"]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        connection.close()


def _check_cache(cache: BaseCache) -> None:
    key, value = f"healthz:{uuid.uuid4().hex}", "ok"
    cache.set(key, value, timeout=10)
    if cache.get(key) != value:
        raise RuntimeError("cache did not return what was stored")
    cache.delete(key)


def _check_broker() -> None:
    options = dict(getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}))
    if settings.CELERY_BROKER_URL.startswith("redis"):
        # A frozen Redis accepts the TCP connection and then never answers the PING.
        options |= {
            "socket_timeout": BROKER_PROBE_TIMEOUT_SECONDS,
            "socket_connect_timeout": BROKER_PROBE_TIMEOUT_SECONDS,
        }
    with Connection(
        settings.CELERY_BROKER_URL,
        transport_options=options,
        connect_timeout=BROKER_PROBE_TIMEOUT_SECONDS,
    ) as conn:
        # One try, no retry loop: kombu's retries sleep 2 s between tries.
        conn.ensure_connection(max_retries=0, timeout=BROKER_PROBE_TIMEOUT_SECONDS)
        # The filesystem transport "connects" to anything; prove its queue folder takes writes.
        if settings.CELERY_BROKER_URL.startswith("filesystem"):
            folder = Path(options["data_folder_in"])
            folder.mkdir(parents=True, exist_ok=True)
            probe = folder / f".healthz-{uuid.uuid4().hex}"
            probe.write_bytes(b"ok")
            probe.unlink()


def _probes() -> dict[str, Callable[[], None]]:
    # The cache object is taken here, on the request's thread (Django keeps one per thread), and
    # used from the probe thread: one redis-py pool per process instead of one per poll.
    cache = caches["default"]
    return {
        "database": _check_database,
        "cache": lambda: _check_cache(cache),
        "broker": _check_broker,
    }


# Tests replace an entry to break one service; None means "the real probe".
CHECKS: dict[str, Callable[[], None] | None] = {"database": None, "cache": None, "broker": None}


@dataclass
class _Probe:
    name: str
    started: float
    outcome: dict[str, Any] | None = None
    finished: threading.Event = field(default_factory=threading.Event)


# A probe that missed the deadline and is still waiting on its service, by check name. While it
# waits, polls report that service down without starting another probe, so a frozen service
# cannot pile up one stuck thread per poll. Per process and not about money: losing it is harmless.
_stuck: dict[str, _Probe] = {}
_stuck_lock = threading.Lock()


def _reason(exc: BaseException) -> str:
    """A short, fixed description: /healthz is public, so no host names or driver messages."""
    text = f"{type(exc).__name__} {exc}".lower()
    if isinstance(exc, TimeoutError) or "timeout" in text or "timed out" in text:
        return "timed out"
    if isinstance(exc, ConnectionRefusedError) or "refused" in text:
        return "connection refused"
    if isinstance(exc, ConnectionError) or "connect" in text:
        return "cannot connect"
    return "check failed"


def _run(probe: _Probe, check: Callable[[], None]) -> None:
    try:
        check()
    except Exception as exc:  # noqa: BLE001 - any failure means "down", reported by name
        logger.warning("healthz: %s is down", probe.name, exc_info=True)
        outcome: dict[str, Any] = {
            "ok": False,
            "state": "down",
            "error": type(exc).__name__,
            "reason": _reason(exc),
        }
    else:
        outcome = {"ok": True, "state": "ok"}
    outcome["ms"] = round((time.monotonic() - probe.started) * 1000, 1)
    with _stuck_lock:
        probe.outcome = outcome
        probe.finished.set()
        if _stuck.get(probe.name) is probe:
            del _stuck[probe.name]


def run_checks(deadline: float = HEALTHZ_DEADLINE_SECONDS) -> dict[str, dict[str, Any]]:
    """Every probe at once, each in a thread of its own, waited for until one shared deadline:
    the answer takes at most `deadline` seconds even when every service is frozen."""
    started = time.monotonic()
    real = _probes()
    probes: list[_Probe] = []
    results: dict[str, dict[str, Any]] = {}
    for name, override in CHECKS.items():
        with _stuck_lock:
            waiting = _stuck.get(name)
        if waiting is not None:
            results[name] = {
                "ok": False,
                "state": "down",
                "error": "NoAnswer",
                "reason": "still waiting for the previous probe, started "
                f"{time.monotonic() - waiting.started:.0f} s ago",
                "ms": 0.0,
            }
            continue
        probe = _Probe(name=name, started=time.monotonic())
        thread = threading.Thread(
            target=_run, args=(probe, override or real[name]), name=f"healthz-{name}", daemon=True
        )
        thread.start()
        probes.append(probe)
    for probe in probes:
        probe.finished.wait(max(0.0, started + deadline - time.monotonic()))
        with _stuck_lock:
            if probe.outcome is not None:
                results[probe.name] = probe.outcome
                continue
            _stuck[probe.name] = probe
        results[probe.name] = {
            "ok": False,
            "state": "down",
            "error": "NoAnswer",
            "reason": f"no answer within {deadline:g} s",
            "ms": round((time.monotonic() - probe.started) * 1000, 1),
        }
    return {name: results[name] for name in CHECKS}


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """State of each backing service (database, cache, broker: ok or down, and why), within
    HEALTHZ_DEADLINE_SECONDS: 200 when all answer, 503 when any does not."""
    results = run_checks()
    healthy = all(r["ok"] for r in results.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": results},
        status=200 if healthy else 503,
    )


def _metrics_allowed(request: HttpRequest) -> bool:
    """Staff, or a scraper holding METRICS_TOKEN; never the public."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_staff:
        return True
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    return bool(token) and constant_time_compare(header, f"Bearer {token}")


def _queue_length() -> int | None:
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    if settings.CELERY_BROKER_URL.startswith("filesystem"):
        folder = Path(str(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]))
        return sum(1 for path in folder.glob("*.msg") if queue in path.read_text(errors="ignore"))
    if settings.CELERY_BROKER_URL.startswith("redis"):
        import redis

        return int(redis.Redis.from_url(settings.CELERY_BROKER_URL).llen(queue))
    return None


class _CurrentState(Collector):
    """Gauges read at scrape time from small tables and the broker, never from attempts:
    each method's health, each route's circuit, the task queue's length and the webhook
    backlog's age."""

    def collect(self) -> Iterator[Metric]:
        from django.utils import timezone

        health = GaugeMetricFamily(
            "checkout_payment_method_health",
            "1 for the state each method is in.",
            labels=["method", "state"],
        )
        # One query: a method with no health row has never tripped, so it is healthy.
        for code, state in PaymentMethod.objects.order_by("code").values_list(
            "code", "health__state"
        ):
            current = state or MethodHealth.State.HEALTHY
            for candidate in MethodHealth.State.values:
                health.add_metric([code, candidate], 1 if candidate == current else 0)
        yield health
        routes = GaugeMetricFamily(
            "checkout_payment_route_health",
            "1 for the state each route's circuit is in (issue 15).",
            labels=["method", "route", "state"],
        )
        for code, provider, state in PaymentRoute.objects.order_by(
            "method__code", "priority", "pk"
        ).values_list("method__code", "provider", "health__state"):
            current = state or MethodHealth.State.HEALTHY
            for candidate in MethodHealth.State.values:
                routes.add_metric([code, provider, candidate], 1 if candidate == current else 0)
        yield routes
        queued = _queue_length()
        if queued is not None:
            queue = GaugeMetricFamily(
                "checkout_task_queue_length", "Tasks waiting in the Celery queue.", labels=["queue"]
            )
            queue.add_metric([settings.CELERY_TASK_DEFAULT_QUEUE], queued)
            yield queue
        oldest = (
            WebhookEvent.objects.filter(processed_at__isnull=True)
            .order_by("received_at")
            .values_list("received_at", flat=True)
            .first()
        )
        lag = (timezone.now() - oldest).total_seconds() if oldest else 0.0
        yield GaugeMetricFamily(
            "checkout_webhook_lag_seconds",
            "Age of the oldest webhook event not processed yet.",
            value=round(lag, 3),
        )


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text: attempts by method and final status, confirmation time, refunds,
    webhook events and outbox deliveries (counted as they happen, see config.metrics), then
    method health, task queue length and webhook lag read now."""
    if not _metrics_allowed(request):
        return HttpResponse("forbidden\n", status=403, content_type="text/plain")
    state = CollectorRegistry(auto_describe=False)
    state.register(_CurrentState())
    body = app_metrics.render_counters() + generate_latest(state)
    return HttpResponse(body, content_type=app_metrics.CONTENT_TYPE)


FAVICON = Path(settings.BASE_DIR) / "static" / "favicon.ico"


@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    """/favicon.ico, which browsers and feed readers ask for at the root whatever the page
    links: the same icon as static/favicon.ico (base.html links the SVG and this)."""
    response = HttpResponse(FAVICON.read_bytes(), content_type="image/x-icon")
    response["Cache-Control"] = "public, max-age=86400"
    return response


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler404: an address under the API that names nothing (a payment id that is not a
    UUID, a path no route has) answers the API's documented error shape, not an HTML page."""
    from django.utils.translation import gettext as _
    from django.views import defaults

    from .input_guard import API_PREFIX

    if request.path_info.startswith(API_PREFIX):
        detail = _("Nothing was found at this address.")
        return JsonResponse({"error": "not_found", "detail": detail}, status=404)
    return defaults.page_not_found(request, exception)

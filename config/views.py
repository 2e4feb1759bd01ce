"""Operational endpoints."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from kombu import Connection
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from . import metrics as app_metrics


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_cache() -> None:
    key, value = f"healthz:{uuid.uuid4().hex}", "ok"
    cache.set(key, value, timeout=10)
    if cache.get(key) != value:
        raise RuntimeError("cache did not return what was stored")
    cache.delete(key)


def _check_broker() -> None:
    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {})
    with Connection(
        settings.CELERY_BROKER_URL, transport_options=options, connect_timeout=2
    ) as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        # The filesystem transport "connects" to anything; prove its queue folder takes writes.
        if settings.CELERY_BROKER_URL.startswith("filesystem"):
            folder = Path(options["data_folder_in"])
            folder.mkdir(parents=True, exist_ok=True)
            probe = folder / f".healthz-{uuid.uuid4().hex}"
            probe.write_bytes(b"ok")
            probe.unlink()


CHECKS = {"database": _check_database, "cache": _check_cache, "broker": _check_broker}


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """State of each backing service: 200 when all answer, 503 when any does not."""
    results: dict[str, dict[str, object]] = {}
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - any failure means "down", reported by name
            results[name] = {"ok": False, "error": type(exc).__name__}
        else:
            results[name] = {"ok": True}
        results[name]["ms"] = round((time.perf_counter() - started) * 1000, 1)
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
    each method's health, the task queue's length and the webhook backlog's age."""

    def collect(self) -> Iterator[Metric]:
        from django.utils import timezone

        from payments.models import MethodHealth, PaymentMethod, WebhookEvent

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

"""Operational endpoints."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from kombu import Connection


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

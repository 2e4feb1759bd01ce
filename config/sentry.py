"""Error tracking with Sentry, on only when SENTRY_DSN is set (settings.py calls sentry_init)."""

from __future__ import annotations

from typing import Any

from .request_context import current_request_id


def _tag_request_id(event: Any, hint: Any) -> Any:
    """Tag every event with the request (or task) id, the key to our logs for that failure."""
    request_id = current_request_id()
    if request_id:
        event.setdefault("tags", {})["request_id"] = request_id
    return event


def sentry_init(
    *,
    dsn: str,
    environment: str,
    release: str,
    traces_sample_rate: float,
    transport: Any = None,
) -> bool:
    """Start the Sentry SDK for Django and Celery; without a DSN nothing is started (no client,
    no patching, no network). Returns whether it started. `transport` is for tests."""
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    options: dict[str, Any] = {}
    if transport is not None:
        options["transport"] = transport
    sentry_sdk.init(
        dsn=dsn,
        environment=environment or None,
        release=release or None,
        # Customers' emails, addresses and IPs stay out of a third party's hands.
        send_default_pii=False,
        traces_sample_rate=traces_sample_rate,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        before_send=_tag_request_id,
        **options,
    )
    return True

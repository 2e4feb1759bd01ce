"""The outbox's two Celery tasks: deliver one message, and the periodic sweep."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(acks_late=True, ignore_result=True)
def deliver(message_id: int) -> str:
    return services.outbox_deliver(message_id=message_id)


@shared_task(acks_late=True, ignore_result=True)
def sweep() -> int:
    """Every OUTBOX_SWEEP_SECONDS (beat): deliver what the broker never brought."""
    return services.outbox_sweep()

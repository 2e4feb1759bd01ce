from __future__ import annotations

from typing import Any

from celery import shared_task

from outbox.services import outbox_handler

from . import services


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_reset_email(subject: str, body: str, to: str) -> None:
    """The password-reset email, sent by the worker so the page answers in the same time
    whether or not the address has an account (no enumeration by timing)."""
    from django.core.mail import EmailMessage

    EmailMessage(subject, body, to=[to]).send()


# No caller since SMS codes leave through the outbox (accounts.sms_code below): kept registered
# so that codes queued by the version before it are still sent during a deploy.
@shared_task
def send_phone_code(code_id: int, body: str) -> None:
    """Send the SMS for one code. Safe to run twice (a second SMS with the same code)."""
    services.phone_code_deliver(code_id=code_id, body=body)


@shared_task
def purge_deleted_addresses() -> int:
    """Periodic (CELERY_BEAT_SCHEDULE): addresses deleted over ADDRESS_RESTORE_DAYS ago, and
    SMS codes that are long dead."""
    purged = services.address_purge_expired()
    services.phone_code_purge_expired()
    return purged


# --- Outbox handlers --------------------------------------------------------------------------


@outbox_handler("accounts.reset_email")
def _reset_email(payload: dict[str, Any]) -> object:
    send_reset_email(payload["subject"], payload["body"], payload["to"])
    return None


@outbox_handler("accounts.sms_code")
def _sms_code(payload: dict[str, Any]) -> object:
    services.phone_code_deliver(code_id=payload["code_id"], body=payload["body"])
    return None

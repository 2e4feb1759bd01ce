"""Celery tasks: thin, take ids, safe to run twice, acknowledged only after they finish."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.core.mail import mail_admins, send_mail
from django.db import OperationalError
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from . import services
from .failures import failure_for
from .models import PaymentAttempt


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=10)
def process_webhook_event(event_pk: int) -> str:
    return services.webhook_process(event_pk=event_pk).outcome


@shared_task(acks_late=True)
def reconcile_payments() -> dict[str, int]:
    """Every minute (beat): settle waiting attempts and re-queue events whose task was lost."""
    return {
        "settled": services.reconcile_attempts(),
        "expired": services.expire_waiting_actions(),
        "requeued": services.webhook_requeue_stale(),
    }


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def simulator_settle(reference: str) -> None:
    """The simulator's provider side finishing a slow payment, then telling us by webhook."""
    from .gateways.simulator import simulator_settle as settle

    settle(reference)


def _order_link(order: object) -> str:
    number, secret = order.number, order.client_secret  # type: ignore[attr-defined]
    return settings.SITE_URL + reverse("checkout:order_status", args=[number]) + f"?key={secret}"


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def notify_payment_failed(attempt_id: int) -> bool:
    """A payment the customer left pending has failed: tell them why and how to finish."""
    attempt = PaymentAttempt.objects.select_related("order", "method").get(pk=attempt_id)
    order = attempt.order
    if order.status != "pending" or attempt.status != PaymentAttempt.Status.FAILED:
        return False  # paid another way meanwhile: nothing to say
    entry = failure_for(attempt.failure_code, attempt.decline_code)
    context = {"order": order, "attempt": attempt, "failure": entry, "link": _order_link(order)}
    with translation.override(order.language):
        subject = render_to_string("emails/payment_failed_subject.txt", context).strip()
        body = render_to_string("emails/payment_failed.txt", context)
    send_mail(subject, body, None, [order.email])
    return True


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def notify_confirmation_timeout(attempt_id: int) -> None:
    """Tell the customer (in their language) and the admins that a payment was never confirmed."""
    attempt = PaymentAttempt.objects.select_related("order", "method").get(pk=attempt_id)
    order = attempt.order
    context = {"order": order, "attempt": attempt, "link": _order_link(order)}
    with translation.override(order.language):
        subject = render_to_string("emails/not_confirmed_subject.txt", context).strip()
        body = render_to_string("emails/not_confirmed.txt", context)
    send_mail(subject, body, None, [order.email])
    mail_admins(
        f"Payment not confirmed: order {order.number}",
        f"Attempt {attempt.public_id} ({attempt.method.code}, {attempt.amount} "
        f"{attempt.currency}) got no final answer from {attempt.provider} and was failed with "
        f"confirmation_timeout. Check the provider dashboard for reference "
        f"{attempt.provider_reference or '(none)'} before the customer pays again.",
    )


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def alert_health_change(event_pk: int) -> int:
    """Email the people who run payments when a method's health changes, recovery included."""
    from django.contrib.auth import get_user_model
    from django.db.models import Q

    from .models import MethodHealthEvent

    event = MethodHealthEvent.objects.select_related("method").get(pk=event_pk)
    User = get_user_model()
    recipients = sorted(
        User.objects.filter(is_active=True, is_staff=True)
        .filter(
            Q(is_superuser=True)
            | Q(user_permissions__codename="change_paymentmethod")
            | Q(groups__permissions__codename="change_paymentmethod")
        )
        .values_list("email", flat=True)
        .distinct()
    )
    recipients = sorted(set(recipients) | {email for _name, email in settings.ADMINS})
    if not recipients:
        return 0
    send_mail(
        f"Payment method {event.method.code}: {event.from_state} -> {event.to_state}",
        f"{event.method.label_en} is now {event.to_state} ({event.reason}) since "
        f"{event.created_at:%Y-%m-%d %H:%M:%S %Z}.",
        None,
        recipients,
    )
    return len(recipients)

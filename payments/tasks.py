"""Celery tasks: thin, take ids, safe to run twice, acknowledged only after they finish."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings
from django.core.mail import mail_admins, send_mail
from django.db import OperationalError
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from outbox.services import outbox_handler

from . import services
from .failures import failure_for
from .models import PaymentAttempt


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=10)
def process_webhook_event(event_pk: int) -> str:
    return services.webhook_process(event_pk=event_pk).outcome


@shared_task(acks_late=True)
def reconcile_payments() -> dict[str, int]:
    """Every minute (beat): settle waiting attempts, re-queue events whose task was lost, and
    cancel attempts that were created but never sent."""
    return {
        "settled": services.reconcile_attempts(),
        "expired": services.expire_waiting_actions(),
        "requeued": services.webhook_requeue_stale(),
        "unsent": services.attempts_unsent_cancel(),
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
    from .models import MethodHealthEvent

    event = MethodHealthEvent.objects.select_related("method").get(pk=event_pk)
    recipients = _payment_admins()
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


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def alert_route_health_change(route_id: int, before: str, to: str, reason: str, at: str) -> int:
    """Email the people who run payments when a route's circuit moves, recovery included: the
    method may still be offered through its other routes, so its own health says nothing."""
    from .models import PaymentRoute

    route = PaymentRoute.objects.select_related("method").filter(pk=route_id).first()
    recipients = _payment_admins()
    if route is None or not recipients:
        return 0  # the route was deleted meanwhile: nothing left to say
    next_step = (
        " Payments for this method go to its next route until this one recovers."
        if to == "open"
        else ""
    )
    send_mail(
        f"Payment route {route.method.code}/{route.provider}: {before} -> {to}",
        f"{route.method.label_en} through {route.name} is now {to} ({reason}) since {at}."
        f"{next_step}",
        None,
        recipients,
    )
    return len(recipients)


def _staff_who_may(codename: str) -> list[str]:
    """ADMINS and the active staff holding the permission `codename` (superusers hold all)."""
    from django.contrib.auth import get_user_model
    from django.db.models import Q

    User = get_user_model()
    staff = (
        User.objects.filter(is_active=True, is_staff=True)
        .filter(
            Q(is_superuser=True)
            | Q(user_permissions__codename=codename)
            | Q(groups__permissions__codename=codename)
        )
        .values_list("email", flat=True)
        .distinct()
    )
    return sorted(set(staff) | {email for _name, email in settings.ADMINS})


def _payment_admins() -> list[str]:
    """ADMINS and the active staff who may change payment methods."""
    return _staff_who_may("change_paymentmethod")


@shared_task(acks_late=True)
def retry_refunds() -> int:
    """Every minute (beat): send pending refunds again with their own key, or give them up."""
    return services.refunds_retry_pending()


def _refund_staff() -> list[str]:
    """ADMINS and the active staff who may refund."""
    return _staff_who_may("add_refund")


_STAFF_ALERTS = {
    "given_up": (
        "Refund not confirmed: order {number}",
        "Refund {refund} of {amount} {currency} for order {number} got no final answer from "
        "{provider} within the limit and was failed with no_answer; its amount was given back "
        "(and, for a wallet top-up, the wallet credit). Check the provider dashboard for "
        "idempotency key {key} / reference {reference} before refunding again: if the provider "
        "did it after all, its event will record it as succeeded.",
    ),
    "late_success": (
        "Refund went through after all: order {number}",
        "Refund {refund} of {amount} {currency} for order {number} was given up (no_answer) "
        "but {provider} now reports it succeeded (key {key}, reference {reference}). It is "
        "recorded as succeeded; check no second refund was made meanwhile and tell the customer.",
    ),
    "overdue": (
        "Refund late: order {number}",
        "Refund {refund} of {amount} {currency} for order {number} was accepted by {provider} "
        "(reference {reference}) and should have arrived by {expected_by}, but the provider has "
        "not confirmed it. The customer's page says it is late. Check the provider dashboard "
        "and tell the customer what you find.",
    ),
    "late_success_over_amount": (
        "Refund went through after all, over the paid amount: order {number}",
        "Refund {refund} of {amount} {currency} for order {number} was given up (no_answer) "
        "but {provider} now reports it succeeded (key {key}, reference {reference}). Recording "
        "it would exceed what was paid, so nothing was recorded: check the provider dashboard.",
    ),
}


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def alert_refund_staff(refund_id: int, kind: str) -> bool:
    """Tell the people who refund what happened to a refund; a give-up is told once."""
    from django.db import transaction
    from django.utils import timezone

    from .models import Refund

    with transaction.atomic():
        refund = (
            Refund.objects.select_for_update(of=("self",))
            .select_related("attempt__order")
            .get(pk=refund_id)
        )
        if kind == "given_up":
            if refund.staff_alerted_at is not None:
                return False
            refund.staff_alerted_at = timezone.now()
            refund.save(update_fields=["staff_alerted_at"])
        subject, body = _STAFF_ALERTS[kind]
        values = {
            "refund": refund.public_id,
            "amount": refund.amount,
            "currency": refund.currency,
            "number": refund.attempt.order.number,
            "provider": refund.attempt.provider,
            "key": refund.provider_key,
            "reference": refund.provider_reference or "(none)",
            "expected_by": f"{refund.expected_by:%Y-%m-%d %H:%M %Z}" if refund.expected_by else "",
        }
        recipients = _refund_staff()
        if recipients:
            # Inside the lock: a failed send rolls the mark back and the task retries.
            send_mail(subject.format(**values), body.format(**values), None, recipients)
    return True


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def alert_unrecorded_refund(
    attempt_id: int, reference: str, amount: int, currency: str, why: str
) -> int:
    """A provider refund we could not record (it would exceed what was paid, or the money does
    not match): staff must look. Sent from the event's one processing, so once per event."""
    attempt = PaymentAttempt.objects.select_related("order").get(pk=attempt_id)
    number = attempt.order.number
    recipients = _refund_staff()
    if recipients:
        send_mail(
            f"Refund not recorded: order {number}",
            f"{attempt.provider} reports refund {reference} of {amount} {currency} for order "
            f"{number}, which we could not record: {why}. Check the provider dashboard.",
            None,
            recipients,
        )
    return len(recipients)


@shared_task(acks_late=True)
def alert_overdue_refunds() -> int:
    """Every 10 minutes (beat): tell agents about refunds past their expected arrival."""
    return services.refunds_alert_overdue()


def _money_back_link(refund: object) -> str:
    order = refund.attempt.order  # type: ignore[attr-defined]
    url = reverse("checkout:money_back", args=[refund.public_id])  # type: ignore[attr-defined]
    return settings.SITE_URL + url + f"?key={order.client_secret}"


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def notify_refund_customer(refund_id: int, notice: str = "") -> bool:
    """Tell the customer, in their language, that a refund was sent (when it should arrive and
    the reference their bank knows it by), or that it did not go and what happens now.
    Once per refund and notice: the mark is set under the row lock, with the send."""
    from django.db import transaction
    from django.utils import timezone

    from .arrival import money_back
    from .models import Refund

    with transaction.atomic():
        refund = (
            Refund.objects.select_for_update(of=("self",))
            .select_related("attempt__order")
            .get(pk=refund_id)
        )
        notice = notice or ("failed" if refund.status == Refund.Status.FAILED else "sent")
        if notice == "sent":
            # Not yet accepted, or it failed before the email went (that email says it all).
            due = refund.sent_at is not None and refund.status != Refund.Status.FAILED
            mark = "customer_notified_at"
        else:
            due = refund.status == Refund.Status.FAILED  # a late success takes it back
            mark = "failed_notified_at"
        if not due or getattr(refund, mark) is not None:
            return False
        order = refund.attempt.order
        # A failed withdrawal part went back to the wallet, like a top-up's refund.
        top_up = order.kind == "wallet_top_up" or refund.withdrawal_id is not None
        context = {
            "order": order,
            "refund": refund,
            "top_up": top_up,
            "link": _money_back_link(refund),
            "money_back": money_back(refund, now=timezone.now(), top_up=top_up),
        }
        name = "refund_sent" if notice == "sent" else "refund_failed"
        with translation.override(order.language):
            subject = render_to_string(f"emails/{name}_subject.txt", context).strip()
            body = render_to_string(f"emails/{name}.txt", context)
        setattr(refund, mark, timezone.now())
        refund.save(update_fields=[mark])
        # A failed send rolls the mark back, and the task's retry sends it.
        send_mail(subject, body, None, [order.email])
    return True


# --- Outbox handlers: each side effect of a state change, acted on once ----------------------
# A handler may run again after a crash between its effect and the row's mark; the receipts and
# refund notices keep their own marks, and the rest are keyed by the outbox row itself.


@outbox_handler("payments.webhook")
def _webhook(payload: dict[str, Any]) -> object:
    return services.webhook_process(event_pk=payload["event_id"]).outcome


@outbox_handler("payments.simulator_settle")
def _simulator_settle(payload: dict[str, Any]) -> object:
    from .gateways.simulator import simulator_settle as settle

    settle(payload["reference"])
    return None


@outbox_handler("payments.payment_failed")
def _payment_failed(payload: dict[str, Any]) -> object:
    return notify_payment_failed(payload["attempt_id"])


@outbox_handler("payments.confirmation_timeout")
def _confirmation_timeout(payload: dict[str, Any]) -> object:
    return notify_confirmation_timeout(payload["attempt_id"])


@outbox_handler("payments.health_alert")
def _health_alert(payload: dict[str, Any]) -> object:
    return alert_health_change(payload["event_id"])


@outbox_handler("payments.route_health_alert")
def _route_health_alert(payload: dict[str, Any]) -> object:
    return alert_route_health_change(
        payload["route_id"], payload["from"], payload["to"], payload["reason"], payload["at"]
    )


@outbox_handler("payments.refund_customer")
def _refund_customer(payload: dict[str, Any]) -> object:
    return notify_refund_customer(payload["refund_id"], payload.get("notice", ""))


@outbox_handler("payments.withdrawal_send")
def _withdrawal_send(payload: dict[str, Any]) -> object:
    return services.withdrawal_send(withdrawal_id=payload["withdrawal_id"]).status


@outbox_handler("payments.refund_staff")
def _refund_staff_alert(payload: dict[str, Any]) -> object:
    return alert_refund_staff(payload["refund_id"], payload["kind"])


@outbox_handler("payments.unrecorded_refund")
def _unrecorded_refund(payload: dict[str, Any]) -> object:
    return alert_unrecorded_refund(
        payload["attempt_id"],
        payload["reference"],
        payload["amount"],
        payload["currency"],
        payload["why"],
    )


@outbox_handler("payments.admin_mail")
def _admin_mail(payload: dict[str, Any]) -> object:
    """A staff alert written out when the state changed (refund needed, late payment)."""
    mail_admins(payload["subject"], payload["body"])
    return None

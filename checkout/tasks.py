from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from outbox.services import outbox_handler
from payments.failures import failure_for
from payments.models import IN_FLIGHT, PAID, PaymentAttempt

from .models import Order, OrderStatus


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_order_receipt(order_id: int) -> bool:
    """Email the receipt once.

    Safe to run twice: the order row lock and `receipt_sent_at` see to it.
    """
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status != OrderStatus.PAID or order.receipt_sent_at is not None:
            return False
        with translation.override(order.language):
            link = settings.SITE_URL + reverse("checkout:order_status", args=[order.number])
            context = {
                "order": order,
                "lines": list(order.lines.all()),
                # The attempt that paid, so a split payment shows both its parts.
                "payment": order.attempts.select_related("method").filter(status__in=PAID).first(),
                "link": f"{link}?key={order.client_secret}",
            }
            subject = render_to_string("emails/receipt_subject.txt", context).strip()
            body = render_to_string("emails/receipt.txt", context)
            html = render_to_string("emails/receipt.html", context)
        message = EmailMultiAlternatives(subject, body, to=[order.email])
        message.attach_alternative(html, "text/html")
        message.send()
        order.receipt_sent_at = timezone.now()
        order.save(update_fields=["receipt_sent_at", "updated_at"])
    return True


FOLLOW_UP_AFTER = timedelta(minutes=30)


@shared_task(acks_late=True)
def send_follow_ups() -> int:
    """Every few minutes (beat): remind customers whose payment failed 30+ minutes ago and whose
    order is still unpaid. One email per order, in its language, never after payment."""
    cutoff = timezone.now() - FOLLOW_UP_AFTER
    due = (
        Order.objects.filter(
            status=OrderStatus.PENDING,
            kind=Order.Kind.PURCHASE,
            follow_up_sent_at__isnull=True,
            follow_up_opt_out=False,
            attempts__status=PaymentAttempt.Status.FAILED,
            attempts__settled_at__lte=cutoff,
        )
        .exclude(attempts__status__in=sorted(IN_FLIGHT))
        .distinct()
        .values_list("pk", flat=True)[:200]
    )
    return sum(send_follow_up(pk) for pk in list(due))


def send_follow_up(order_id: int) -> bool:
    """The reminder for one order; the row lock and `follow_up_sent_at` make it once only."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if (
            order.status != OrderStatus.PENDING
            or order.follow_up_sent_at is not None
            or order.follow_up_opt_out
        ):
            return False
        attempt = order.attempts.select_related("method").first()
        if attempt is None or attempt.status != "failed":
            return False
        entry = failure_for(attempt.failure_code, attempt.decline_code)
        base = settings.SITE_URL + reverse("checkout:order_status", args=[order.number])
        opt_out = settings.SITE_URL + reverse("checkout:order_no_reminders", args=[order.number])
        context = {
            "order": order,
            "failure": entry,
            "link": f"{base}?key={order.client_secret}",
            "opt_out": f"{opt_out}?key={order.client_secret}",
        }
        with translation.override(order.language):
            subject = render_to_string("emails/follow_up_subject.txt", context).strip()
            body = render_to_string("emails/follow_up.txt", context)
        EmailMultiAlternatives(subject, body, to=[order.email]).send()
        order.follow_up_sent_at = timezone.now()
        order.save(update_fields=["follow_up_sent_at", "updated_at"])
    return True


# --- Outbox handlers: each side effect of a state change, acted on once ----------------------


@outbox_handler("checkout.receipt")
def _receipt(payload: dict[str, Any]) -> object:
    return send_order_receipt(payload["order_id"])


@outbox_handler("checkout.claim_email")
def _claim_email(payload: dict[str, Any]) -> object:
    from .claims import order_claim_email_send

    order_claim_email_send(user_id=payload["user_id"], language=payload["language"])
    return None


@outbox_handler("checkout.refund_request_declined")
def _refund_request_declined(payload: dict[str, Any]) -> object:
    return send_refund_request_declined(payload["request_id"])


def send_refund_request_declined(request_id: int) -> bool:
    """Tell the customer, in the order's language, that their refund request was declined and
    why. Sent from the outbox row the decline wrote, so once per decline."""
    from .models import RefundRequest

    request = RefundRequest.objects.select_related("order").get(pk=request_id)
    if request.status != RefundRequest.Status.DECLINED:
        return False
    order = request.order
    base = settings.SITE_URL + reverse("checkout:order_status", args=[order.number])
    context = {"order": order, "request": request, "link": f"{base}?key={order.client_secret}"}
    with translation.override(order.language):
        subject = render_to_string("emails/refund_request_declined_subject.txt", context).strip()
        body = render_to_string("emails/refund_request_declined.txt", context)
    EmailMultiAlternatives(subject, body, to=[order.email]).send()
    return True

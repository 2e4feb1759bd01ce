from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

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

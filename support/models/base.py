"""What tickets and chats share: what they are about, and the record of emails the desk sent."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AboutPayment(models.Model):
    """What a ticket or chat is about, when it is about a payment: the order, the attempt
    (whose timeline agents read) and the failure code the customer was shown."""

    order = models.ForeignKey(
        "checkout.Order",
        verbose_name=_("order"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="%(class)ss",
    )
    attempt = models.ForeignKey(
        "payments.PaymentAttempt",
        verbose_name=_("payment attempt"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="%(class)ss",
    )
    failure_code = models.CharField(_("failure code"), max_length=60, blank=True)

    class Meta:
        abstract = True


class SentNotification(models.Model):
    """One row per email the desk sent, so a task that runs twice sends once."""

    key = models.CharField(max_length=120, unique=True)
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("sent notification")
        verbose_name_plural = _("sent notifications")

    def __str__(self) -> str:
        return self.key

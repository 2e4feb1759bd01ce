"""The provider's side: webhook events as received, and the simulator's charges and refunds."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class SimulatedCharge(models.Model):
    """The simulator's side of the world: what the 'provider' did for each idempotency key.

    Like Stripe, the simulator answers a repeated idempotency key with the first answer, so counting
    these rows counts provider charges.
    """

    # Which simulator route ("simulator" or "simulator_b"): each has its own idempotency space.
    provider = models.CharField(max_length=20, default="simulator")
    idempotency_key = models.CharField(max_length=255)
    reference = models.CharField(max_length=64, unique=True)
    payment_method = models.CharField(max_length=100)
    amount = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=20)
    failure_code = models.CharField(max_length=60, blank=True)
    decline_code = models.CharField(max_length=60, blank=True)
    refunded = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "idempotency_key"], name="payments_simcharge_key_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.status}"


class WebhookEvent(models.Model):
    """A provider event, stored once by its id before anything acts on it."""

    provider = models.CharField(max_length=20)
    event_id = models.CharField(max_length=100)
    type = models.CharField(max_length=100)
    payload = models.JSONField()
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    deliveries = models.PositiveIntegerField(default=1)
    # Processing tries that failed; past PAYMENTS_WEBHOOK_MAX_TRIES the event is given up.
    tries = models.PositiveIntegerField(default=0)
    outcome = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-received_at"]
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        constraints = [
            # Deduplication: a redelivered event finds its row instead of making a second one.
            models.UniqueConstraint(
                fields=["provider", "event_id"], name="payments_webhook_event_once"
            ),
        ]
        indexes = [
            # The sweeper re-queues events whose processing task was lost.
            models.Index(
                fields=["processed_at", "received_at"], name="payments_webhook_unprocessed"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider}:{self.event_id} {self.type}"


class SimulatedRefund(models.Model):
    """The simulator's record of a refund, one per idempotency key (like Stripe's)."""

    idempotency_key = models.CharField(max_length=255, unique=True)
    reference = models.CharField(max_length=64, unique=True)
    charge = models.ForeignKey(SimulatedCharge, on_delete=models.PROTECT, related_name="refunds")
    amount = models.PositiveBigIntegerField()
    status = models.CharField(max_length=20)
    failure_reason = models.CharField(max_length=60, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.reference} {self.status}"

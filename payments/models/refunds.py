"""Money going back for a paid attempt, and the refund status table."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .attempts import PaymentAttempt


class RefundStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


# The only moves a refund may make. A refund is pending until the provider answers; it never
# goes back to pending, and a settled refund stays settled...
REFUND_ALLOWED: dict[str, frozenset[str]] = {
    RefundStatus.PENDING: frozenset({RefundStatus.SUCCEEDED, RefundStatus.FAILED}),
    RefundStatus.SUCCEEDED: frozenset(),
    RefundStatus.FAILED: frozenset(),
}
# ...except one: we gave up waiting for the provider (`no_answer`) and it then says the money
# went back after all. The money really moved, so it is recorded, never ignored.
REFUND_LATE_SUCCESS = (RefundStatus.FAILED, RefundStatus.SUCCEEDED)
REFUND_NO_ANSWER = "no_answer"
# The idempotency key a provider sees for a refund, and the metadata that names it.
REFUND_KEY_PREFIX = "refund-"


class Refund(models.Model):
    """Money going back for a paid attempt: to the original method or to the wallet."""

    Status = RefundStatus

    class Destination(models.TextChoices):
        ORIGINAL = "original", _("Original payment method")
        WALLET = "wallet", _("Wallet")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    attempt = models.ForeignKey(PaymentAttempt, on_delete=models.PROTECT, related_name="refunds")
    amount = models.PositiveBigIntegerField(_("amount (minor units)"))
    # Of a split payment's refund: the part that gives back what the wallet paid. It goes back
    # to the wallet whatever the destination; the rest goes to the destination chosen.
    wallet_amount = models.PositiveBigIntegerField(_("back to the wallet (minor units)"), default=0)
    currency = models.CharField(_("currency"), max_length=3)
    destination = models.CharField(
        _("refund to"), max_length=20, choices=Destination.choices, default=Destination.ORIGINAL
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.PENDING
    )
    reason = models.CharField(_("reason"), max_length=200)
    # The key staff's request came with (API header or the admin form's hidden field): a
    # repeated request finds this refund instead of refunding again. Empty for refunds the
    # provider told us about but we did not make.
    idempotency_key = models.CharField(_("idempotency key"), max_length=255, blank=True)
    # Hash of what was asked for, to tell a replay (same key, same request) from a misuse.
    request_fingerprint = models.CharField(max_length=64, blank=True)
    provider_reference = models.CharField(max_length=100, blank=True)
    failure_reason = models.CharField(max_length=100, blank=True)
    created_by = models.CharField(max_length=120)
    created_at = models.DateTimeField(default=timezone.now)
    settled_at = models.DateTimeField(null=True, blank=True)
    # A pending refund is sent again (same key) from this moment on, with a growing delay.
    next_send_at = models.DateTimeField(null=True, blank=True)
    sends = models.PositiveSmallIntegerField(default=1)
    # When the provider accepted the refund (a reference back, or done at once), and when the
    # money should be there by then (payments.arrival.ARRIVAL_DAYS per method kind).
    sent_at = models.DateTimeField(_("sent to the provider"), null=True, blank=True)
    expected_by = models.DateTimeField(_("expected by"), null=True, blank=True)
    # The provider's last word on a refund it accepted but has not finished ("pending",
    # "processing"): the customer reads "on its way".
    provider_status = models.CharField(max_length=30, blank=True)
    # Set under the row lock by the task that emails the customer that the refund was sent
    # (accepted by the provider, or done): one such email per refund.
    customer_notified_at = models.DateTimeField(null=True, blank=True)
    # The same for the email that says the refund did not go and what happens next.
    failed_notified_at = models.DateTimeField(null=True, blank=True)
    # Set by the sweep that tells agents the expected date passed unconfirmed: once per refund.
    overdue_alerted_at = models.DateTimeField(null=True, blank=True)
    # Set by the task that tells staff we gave up waiting: one alert per refund.
    staff_alerted_at = models.DateTimeField(null=True, blank=True)
    # Set for a part of a customer's wallet withdrawal: the money leaves the wallet (held when
    # the withdrawal was requested) and goes back to this attempt's method.
    withdrawal = models.ForeignKey(
        "payments.Withdrawal",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="parts",
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payments_refund_amount_gt_0"),
            models.CheckConstraint(
                condition=Q(wallet_amount__lte=models.F("amount")),
                name="payments_refund_wallet_part_within_amount",
            ),
            models.UniqueConstraint(
                fields=["idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="payments_refund_idempotency_key_once",
            ),
            # One row per provider refund, however many events (refund.*, charge.refunded)
            # and redeliveries tell us about it.
            models.UniqueConstraint(
                fields=["attempt", "provider_reference"],
                condition=~Q(provider_reference=""),
                name="payments_refund_provider_reference_once",
            ),
        ]
        indexes = [
            # The retry sweep scans pending refunds by their next send time.
            models.Index(fields=["status", "next_send_at"], name="payments_refund_retry"),
            # The overdue sweep scans pending refunds by their expected arrival.
            models.Index(fields=["status", "expected_by"], name="payments_refund_expected"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} ({self.status})"

    @property
    def provider_key(self) -> str:
        return f"{REFUND_KEY_PREFIX}{self.public_id}"

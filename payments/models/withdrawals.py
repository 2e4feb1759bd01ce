"""Cashing out a wallet: one request, paid back as refunds of what funded the balance."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .base import AppendOnly


class WithdrawalStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    SENDING = "sending", _("Sending")
    COMPLETED = "completed", _("Completed")
    PARTLY_FAILED = "partly_failed", _("Partly returned to your wallet")
    FAILED = "failed", _("Returned to your wallet")


W = WithdrawalStatus
# A withdrawal follows its parts (refunds): requested, then sending, then what they came to.
# The moves out of partly_failed / failed exist for one case only: a part we gave up waiting
# for (`no_answer`) that the provider then says went through (the refund table's late move).
WITHDRAWAL_ALLOWED: dict[str, frozenset[str]] = {
    W.REQUESTED: frozenset({W.SENDING, W.COMPLETED, W.PARTLY_FAILED, W.FAILED}),
    W.SENDING: frozenset({W.COMPLETED, W.PARTLY_FAILED, W.FAILED}),
    W.PARTLY_FAILED: frozenset({W.COMPLETED}),
    W.FAILED: frozenset({W.PARTLY_FAILED, W.COMPLETED}),
    W.COMPLETED: frozenset(),
}
WITHDRAWAL_OPEN = frozenset({W.REQUESTED, W.SENDING})


class Withdrawal(models.Model):
    """A customer's request to take money out of their wallet. The amount is held (debited from
    the wallet, one entry per part) when it is requested; each part is a `Refund` of a top-up or
    of a purchase refunded to the wallet, sent to where the money came from."""

    Status = WithdrawalStatus

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="withdrawals"
    )
    currency = models.CharField(_("currency"), max_length=3)
    amount = models.PositiveBigIntegerField(_("amount (minor units)"))
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.REQUESTED
    )
    # The key of the customer's confirm press (hidden form field or API header): a replay
    # finds this withdrawal instead of withdrawing again.
    idempotency_key = models.CharField(_("idempotency key"), max_length=255, unique=True)
    request_fingerprint = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("withdrawal")
        verbose_name_plural = _("withdrawals")
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="payments_withdrawal_amount_gt_0"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} ({self.status})"


class WithdrawalEvent(AppendOnly):
    """Every status change of a withdrawal: the audit trail support agents read."""

    withdrawal = models.ForeignKey(Withdrawal, on_delete=models.PROTECT, related_name="events")
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20)
    actor = models.CharField(max_length=120)
    message = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("withdrawal event")
        verbose_name_plural = _("withdrawal events")

    def __str__(self) -> str:
        return f"{self.from_status} -> {self.to_status}"

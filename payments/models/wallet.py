"""Prepaid balances and their append-only ledger."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .attempts import PaymentAttempt
from .base import AppendOnly

# Entry kinds that move money at most once per attempt (a database constraint says so).
ONCE_PER_ATTEMPT = ["payment", "release", "retake", "top_up"]


class Wallet(models.Model):
    """A prepaid balance. `balance` is the sum of the wallet's entries, kept in step under the
    wallet's row lock; the database refuses a negative balance whatever the code does."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="wallets"
    )
    currency = models.CharField(_("currency"), max_length=3)
    balance = models.BigIntegerField(_("balance (minor units)"), default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("wallet")
        verbose_name_plural = _("wallets")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "currency"], name="payments_one_wallet_per_currency"
            ),
            models.CheckConstraint(
                condition=Q(balance__gte=0), name="payments_wallet_never_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.currency} {self.balance}"


class WalletEntry(AppendOnly):
    """One movement of a wallet, tied to the attempt that caused it. Never edited."""

    class Kind(models.TextChoices):
        TOP_UP = "top_up", _("Top-up")
        PAYMENT = "payment", _("Payment")
        REFUND = "refund", _("Refund")
        ADJUSTMENT = "adjustment", _("Adjustment")
        # Held for a withdrawal part (reference names the refund), and given back when that
        # part fails (reference names the refund again).
        WITHDRAWAL = "withdrawal", _("Withdrawal")
        WITHDRAWAL_RETURN = "withdrawal_return", _("Withdrawal returned")
        # The wallet part of a split payment given back when its attempt ended unpaid, and taken
        # again when the provider confirms that attempt late after all.
        RELEASE = "release", _("Returned (payment not completed)")
        RETAKE = "retake", _("Payment (confirmed later)")

    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # Signed: credits are positive, debits negative.
    amount = models.BigIntegerField(_("amount (minor units)"))
    attempt = models.ForeignKey(
        PaymentAttempt,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="wallet_entries",
    )
    # For refunds and adjustments: what this entry answers (e.g. the refund's id).
    reference = models.CharField(max_length=100, blank=True)
    note = models.CharField(max_length=200, blank=True)
    created_by = models.CharField(max_length=120)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("wallet entry")
        verbose_name_plural = _("wallet entries")
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="payments_wallet_entry_not_zero"),
            # A payment, a top-up, a release or a re-take moves money once per attempt, however
            # often it is replayed.
            models.UniqueConstraint(
                fields=["attempt", "kind"],
                condition=Q(kind__in=ONCE_PER_ATTEMPT),
                name="payments_wallet_entry_once_per_attempt",
            ),
            models.UniqueConstraint(
                fields=["wallet", "reference"],
                condition=~Q(reference=""),
                name="payments_wallet_entry_reference_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount}"

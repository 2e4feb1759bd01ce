"""Payment attempts: the status table every move is checked against, and the append-only
timeline of each attempt."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .base import AppendOnly
from .methods import PaymentMethod


class AttemptStatus(models.TextChoices):
    CREATED = "created", _("Created")
    SENT = "sent", _("Sent to provider")
    REQUIRES_ACTION = "requires_action", _("Waiting for the customer")
    PROCESSING = "processing", _("Processing")
    UNKNOWN = "unknown", _("Confirming with provider")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    CANCELED = "canceled", _("Canceled")
    REFUNDED = "refunded", _("Refunded")
    PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")


S = AttemptStatus
IN_FLIGHT = frozenset({S.CREATED, S.SENT, S.REQUIRES_ACTION, S.PROCESSING, S.UNKNOWN})
PAID = frozenset({S.SUCCEEDED, S.PARTIALLY_REFUNDED, S.REFUNDED})

# The only moves an attempt may make. Status never goes backwards: a late or replayed answer
# that would move it back is recorded as an event and otherwise ignored.
ALLOWED: dict[str, frozenset[str]] = {
    S.CREATED: frozenset({S.SENT, S.FAILED, S.CANCELED}),
    S.SENT: frozenset({S.REQUIRES_ACTION, S.PROCESSING, S.UNKNOWN, S.SUCCEEDED, S.FAILED}),
    S.REQUIRES_ACTION: frozenset({S.PROCESSING, S.UNKNOWN, S.SUCCEEDED, S.FAILED, S.CANCELED}),
    S.PROCESSING: frozenset({S.SUCCEEDED, S.FAILED, S.CANCELED}),
    S.UNKNOWN: frozenset({S.REQUIRES_ACTION, S.PROCESSING, S.SUCCEEDED, S.FAILED, S.CANCELED}),
    S.SUCCEEDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.PARTIALLY_REFUNDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.FAILED: frozenset(),
    S.CANCELED: frozenset(),
    S.REFUNDED: frozenset(),
}
# The only moves out of a final state: we failed or canceled an attempt (gave up waiting, the
# customer chose another way, a decline the customer then got past) and the provider then says
# the money was taken. The charge is real, so it is honoured or flagged for refund, never ignored.
LATE_CONFIRMATION = frozenset({(S.FAILED, S.SUCCEEDED), (S.CANCELED, S.SUCCEEDED)})


# The idempotency key a provider sees for an attempt: derived from the attempt, so every retry
# of it (ours, the library's, reconciliation's) is a replay at the provider.
PROVIDER_KEY_PREFIX = "attempt-"
# Separates the route try from the attempt in the provider key of a second or later route.
ROUTE_KEY_SEPARATOR = ":r"


def public_id_from_provider_key(key: str) -> str:
    """The attempt's public id in a provider key, whichever route it was sent on ("" if none)."""
    if not key.startswith(PROVIDER_KEY_PREFIX):
        return ""
    return key.removeprefix(PROVIDER_KEY_PREFIX).split(ROUTE_KEY_SEPARATOR, 1)[0]


class PaymentAttempt(models.Model):
    """One try to pay one order with one method."""

    Status = AttemptStatus

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    order = models.ForeignKey(
        "checkout.Order", on_delete=models.PROTECT, related_name="attempts", verbose_name=_("order")
    )
    method = models.ForeignKey(
        PaymentMethod, on_delete=models.PROTECT, related_name="attempts", verbose_name=_("method")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # What the provider is asked to charge (the amount actually charged is the truth).
    amount = models.PositiveBigIntegerField(_("amount (minor units)"))
    # The part of the order paid from the owner's wallet alongside the provider's charge: held
    # (debited) when the attempt is created, given back when the attempt ends unpaid. The two
    # together are what the order costs (checked under the order lock in attempt_create).
    wallet_amount = models.PositiveBigIntegerField(_("from the wallet (minor units)"), default=0)
    currency = models.CharField(_("currency"), max_length=3)
    idempotency_key = models.CharField(_("idempotency key"), max_length=255, unique=True)
    # Hash of what was asked for, to tell a replay (same key, same request) from a misuse.
    request_fingerprint = models.CharField(max_length=64)
    payment_method_ref = models.CharField(_("payment method reference"), max_length=100, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=AttemptStatus, default=AttemptStatus.CREATED
    )
    provider = models.CharField(_("provider"), max_length=20)
    provider_reference = models.CharField(_("provider reference"), max_length=100, blank=True)
    # The route that carries the attempt (null for attempts from before routes, and for a
    # method without route rows), and which try it was: 1 for the first route called, 2 for
    # the next after the first certainly did not charge... (payments/services/routing.py).
    route = models.ForeignKey(
        "payments.PaymentRoute",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="attempts",
        verbose_name=_("route"),
    )
    route_try = models.PositiveSmallIntegerField(_("route try"), default=1)
    # Where the customer completes a 3D Secure, redirect or QR step, and where they come back to.
    action_url = models.CharField(_("action URL"), max_length=500, blank=True)
    return_url = models.CharField(_("return URL"), max_length=500, blank=True)
    failure_code = models.CharField(_("failure code"), max_length=60, blank=True)
    decline_code = models.CharField(_("decline code"), max_length=60, blank=True)
    failure_category = models.CharField(_("failure category"), max_length=30, blank=True)
    client_ip = models.GenericIPAddressField(_("client IP"), null=True, blank=True)
    # The provider's fingerprint of the card (the same card gives the same value in every
    # account); used by the velocity rule, never shown to customers.
    card_fingerprint = models.CharField(
        _("card fingerprint"), max_length=64, blank=True, db_index=True
    )
    # The card as the provider describes it ("visa", "4242"), for naming it to the customer
    # ("Visa ···4242", payments/selectors.py attempt_paid_with). Never the number: at most the
    # last four digits, which a constraint below holds the database to.
    card_brand = models.CharField(_("card brand"), max_length=20, blank=True)
    card_last4 = models.CharField(_("card last four digits"), max_length=4, blank=True)
    # The risk check's verdict before sending: allow, review (sent, flagged for staff), refuse.
    risk_outcome = models.CharField(_("risk outcome"), max_length=10, blank=True)
    risk_rule = models.CharField(_("risk rule"), max_length=40, blank=True)
    # Reserved by refunds that are pending or done; a failed refund gives its share back.
    refunded_amount = models.PositiveBigIntegerField(_("refunded (minor units)"), default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("payment attempt")
        verbose_name_plural = _("payment attempts")
        constraints = [
            # The money invariants live in the database so no race in Python can break them.
            models.UniqueConstraint(
                fields=["order"],
                condition=Q(status__in=sorted(IN_FLIGHT)),
                name="payments_one_in_flight_attempt_per_order",
            ),
            models.UniqueConstraint(
                fields=["order"],
                condition=Q(status__in=sorted(PAID)),
                name="payments_one_paid_attempt_per_order",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payments_attempt_amount_gt_0"),
            # Refunds can never add up to more than was paid (both parts of a split payment).
            models.CheckConstraint(
                condition=Q(refunded_amount__lte=models.F("amount") + models.F("wallet_amount")),
                name="payments_attempt_refunds_within_amount",
            ),
            # Only ever four digits of a card (or none): a longer number can never be stored.
            models.CheckConstraint(
                condition=Q(card_last4="") | Q(card_last4__regex=r"^[0-9]{4}$"),
                name="payments_attempt_card_last4_four_digits",
            ),
        ]
        indexes = [
            # Reconciliation scans unsettled attempts by age.
            models.Index(fields=["status", "updated_at"], name="payments_attempt_status_age"),
            # Webhooks find the attempt by the provider's id.
            models.Index(
                fields=["provider", "provider_reference"], name="payments_attempt_provref"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}/{self.public_id} ({self.status})"

    @property
    def provider_key(self) -> str:
        """The idempotency key the attempt's route sees: `attempt-<public id>` on the first
        route called, `attempt-<public id>:r<n>` on the n-th. Stored with the attempt (route_try),
        so every replay on a route (ours, reconciliation's) is a replay there."""
        base = f"{PROVIDER_KEY_PREFIX}{self.public_id}"
        return base if self.route_try <= 1 else f"{base}{ROUTE_KEY_SEPARATOR}{self.route_try}"

    @property
    def paid_total(self) -> int:
        """What this attempt pays for the order: the provider's part plus the wallet's."""
        return self.amount + self.wallet_amount

    @property
    def is_split(self) -> bool:
        return self.wallet_amount > 0

    @property
    def is_in_flight(self) -> bool:
        return self.status in IN_FLIGHT

    @property
    def is_paid(self) -> bool:
        return self.status in PAID


class PaymentEvent(AppendOnly):
    """Append-only timeline of an attempt: the audit trail and what support agents read."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Created")
        STATUS_CHANGED = "status_changed", _("Status changed")
        PROVIDER_RESPONSE = "provider_response", _("Provider answered")
        PROVIDER_ERROR = "provider_error", _("Provider error")
        IGNORED = "ignored", _("Ignored a stale update")
        RECONCILED = "reconciled", _("Checked with the provider")
        ORDER_PAID = "order_paid", _("Order marked paid")
        REFUND = "refund", _("Refund")
        RISK = "risk", _("Risk check")
        # Money was taken that must go back: staff were told and refund it.
        REFUND_NEEDED = "refund_needed", _("Refund needed")
        # The wallet part of a split payment was given back or taken again.
        WALLET = "wallet", _("Wallet part")
        # One try on one route: skipped (circuit open), not charged (moved on), or the route
        # that answered or went silent and so owns the attempt (payments/services/routing.py).
        ROUTE = "route", _("Route")

    attempt = models.ForeignKey(PaymentAttempt, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    actor = models.CharField(max_length=120)
    message = models.CharField(max_length=500, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("payment event")
        verbose_name_plural = _("payment events")

    def __str__(self) -> str:
        return f"{self.kind} {self.from_status}->{self.to_status}"

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config.i18n import is_chinese


class AppendOnly(models.Model):
    """A record that is written once and never changed: audit trails and ledgers."""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError(f"{self._meta.verbose_name_plural} are append-only.")
        super().save(*args, **kwargs)


class PaymentMethod(models.Model):
    """A way to pay, managed by admins as data."""

    class Provider(models.TextChoices):
        SIMULATOR = "simulator", _("Simulator")
        STRIPE = "stripe", _("Stripe")
        WALLET = "wallet", _("Wallet")

    class Kind(models.TextChoices):
        CARD = "card", _("Card")
        ALIPAY = "alipay", _("Alipay")
        WECHAT_PAY = "wechat_pay", _("WeChat Pay")
        WALLET = "wallet", _("Wallet")

    code = models.SlugField(_("code"), max_length=40, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    provider = models.CharField(_("provider"), max_length=20, choices=Provider.choices)
    label_en = models.CharField(_("label (English)"), max_length=80)
    label_zh = models.CharField(_("label (Chinese)"), max_length=80)
    enabled = models.BooleanField(_("enabled"), default=True)
    maintenance = models.BooleanField(_("in maintenance"), default=False)
    maintenance_message_en = models.CharField(
        _("maintenance message (English)"), max_length=200, blank=True
    )
    maintenance_message_zh = models.CharField(
        _("maintenance message (Chinese)"), max_length=200, blank=True
    )
    maintenance_until = models.DateTimeField(_("maintenance ends"), null=True, blank=True)
    min_amount = models.PositiveBigIntegerField(_("minimum amount (minor units)"), default=0)
    max_amount = models.PositiveBigIntegerField(
        _("maximum amount (minor units)"), null=True, blank=True
    )
    currencies = models.CharField(
        _("currencies"),
        max_length=200,
        blank=True,
        help_text=_("Comma-separated ISO codes, e.g. USD,CNY. Empty means any currency."),
    )
    display_order = models.PositiveSmallIntegerField(_("display order"), default=100)
    fallback_order = models.PositiveSmallIntegerField(_("fallback order"), default=100)

    class Meta:
        ordering = ["display_order", "code"]
        verbose_name = _("payment method")
        verbose_name_plural = _("payment methods")
        constraints = [
            models.CheckConstraint(
                condition=Q(max_amount__isnull=True) | Q(max_amount__gte=models.F("min_amount")),
                name="payments_method_amount_range",
            ),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def label(self) -> str:
        return self.label_zh if is_chinese() else self.label_en

    @property
    def maintenance_message(self) -> str:
        chinese = is_chinese()
        return (self.maintenance_message_zh if chinese else self.maintenance_message_en) or ""

    @property
    def currency_list(self) -> list[str]:
        return [c.strip().upper() for c in self.currencies.split(",") if c.strip()]


class MethodChange(AppendOnly):
    """Who changed a payment method's settings, and from what to what. Append-only: written by
    payments.services.method_update, never edited; the admins' record of switches."""

    method = models.ForeignKey(PaymentMethod, on_delete=models.CASCADE, related_name="changes")
    # "staff:<email>", "system", ...: the same actor words as the payment timeline.
    actor = models.CharField(_("changed by"), max_length=200)
    # {"field": [before, after]} for each field that changed.
    changes = models.JSONField(_("changes"), encoder=DjangoJSONEncoder)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("changed at"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("payment method change")
        verbose_name_plural = _("payment method changes")
        # The method's page lists its own changes, newest first.
        indexes = [models.Index(fields=["method", "-created_at"], name="payments_mc_method_time")]

    def __str__(self) -> str:
        return f"{self.method_id}: {sorted(self.changes)} by {self.actor}"


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
    amount = models.PositiveBigIntegerField(_("amount (minor units)"))
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
            # Refunds can never add up to more than was paid.
            models.CheckConstraint(
                condition=Q(refunded_amount__lte=models.F("amount")),
                name="payments_attempt_refunds_within_amount",
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
        return f"{PROVIDER_KEY_PREFIX}{self.public_id}"

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


class SimulatedCharge(models.Model):
    """The simulator's side of the world: what the 'provider' did for each idempotency key.

    Like Stripe, the simulator answers a repeated idempotency key with the first answer, so counting
    these rows counts provider charges.
    """

    idempotency_key = models.CharField(max_length=255, unique=True)
    reference = models.CharField(max_length=64, unique=True)
    payment_method = models.CharField(max_length=100)
    amount = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=20)
    failure_code = models.CharField(max_length=60, blank=True)
    decline_code = models.CharField(max_length=60, blank=True)
    refunded = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

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
            # A payment or a top-up moves money once per attempt, however often it is replayed.
            models.UniqueConstraint(
                fields=["attempt", "kind"],
                condition=Q(kind__in=["top_up", "payment"]),
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
    # Set under the row lock by the task that emails the customer: one email per refund.
    customer_notified_at = models.DateTimeField(null=True, blank=True)
    # Set by the task that tells staff we gave up waiting: one alert per refund.
    staff_alerted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payments_refund_amount_gt_0"),
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
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} ({self.status})"

    @property
    def provider_key(self) -> str:
        return f"{REFUND_KEY_PREFIX}{self.public_id}"


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


class MethodHealth(models.Model):
    """A method's circuit breaker, shared by every process through this row."""

    class State(models.TextChoices):
        HEALTHY = "healthy", _("Healthy")
        DEGRADED = "degraded", _("Degraded")
        OPEN = "open", _("Unavailable (circuit open)")

    method = models.OneToOneField(PaymentMethod, on_delete=models.CASCADE, related_name="health")
    state = models.CharField(max_length=20, choices=State.choices, default=State.HEALTHY)
    changed_at = models.DateTimeField(default=timezone.now)
    # Attempts before this moment no longer count (the window restarts when a circuit closes).
    window_started_at = models.DateTimeField(null=True, blank=True)
    # While open and past its cool-down, exactly one attempt may go through to test the provider.
    probe_attempt = models.ForeignKey(
        PaymentAttempt, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("method health")
        verbose_name_plural = _("method health")

    def __str__(self) -> str:
        return f"{self.method_id} {self.state}"


HS = MethodHealth.State
# The only moves a method's health may make (payments/services/health.py health_transition).
# A burst of technical failures may open a healthy circuit at once; an open circuit leaves only
# through its probe: a probe that answers closes it, a probe that fails opens it again
# (open -> open, which restarts the cool-down). Staying in the same state is not a move.
HEALTH_ALLOWED: dict[str, frozenset[str]] = {
    HS.HEALTHY: frozenset({HS.DEGRADED, HS.OPEN}),
    HS.DEGRADED: frozenset({HS.HEALTHY, HS.OPEN}),
    HS.OPEN: frozenset({HS.HEALTHY, HS.OPEN}),
}


class MethodHealthEvent(models.Model):
    """Each change of a method's health, for the admins' record and alerts."""

    method = models.ForeignKey(
        PaymentMethod, on_delete=models.CASCADE, related_name="health_events"
    )
    from_state = models.CharField(max_length=20)
    to_state = models.CharField(max_length=20)
    technical_failures = models.PositiveIntegerField()
    attempts = models.PositiveIntegerField()
    reason = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("method health change")
        verbose_name_plural = _("method health changes")

    def __str__(self) -> str:
        return f"{self.method_id}: {self.from_state} -> {self.to_state}"

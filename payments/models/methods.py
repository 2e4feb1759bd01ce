"""Ways to pay, managed by admins as data, and the record of who changed them."""

from __future__ import annotations

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config.i18n import is_chinese

from .base import AppendOnly


class PaymentMethod(models.Model):
    """A way to pay, managed by admins as data."""

    class Provider(models.TextChoices):
        SIMULATOR = "simulator", _("Simulator")
        # The simulator's second route: the same fake provider under its own name, idempotency
        # space and webhooks, so the demo shows failover without credentials (issue 15).
        SIMULATOR_B = "simulator_b", _("Simulator B")
        STRIPE = "stripe", _("Stripe")
        ALIPAY = "alipay", _("Alipay (direct)")
        WECHATPAY = "wechatpay", _("WeChat Pay (direct)")
        ADYEN = "adyen", _("Adyen")
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

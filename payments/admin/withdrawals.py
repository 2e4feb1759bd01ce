"""Wallet withdrawals, read-only: each with its parts (refunds) and its status changes."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from ..models import Refund, Withdrawal, WithdrawalEvent
from .base import ReadOnlyAdmin, ReadOnlyInline


class WithdrawalPartInline(ReadOnlyInline):
    model = Refund
    fk_name = "withdrawal"
    verbose_name = _("withdrawal part")
    verbose_name_plural = _("withdrawal parts")
    fields = (
        "public_id",
        "attempt",
        "amount",
        "status",
        "provider_reference",
        "failure_reason",
        "sends",
        "settled_at",
    )


class WithdrawalEventInline(ReadOnlyInline):
    model = WithdrawalEvent
    fields = ("created_at", "from_status", "to_status", "actor", "message")


@admin.register(Withdrawal)
class WithdrawalAdmin(ReadOnlyAdmin):
    list_display = ("public_id", "user", "amount", "currency", "status", "created_at")
    list_filter = ("status", "currency")
    search_fields = ("user__email", "=public_id")
    readonly_fields = ("public_id", "user", "currency", "amount", "status", "created_at")
    fields = readonly_fields
    inlines = [WithdrawalPartInline, WithdrawalEventInline]

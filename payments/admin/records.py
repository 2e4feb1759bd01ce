"""Read-only money records: wallets and their ledger, webhook events as received, and method
health changes."""

from django.contrib import admin

from ..models import MethodHealthEvent, Wallet, WalletEntry, WebhookEvent
from .base import ReadOnlyAdmin, ReadOnlyInline


class WalletEntryInline(ReadOnlyInline):
    model = WalletEntry
    fields = ("created_at", "kind", "amount", "attempt", "reference", "note", "created_by")


@admin.register(Wallet)
class WalletAdmin(ReadOnlyAdmin):
    list_display = ("user", "currency", "balance", "updated_at")
    search_fields = ("user__email",)
    inlines = [WalletEntryInline]


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = (
        "event_id",
        "provider",
        "type",
        "received_at",
        "processed_at",
        "deliveries",
        "outcome",
    )
    list_filter = ("provider", "type")
    search_fields = ("event_id",)


@admin.register(MethodHealthEvent)
class MethodHealthEventAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "method",
        "from_state",
        "to_state",
        "technical_failures",
        "attempts",
        "reason",
    )
    list_filter = ("method", "to_state")

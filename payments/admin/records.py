"""Read-only money records: wallets and their ledger, webhook events as received, method
health changes, and refunds as their customers see them."""

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from ..arrival import money_back
from ..models import MethodHealthEvent, Refund, Wallet, WalletEntry, WebhookEvent
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


class OverdueFilter(admin.SimpleListFilter):
    title = _("arrival")
    parameter_name = "late"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("1", _("late: expected date passed"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "1":
            return queryset.filter(status=Refund.Status.PENDING, expected_by__lt=timezone.now())
        return queryset


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    """Money back as the customer sees it: the step, the provider's reference and the dates."""

    list_display = (
        "created_at",
        "order",
        "amount",
        "currency",
        "destination",
        "customer_step",
        "provider_reference",
        "sent_at",
        "expected_by",
    )
    list_filter = (OverdueFilter, "status", "destination")
    list_select_related = ("attempt__order", "attempt__method")
    search_fields = ("public_id", "provider_reference", "attempt__order__number")
    date_hierarchy = "created_at"

    @admin.display(description=_("order"), ordering="attempt__order__number")
    def order(self, obj: Refund) -> str:
        return str(obj.attempt.order.number)

    @admin.display(description=_("customer sees"))
    def customer_step(self, obj: Refund) -> str:
        row = money_back(obj, now=timezone.now())
        if row.overdue:
            return format_html('{} <strong class="overdue">⚠ {}</strong>', row.label, _("late"))
        return str(row.label)

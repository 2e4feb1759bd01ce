from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from payments.models import PaymentAttempt

from .models import Order, OrderEvent, OrderLine, Product


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("sku", "name_en", "name_zh", "price", "currency", "active")
    list_filter = ("active", "currency")
    search_fields = ("sku", "name_en", "name_zh")


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    fields = ("sku", "name", "unit_price", "quantity", "line_total")
    readonly_fields = fields
    extra = 0
    can_delete = False


class PaymentAttemptInline(admin.TabularInline):
    model = PaymentAttempt
    fields = ("public_id", "method", "status", "failure_code", "decline_code", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


class OrderEventInline(admin.TabularInline):
    """The order's status history. Append-only: written by order_transition, never here."""

    model = OrderEvent
    fields = ("created_at", "from_status", "to_status", "actor", "reason")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = _("Status history")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("number", "email", "status", "total", "currency", "created_at")
    list_filter = ("status", "currency")
    search_fields = ("number", "email", "full_name")
    readonly_fields = (
        "number",
        "total",
        "currency",
        "status",
        "paid_at",
        "receipt_sent_at",
        "created_at",
    )
    exclude = ("client_secret",)
    inlines = [OrderLineInline, PaymentAttemptInline, OrderEventInline]

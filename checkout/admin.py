from django.contrib import admin

from payments.models import PaymentAttempt

from .models import Order, OrderLine, Product


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
    inlines = [OrderLineInline, PaymentAttemptInline]

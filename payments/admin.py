from django.contrib import admin

from .models import PaymentAttempt, PaymentEvent, PaymentMethod


@admin.register(PaymentMethod)
class PaymentMethodAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "label_en",
        "kind",
        "provider",
        "enabled",
        "maintenance",
        "display_order",
        "fallback_order",
    )
    list_editable = ("enabled", "maintenance")
    list_filter = ("enabled", "maintenance", "provider", "kind")


class PaymentEventInline(admin.TabularInline):
    model = PaymentEvent
    fields = ("created_at", "kind", "from_status", "to_status", "actor", "message", "payload")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(PaymentAttempt)
class PaymentAttemptAdmin(admin.ModelAdmin):
    list_display = ("public_id", "order", "method", "amount", "currency", "status", "created_at")
    list_filter = ("status", "method", "provider")
    search_fields = ("public_id", "order__number", "order__email", "provider_reference")
    readonly_fields = [f.name for f in PaymentAttempt._meta.fields]
    inlines = [PaymentEventInline]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

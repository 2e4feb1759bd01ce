from django.contrib import admin

from .models import PaymentAttempt, PaymentEvent, PaymentMethod, Wallet, WalletEntry, WebhookEvent


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


class ReadOnlyAdmin(admin.ModelAdmin):
    """Money records are written by services only; admin shows them."""

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


class WalletEntryInline(admin.TabularInline):
    model = WalletEntry
    fields = ("created_at", "kind", "amount", "attempt", "reference", "note", "created_by")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


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

"""Payment methods in admin: switches go through payments.services.method_update, which keeps
the record of who changed what."""

from datetime import timedelta
from typing import Any

from django.contrib import admin
from django.db.models import Count, Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import services
from ..models import (
    IN_FLIGHT,
    PAID,
    MethodChange,
    MethodHealth,
    PaymentMethod,
    PaymentRoute,
    RouteHealth,
)
from .base import ReadOnlyInline


def _staff(request: HttpRequest) -> str:
    return f"staff:{getattr(request.user, 'email', '')}"


class MethodChangeInline(ReadOnlyInline):
    """Who switched this method and what changed, newest first (payments.services.method_update)."""

    model = MethodChange
    fields = ("created_at", "actor", "changes", "reason")
    can_delete = False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PaymentRouteInline(admin.TabularInline):
    """Which providers carry the method, tried in priority order (lower first). An attempt moves
    to the next route only when one certainly did not charge (payments/services/routing.py)."""

    model = PaymentRoute
    extra = 0
    fields = (
        "priority",
        "provider",
        "label",
        "enabled",
        "min_amount",
        "max_amount",
        "currencies",
        "simulate_refused",
        "circuit",
    )
    readonly_fields = ("circuit",)
    ordering = ("priority", "pk")

    @admin.display(description=_("circuit"))
    def circuit(self, route: PaymentRoute) -> str:
        if route.pk is None:
            return "—"
        try:
            return str(route.health.get_state_display())
        except RouteHealth.DoesNotExist:
            return str(RouteHealth.State.HEALTHY.label)


@admin.register(PaymentMethod)
class PaymentMethodAdmin(admin.ModelAdmin):
    inlines = [PaymentRouteInline, MethodChangeInline]
    list_display = (
        "code",
        "label_en",
        "kind",
        "provider",
        "enabled",
        "maintenance",
        "health_state",
        "success_last_hour",
        "success_last_day",
        "display_order",
        "fallback_order",
    )
    list_select_related = ("health",)

    def get_queryset(self, request: HttpRequest) -> Any:
        """Success rates over the last hour and day, counted in the list's one query."""
        now = timezone.now()
        answered = ~Q(attempts__status__in=sorted(IN_FLIGHT))
        paid = Q(attempts__status__in=sorted(PAID))
        counts = {}
        for name, since in (("hour", now - timedelta(hours=1)), ("day", now - timedelta(days=1))):
            recent = Q(attempts__created_at__gte=since) & answered
            counts[f"n_{name}"] = Count("attempts", filter=recent)
            counts[f"ok_{name}"] = Count("attempts", filter=recent & paid)
        return super().get_queryset(request).annotate(**counts)

    @staticmethod
    def _rate(ok: int, n: int) -> str:
        return f"{ok * 100 // n}% ({ok}/{n})" if n else "—"

    @admin.display(description=_("success, last hour"))
    def success_last_hour(self, method: Any) -> str:
        return self._rate(method.ok_hour, method.n_hour)

    @admin.display(description=_("success, last 24 h"))
    def success_last_day(self, method: Any) -> str:
        return self._rate(method.ok_day, method.n_day)

    actions = ["enable", "disable", "end_maintenance"]
    fieldsets = (
        (None, {"fields": ("code", "kind", "provider", "label_en", "label_zh", "enabled")}),
        (
            _("Maintenance"),
            {
                "fields": (
                    "maintenance",
                    "maintenance_message_en",
                    "maintenance_message_zh",
                    "maintenance_until",
                ),
                "description": _(
                    "Customers see the message in their language; maintenance lifts itself "
                    "at the end time."
                ),
            },
        ),
        (_("Limits"), {"fields": ("min_amount", "max_amount", "currencies")}),
        (_("Order"), {"fields": ("display_order", "fallback_order")}),
    )

    def _apply(self, request: HttpRequest, queryset: Any, message: str, **changes: Any) -> None:
        """Switch the selected methods through the service, which records who did what."""
        for method in queryset:
            services.method_update(method=method, actor=_staff(request), changes=changes)
            self.log_change(request, method, message)
        self.message_user(request, f"{message}: {', '.join(m.code for m in queryset)}")

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """An edit on the method's page or in the list goes through the same service."""
        if not change:
            super().save_model(request, obj, form, change)
            return
        changes = {field: getattr(obj, field) for field in form.changed_data}
        if changes:
            services.method_update(method=obj, actor=_staff(request), changes=changes)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """Route edits are recorded beside the method's own (who added, removed or changed
        which route, before and after), in the admin's one transaction."""
        if formset.model is not PaymentRoute:
            super().save_formset(request, form, formset, change)
            return
        before = {
            f.instance.pk: {name: f.initial.get(name) for name in f.changed_data}
            for f in formset.initial_forms
            if f.instance.pk is not None and f.has_changed()
        }
        super().save_formset(request, form, formset, change)
        services.method_routes_changed(
            method=form.instance,
            actor=_staff(request),
            changed=[
                (route.provider, field, before.get(route.pk, {}).get(field), getattr(route, field))
                for route, fields in formset.changed_objects
                for field in fields
            ],
            added=[route.provider for route in formset.new_objects],
            removed=[route.provider for route in formset.deleted_objects],
        )

    @admin.action(description=_("Enable the selected methods"), permissions=["change"])
    def enable(self, request: HttpRequest, queryset: Any) -> None:
        self._apply(request, queryset, "Enabled", enabled=True)

    @admin.action(description=_("Disable the selected methods"), permissions=["change"])
    def disable(self, request: HttpRequest, queryset: Any) -> None:
        self._apply(request, queryset, "Disabled", enabled=False)

    @admin.action(description=_("End maintenance now"), permissions=["change"])
    def end_maintenance(self, request: HttpRequest, queryset: Any) -> None:
        self._apply(
            request, queryset, "Maintenance ended", maintenance=False, maintenance_until=None
        )

    @admin.display(description=_("health"))
    def health_state(self, method: PaymentMethod) -> str:
        try:
            return method.health.get_state_display()
        except MethodHealth.DoesNotExist:
            return str(MethodHealth.State.HEALTHY.label)

    list_editable = ("enabled", "maintenance")
    list_filter = ("enabled", "maintenance", "provider", "kind")

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from payments.models import PaymentAttempt
from payments.money import format_money
from payments.services import PaymentError

from . import refund_requests
from .models import Order, OrderEvent, OrderLine, Product, RefundRequest, RefundRequestStatus


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


class RefundRequestQueue(admin.SimpleListFilter):
    """The queue opens on what waits for an answer; the other answers are one click away."""

    title = _("status")
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [*RefundRequestStatus.choices, ("all", _("All"))]

    def choices(self, changelist: Any) -> Any:
        current = self.value() or RefundRequestStatus.OPEN
        for value, label in self.lookup_choices:
            yield {
                "selected": current == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value() or RefundRequestStatus.OPEN
        return queryset if value == "all" else queryset.filter(status=value)


class DeclineActionForm(ActionForm):
    decline_reason = forms.CharField(
        label=_("Reason (for declining)"), required=False, max_length=1000
    )


@admin.register(RefundRequest)
class RefundRequestAdmin(admin.ModelAdmin):
    """The agents' refund request queue: open requests by the time they must be answered."""

    list_display = ("order", "created_at", "amount_asked", "reason", "answer_by", "status")
    list_filter = (RefundRequestQueue,)
    list_select_related = ("order",)
    search_fields = ("order__number", "order__email", "reason")
    ordering = ("respond_by",)
    action_form = DeclineActionForm
    actions = ("approve", "decline")
    fields = (
        "order",
        "requested_by",
        "reason",
        "amount",
        "status",
        "created_at",
        "respond_by",
        "decided_by",
        "decided_at",
        "decline_reason",
        "refund",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # customers ask; agents answer

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("amount"))
    def amount_asked(self, obj: RefundRequest) -> str:
        if obj.amount is None:
            return str(_("all of what is left"))
        return format_money(obj.amount, obj.order.currency)

    @admin.display(description=_("answer by"), ordering="respond_by")
    def answer_by(self, obj: RefundRequest) -> str:
        if obj.is_overdue:
            return format_html(
                '<strong class="overdue">⚠ {} {}</strong>',
                _("overdue"),
                obj.respond_by.strftime("%Y-%m-%d %H:%M"),
            )
        return obj.respond_by.strftime("%Y-%m-%d %H:%M")

    @admin.action(description=_("Approve and refund"), permissions=["change"])
    def approve(self, request: HttpRequest, queryset: QuerySet) -> None:
        if not request.user.has_perm("payments.add_refund"):
            self.message_user(request, _("You may not refund."), messages.ERROR)
            return
        for item in queryset:
            try:
                refund = refund_requests.refund_request_approve(request=item, agent=request.user)
            except (refund_requests.CheckoutError, PaymentError) as exc:
                self.message_user(request, f"{item.order.number}: {exc}", messages.ERROR)
                continue
            self.message_user(
                request,
                _("%(number)s: refund of %(amount)s is %(status)s.")
                % {
                    "number": item.order.number,
                    "amount": format_money(refund.amount, refund.currency),
                    "status": refund.get_status_display(),
                },
                messages.SUCCESS,
            )

    @admin.action(description=_("Decline with the reason above"), permissions=["change"])
    def decline(self, request: HttpRequest, queryset: QuerySet) -> None:
        reason = request.POST.get("decline_reason", "").strip()
        if not reason:
            self.message_user(
                request, _("Write the reason the customer will read."), messages.ERROR
            )
            return
        for item in queryset:
            try:
                refund_requests.refund_request_decline(
                    request=item, agent=request.user, reason=reason
                )
            except refund_requests.CheckoutError as exc:
                self.message_user(request, f"{item.order.number}: {exc}", messages.ERROR)
                continue
            self.message_user(request, _("%(number)s: declined.") % {"number": item.order.number})

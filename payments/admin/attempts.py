"""Payment attempts in admin: their timeline and refunds, the refund page, and the payments
dashboard."""

import csv
import uuid
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.typing import AuthenticatedHttpRequest

from .. import analytics, services
from ..models import PaymentAttempt, PaymentEvent, Refund
from ..money import format_money, to_major, to_minor
from .base import ReadOnlyInline


class PaymentEventInline(ReadOnlyInline):
    model = PaymentEvent
    fields = ("created_at", "kind", "from_status", "to_status", "actor", "message", "payload")


class RefundInline(ReadOnlyInline):
    model = Refund
    fields = (
        "created_at",
        "amount",
        "wallet_amount",
        "destination",
        "status",
        "reason",
        "failure_reason",
        "provider_reference",
        "sent_at",
        "expected_by",
        "created_by",
    )


class PeriodForm(forms.Form):
    start = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    bucket = forms.ChoiceField(
        label=_("Per"), required=False, choices=[("day", _("day")), ("hour", _("hour"))]
    )


class RefundForm(forms.Form):
    amount = forms.DecimalField(
        label=_("Amount"), min_value=Decimal("0.01"), max_digits=12, decimal_places=3
    )
    destination = forms.ChoiceField(
        label=_("Refund to"), choices=Refund.Destination.choices, widget=forms.RadioSelect
    )
    reason = forms.CharField(label=_("Reason"), max_length=200)
    # Made when the form is shown: pressing Refund twice, or resubmitting the page, sends the
    # same key, and the second submission finds the refund the first one made.
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=255)


@admin.register(PaymentAttempt)
class PaymentAttemptAdmin(admin.ModelAdmin):
    list_display = (
        "public_id",
        "order",
        "method",
        "amount",
        "wallet_amount",
        "currency",
        "status",
        "created_at",
    )
    list_filter = ("status", "risk_outcome", "risk_rule", "method", "provider")
    search_fields = ("public_id", "order__number", "order__email", "provider_reference")
    readonly_fields = [f.name for f in PaymentAttempt._meta.fields]
    inlines = [PaymentEventInline, RefundInline]
    change_form_template = "admin/payments/paymentattempt/change_form.html"

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "<int:pk>/refund/",
                self.admin_site.admin_view(self.refund_view),
                name="payments_paymentattempt_refund",
            ),
            path(
                "dashboard/",
                self.admin_site.admin_view(self.dashboard_view),
                name="payments_dashboard",
            ),
            path(
                "export.csv",
                self.admin_site.admin_view(self.export_view),
                name="payments_export",
            ),
        ]
        return own + super().get_urls()

    def _period(self, request: HttpRequest) -> tuple[PeriodForm, datetime, datetime, str]:
        form = PeriodForm(request.GET or None)
        today = timezone.localdate()
        start, end, bucket = today - timedelta(days=6), today, "day"
        if form.is_valid():
            start = form.cleaned_data["start"] or start
            end = form.cleaned_data["end"] or end
            bucket = form.cleaned_data["bucket"] or bucket
        since = timezone.make_aware(datetime.combine(start, time.min))
        until = timezone.make_aware(datetime.combine(end + timedelta(days=1), time.min))
        return form, since, until, bucket

    def dashboard_view(self, request: HttpRequest) -> HttpResponse:
        """Success rates, failure reasons, the funnel, confirmation time and refunds."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form, since, until, bucket = self._period(request)
        rates = analytics.success_rates(since=since, until=until, bucket=bucket)
        charts = [
            {
                "method": code,
                "svg": analytics.bar_chart(points, title=f"{code}: success rate per {bucket}"),
                "points": points,
            }
            for code, points in rates.items()
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Payments dashboard"),
            "form": form,
            "since": since,
            "until": until,
            "charts": charts,
            "failures": analytics.top_failures(since=since, until=until),
            "funnel": analytics.funnel(since=since, until=until),
            "median": analytics.median_confirmation_seconds(since=since, until=until),
            "refunds": analytics.refund_totals(since=since, until=until),
            # Routes are watched over the last day, whatever period is chosen above.
            "routes": analytics.route_stats(since=timezone.now() - timedelta(days=1)),
            "export_query": request.GET.urlencode(),
        }
        return render(request, "admin/payments/dashboard.html", context)

    def export_view(self, request: HttpRequest) -> HttpResponse:
        """Attempts of the period as CSV, for spreadsheets and accountants."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        _form, since, until, _bucket = self._period(request)
        rows = (
            PaymentAttempt.objects.filter(created_at__gte=since, created_at__lt=until)
            .select_related("order", "method")
            .order_by("created_at")
        )
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="attempts-{since:%Y%m%d}-{until:%Y%m%d}.csv"'
        )
        writer = csv.writer(response)
        writer.writerow(
            [
                "attempt",
                "order",
                "method",
                "amount",
                "currency",
                "status",
                "failure_code",
                "decline_code",
                "risk",
                "refunded",
                "created_at",
                "settled_at",
            ]
        )
        for a in rows.iterator():
            writer.writerow(
                [
                    a.public_id,
                    a.order.number,
                    a.method.code,
                    a.amount,
                    a.currency,
                    a.status,
                    a.failure_code,
                    a.decline_code,
                    a.risk_outcome,
                    a.refunded_amount,
                    a.created_at.isoformat(),
                    a.settled_at.isoformat() if a.settled_at else "",
                ]
            )
        return response

    def refund_view(self, request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
        """Refund all or part of a paid attempt; staff need the add-refund permission.

        The form carries a key made when it was shown, so a resubmission refunds nothing more.
        """
        if not request.user.has_perm("payments.add_refund"):
            raise PermissionDenied
        attempt = get_object_or_404(PaymentAttempt.objects.select_related("order"), pk=pk)
        remaining = attempt.paid_total - attempt.refunded_amount
        initial = {
            "amount": to_major(remaining, attempt.currency),
            "destination": "original",
            "idempotency_key": f"admin-{uuid.uuid4()}",
        }
        form = RefundForm(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            try:
                amount = to_minor(form.cleaned_data["amount"], attempt.currency)
                refund, created = services.refund_request(
                    attempt=attempt,
                    amount=amount,
                    destination=form.cleaned_data["destination"],
                    reason=form.cleaned_data["reason"],
                    actor=f"staff:{request.user.email}",
                    idempotency_key=form.cleaned_data["idempotency_key"],
                )
            except services.IdempotencyConflict:
                form.add_error(
                    None,
                    _(
                        "This form was already used for a different refund. Nothing was "
                        "refunded: reload the page to start a new refund."
                    ),
                )
            except (ValueError, services.RefundNotAllowed) as exc:
                form.add_error("amount", str(exc))
            else:
                if refund.status == Refund.Status.PENDING:
                    # New, or a resubmission the provider has not answered: the same key again.
                    refund = services.refund_send(refund=refund)
                self._refund_message(request, refund, created)
                return redirect("admin:payments_paymentattempt_change", attempt.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "attempt": attempt,
            "remaining": format_money(remaining, attempt.currency),
            "form": form,
            "title": _("Refund"),
        }
        return render(request, "admin/payments/paymentattempt/refund.html", context)

    def _refund_message(self, request: HttpRequest, refund: Refund, created: bool) -> None:
        values = {
            "amount": format_money(refund.amount, refund.currency),
            "status": refund.get_status_display(),
        }
        if not created:
            self.message_user(
                request,
                _(
                    "This refund of %(amount)s was already made (%(status)s); nothing more was "
                    "refunded."
                )
                % values,
                messages.WARNING,
            )
            return
        level = messages.SUCCESS if refund.status != Refund.Status.FAILED else messages.ERROR
        self.message_user(request, _("Refund of %(amount)s: %(status)s") % values, level)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

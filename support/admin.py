"""Where agents work: ticket queues, the ticket page with the payment's whole story beside the
conversation, canned replies and help articles."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from accounts.services import lockout_state
from payments.arrival import money_back
from payments.failures import CATALOG, failure_for
from payments.models import PaymentAttempt, Refund

from . import services
from .models import TICKET_ALLOWED, CannedReply, HelpArticle, Ticket, TicketEvent
from .selectors import agent_users, is_agent


class QueueFilter(admin.SimpleListFilter):
    title = _("queue")
    parameter_name = "queue"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            ("mine", _("Mine")),
            ("unassigned", _("Unassigned")),
            ("overdue", _("Overdue")),
            ("waiting", _("Waiting on customer")),
            ("open", _("All open")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        open_ = Q(status__in=Ticket.OPEN_STATUSES)
        match self.value():
            case "mine":
                return queryset.filter(open_, assignee=request.user)
            case "unassigned":
                return queryset.filter(open_, assignee__isnull=True)
            case "overdue":
                return queryset.filter(
                    open_, first_response_at__isnull=True, first_response_due__lt=timezone.now()
                )
            case "waiting":
                return queryset.filter(status=Ticket.Status.WAITING)
            case "open":
                return queryset.filter(open_)
        return queryset


class AssignActionForm(ActionForm):
    assignee = forms.ModelChoiceField(
        queryset=get_user_model().objects.none(), required=False, label=_("Assign to")
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        assignee = cast(forms.ModelChoiceField, self.fields["assignee"])  # declared above
        assignee.queryset = agent_users()


class ReplyForm(forms.Form):
    body = forms.CharField(
        label=_("Message"), required=False, widget=forms.Textarea(attrs={"rows": 6})
    )
    canned = forms.ModelChoiceField(
        queryset=CannedReply.objects.filter(active=True),
        required=False,
        label=_("Canned reply"),
        help_text=_("Used when the message is left empty."),
    )
    internal = forms.BooleanField(
        label=_("Internal note (the customer does not see it)"), required=False
    )
    status = forms.ChoiceField(
        label=_("Then set the status to"),
        required=False,
        choices=[("", _("Waiting on customer (default for a reply)")), *Ticket.Status.choices],
    )


class TicketChangeForm(forms.ModelForm):
    """The status list offers only the moves TICKET_ALLOWED permits from where the ticket is,
    and says why when a stale page asks for another."""

    class Meta:
        model = Ticket
        fields = ("status", "priority", "category", "assignee")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and "status" in self.fields:
            current = self.instance.status
            legal = {current, *TICKET_ALLOWED[current]}
            field = self.fields["status"]
            assert isinstance(field, forms.ChoiceField)
            field.choices = [(v, label) for v, label in Ticket.Status.choices if v in legal]
            # A page loaded before someone else moved the ticket posts a status no longer on
            # the list: say why, in the table's words (Django fills in %(value)s).
            refusal = services.TicketTransitionError(self.instance, "%(value)s")
            field.error_messages["invalid_choice"] = str(refusal)

    def clean_status(self) -> str:
        status = self.cleaned_data["status"]
        if self.instance.pk:
            try:
                services.ticket_check_move(self.instance, status)
            except services.TicketError as error:
                raise forms.ValidationError(str(error)) from None
        return status


class EventInline(admin.TabularInline):
    model = TicketEvent
    extra = 0
    can_delete = False
    fields = ("created_at", "kind", "actor_label", "data")
    readonly_fields = fields
    verbose_name_plural = _("History")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = (
        "number",
        "subject",
        "email",
        "category",
        "status",
        "priority",
        "assignee",
        "due",
        "created_at",
    )
    list_filter = (QueueFilter, "status", "category", "priority", "source")
    list_select_related = ("assignee",)
    search_fields = ("number", "email", "subject", "order__number", "name")
    date_hierarchy = "created_at"
    ordering = ("-priority", "first_response_due")
    action_form = AssignActionForm
    actions = ("assign_to_me", "assign_selected", "mark_resolved")
    change_form_template = "admin/support/ticket/change_form.html"
    inlines = (EventInline,)
    form = TicketChangeForm
    fields = ("status", "priority", "category", "assignee")
    readonly_fields = ()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # tickets come from customers, chats and the failure screen

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a ticket is a record of what we told a customer

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Moving a ticket on (status, assignee, bulk actions) is answering it: agents only.
        return super().has_change_permission(request, obj) and is_agent(request.user)

    @admin.display(description=_("first response due"), ordering="first_response_due")
    def due(self, obj: Ticket) -> str:
        if obj.first_response_at is not None:
            return format_html("✓ {}", _("answered"))
        if obj.is_overdue:
            return format_html('<strong class="overdue">⚠ {}</strong>', _("overdue"))
        return obj.first_response_due.strftime("%Y-%m-%d %H:%M")

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "assignee":
            kwargs["queryset"] = agent_users()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Ticket, form: Any, change: bool) -> None:
        """Each field change goes through its service, so it is recorded and emailed."""
        data = form.cleaned_data
        if "assignee" in form.changed_data:
            services.ticket_assign(ticket=obj, actor=request.user, assignee=data["assignee"])
        if "priority" in form.changed_data:
            services.ticket_set_priority(ticket=obj, actor=request.user, priority=data["priority"])
        if "category" in form.changed_data:
            services.ticket_set_category(ticket=obj, actor=request.user, category=data["category"])
        if "status" in form.changed_data:
            try:
                services.ticket_set_status(ticket=obj, actor=request.user, status=data["status"])
            except services.TicketError as error:  # moved by someone else since the page loaded
                self.message_user(request, str(error), messages.ERROR)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        pass  # messages and events are read-only here

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        obj.refresh_from_db()
        return super().log_change(request, obj, message)

    # Actions ---------------------------------------------------------------------------------
    @admin.action(description=_("Assign to me"), permissions=["change"])
    def assign_to_me(self, request: HttpRequest, queryset: QuerySet) -> None:
        for ticket in queryset:
            services.ticket_assign(ticket=ticket, actor=request.user, assignee=request.user)
        self.message_user(request, _("Assigned to you."), messages.SUCCESS)

    @admin.action(description=_("Assign to the agent chosen above"), permissions=["change"])
    def assign_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        chosen = request.POST.get("assignee", "")
        agent = agent_users().filter(pk=chosen).first() if chosen.isdigit() else None
        if agent is None:
            self.message_user(request, _("Choose an agent to assign to."), messages.ERROR)
            return
        for ticket in queryset:
            services.ticket_assign(ticket=ticket, actor=request.user, assignee=agent)
        self.message_user(
            request,
            _("%(count)d tickets assigned to %(agent)s.")
            % {"count": queryset.count(), "agent": agent.email},
            messages.SUCCESS,
        )

    @admin.action(description=_("Mark resolved"), permissions=["change"])
    def mark_resolved(self, request: HttpRequest, queryset: QuerySet) -> None:
        refused = []
        for ticket in queryset:
            try:
                services.ticket_set_status(
                    ticket=ticket, actor=request.user, status=Ticket.Status.RESOLVED
                )
            except services.TicketError:
                refused.append(ticket.number)
        if refused:
            self.message_user(
                request,
                _("Not changed, because closed tickets are final: %(numbers)s.")
                % {"numbers": ", ".join(refused)},
                messages.WARNING,
            )
        if len(refused) < len(queryset):
            self.message_user(request, _("Marked resolved."), messages.SUCCESS)

    # The ticket page -------------------------------------------------------------------------
    def get_urls(self) -> list[Any]:
        own = [
            path(
                "<int:pk>/reply/",
                self.admin_site.admin_view(self.reply_view),
                name="support_ticket_reply",
            ),
            path(
                "<int:pk>/unlock/",
                self.admin_site.admin_view(self.unlock_view),
                name="support_ticket_unlock",
            ),
        ]
        return own + super().get_urls()

    def _agent_ticket(self, request: HttpRequest, pk: int) -> Ticket:
        if request.method != "POST":
            raise PermissionDenied
        if not (is_agent(request.user) and self.has_change_permission(request)):
            raise PermissionDenied
        return get_object_or_404(Ticket, pk=pk)

    def reply_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        ticket = self._agent_ticket(request, pk)
        form = ReplyForm(request.POST)
        if not form.is_valid():
            self.message_user(request, _("The reply could not be sent."), messages.ERROR)
            return redirect("admin:support_ticket_change", pk)
        body = form.cleaned_data["body"].strip()
        canned = form.cleaned_data["canned"]
        if not body and canned is not None:
            body = canned.body_for(ticket.language)
        if not body:
            self.message_user(
                request, _("Write a message or choose a canned reply."), messages.ERROR
            )
            return redirect("admin:support_ticket_change", pk)
        try:
            services.ticket_agent_reply(
                ticket=ticket,
                agent=request.user,
                body=body,
                internal=form.cleaned_data["internal"],
                status=form.cleaned_data["status"],
            )
        except services.TicketError as error:  # e.g. a public reply to a closed ticket
            self.message_user(request, str(error), messages.ERROR)
            return redirect("admin:support_ticket_change", pk)
        done = _("Internal note added.") if form.cleaned_data["internal"] else _("Reply sent.")
        self.message_user(request, done, messages.SUCCESS)
        return redirect("admin:support_ticket_change", pk)

    def unlock_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        ticket = self._agent_ticket(request, pk)
        clearance = services.ticket_clear_lockout(ticket=ticket, actor=request.user)
        self.message_user(
            request,
            _("Sign-in lockout cleared for %(email)s.") % {"email": clearance.email},
            messages.SUCCESS,
        )
        return redirect("admin:support_ticket_change", pk)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        ticket = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if ticket is not None:
            extra |= customer_context(ticket)
            extra["reply_form"] = ReplyForm()
            extra["thread"] = ticket.messages.select_related("author")
            extra["can_answer"] = is_agent(request.user)
        return super().change_view(request, object_id, form_url, extra)


def customer_context(ticket: Ticket) -> dict[str, Any]:
    """What an agent needs beside the conversation: the order, the attempt's whole timeline,
    the customer's other recent attempts and tickets, and whether they are locked out."""
    email = services.requester_email(ticket)
    by_customer = Q(order__email__iexact=email)
    if ticket.requester_id:
        by_customer |= Q(order__user_id=ticket.requester_id)
    attempts = (
        PaymentAttempt.objects.filter(by_customer)
        .select_related("order", "method")
        .order_by("-created_at")
    )
    if ticket.attempt_id:
        attempts = attempts.exclude(pk=ticket.attempt_id)
    by_requester = Q(email__iexact=email)
    if ticket.requester_id:
        by_requester |= Q(requester_id=ticket.requester_id)
    attempt = ticket.attempt
    return {
        "attempt": attempt,
        "attempt_failure": (
            failure_for(attempt.failure_code, attempt.decline_code)
            if attempt is not None and attempt.failure_code
            else None
        ),
        "timeline": list(attempt.events.all()) if attempt is not None else [],
        "other_attempts": list(attempts[:10]),
        "other_tickets": list(
            Ticket.objects.filter(by_requester).exclude(pk=ticket.pk).order_by("-created_at")[:10]
        ),
        "lockout": lockout_state(email),
        "requester_email": email,
        "money_back": _money_back_rows(ticket),
    }


def _money_back_rows(ticket: Ticket) -> list[Any]:
    """Every refund of the ticket's order, with the step, dates and reference the customer
    sees on their status page."""
    if ticket.order_id is None:
        return []
    now = timezone.now()
    refunds = (
        Refund.objects.filter(attempt__order_id=ticket.order_id)
        .select_related("attempt__order", "attempt__method")
        .order_by("-created_at")
    )
    return [money_back(r, now=now, top_up=r.attempt.order.is_wallet_top_up) for r in refunds]


@admin.register(CannedReply)
class CannedReplyAdmin(admin.ModelAdmin):
    list_display = ("title", "active")
    list_filter = ("active",)
    search_fields = ("title", "body_en", "body_zh")


class HelpArticleForm(forms.ModelForm):
    failure_codes = forms.CharField(
        label=_("failure codes"),
        required=False,
        help_text=_("Separate codes with commas, for example card_declined, expired_card."),
    )
    categories = forms.MultipleChoiceField(
        label=_("ticket categories"),
        required=False,
        choices=Ticket.Category.choices,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = HelpArticle
        fields = (
            "slug",
            "title_en",
            "title_zh",
            "body_en",
            "body_zh",
            "failure_codes",
            "categories",
            "published",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["failure_codes"] = ", ".join(self.instance.failure_codes or [])

    def clean_failure_codes(self) -> list[str]:
        codes = [c.strip() for c in self.cleaned_data["failure_codes"].split(",") if c.strip()]
        unknown = [c for c in codes if c not in CATALOG]
        if unknown:
            raise forms.ValidationError(
                _("Unknown failure codes: %(codes)s") % {"codes": ", ".join(unknown)}
            )
        return codes


@admin.register(HelpArticle)
class HelpArticleAdmin(admin.ModelAdmin):
    form = HelpArticleForm
    list_display = ("slug", "title_en", "title_zh", "published", "updated_at")
    list_filter = ("published",)
    search_fields = ("slug", "title_en", "title_zh", "body_en", "body_zh")


from .chat import admin as chat_admin  # noqa: E402, F401  (registers the chat admin and agent console)

"""Chats in Django admin: the list of conversations, and the agent console where agents accept
waiting chats, answer several at once, and see the customer's order and payment timeline."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from ..models import CannedReply, ChatMessage, Conversation, ConversationEvent
from ..selectors import is_agent
from . import services as chat
from .forms import ChatMessageForm


class ChatMessageInline(admin.TabularInline):
    model = ChatMessage
    fields = ("seq", "sender", "author_name", "body", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("seq",)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ConversationEventInline(admin.TabularInline):
    """Each status move, written by chat.conversation_transition; read-only."""

    model = ConversationEvent
    fields = ("created_at", "from_status", "to_status", "actor_label", "reason")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = gettext_lazy("Status history")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ("started", "status", "customer_label", "order", "agent", "ticket")
    list_filter = ("status", "agent", "created_at")
    search_fields = ("name", "email", "customer__email", "order__number", "ticket__number")
    list_select_related = ("customer", "order", "agent", "ticket")
    readonly_fields = (
        "public_id",
        "status",
        "customer",
        "name",
        "email",
        "language",
        "agent",
        "order",
        "attempt",
        "failure_code",
        "ticket",
        "created_at",
        "accepted_at",
        "closed_at",
    )
    fields = readonly_fields
    inlines = [ChatMessageInline, ConversationEventInline]
    date_hierarchy = "created_at"

    @admin.display(description=gettext_lazy("started"), ordering="created_at")
    def started(self, obj: Conversation) -> Any:
        return obj.created_at

    @admin.display(description=gettext_lazy("customer"))
    def customer_label(self, obj: Conversation) -> str:
        return obj.name or obj.email or (obj.customer.email if obj.customer is not None else "—")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # chats start on the customer's side

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the transcript is a record; agents act in the console

    # The console ---------------------------------------------------------------------------
    def get_urls(self) -> list[URLPattern]:
        def view(func: Any, post: bool = False) -> Any:
            wrapped = require_POST(func) if post else func
            return self.admin_site.admin_view(wrapped)

        return [
            path("console/", view(self.console_view), name="support_conversation_console"),
            path(
                "console/<uuid:public_id>/accept/",
                view(self.accept_view, post=True),
                name="support_conversation_accept",
            ),
            path(
                "console/<uuid:public_id>/reply/",
                view(self.reply_view, post=True),
                name="support_conversation_reply",
            ),
            path(
                "console/<uuid:public_id>/ticket/",
                view(self.ticket_view, post=True),
                name="support_conversation_ticket",
            ),
            path(
                "console/<uuid:public_id>/end/",
                view(self.end_view, post=True),
                name="support_conversation_end",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        extra = {"can_use_console": is_agent(request.user), **(extra_context or {})}
        return super().changelist_view(request, extra_context=extra)

    def _agent(self, request: HttpRequest) -> Any:
        if not is_agent(request.user):
            raise PermissionDenied
        return request.user

    def _conversation(self, public_id: uuid.UUID) -> Conversation:
        conversation = Conversation.objects.filter(public_id=public_id).first()
        if conversation is None:
            raise Http404
        return conversation

    def _back(self, anchor: str = "") -> HttpResponseRedirect:
        return redirect(reverse("admin:support_conversation_console") + anchor)

    def console_view(self, request: HttpRequest) -> HttpResponse:
        agent = self._agent(request)
        related = ("order", "attempt__method", "customer", "agent", "ticket")
        waiting = (
            Conversation.objects.filter(status=Conversation.Status.WAITING)
            .select_related(*related)
            .order_by("created_at")
        )
        mine = (
            Conversation.objects.filter(status=Conversation.Status.ACTIVE, agent=agent)
            .select_related(*related)
            .order_by("created_at")
        )
        chats = []
        for conversation in mine:
            chats.append(
                {
                    "conversation": conversation,
                    "chat_messages": list(conversation.messages.order_by("seq")),
                    "events": (
                        list(conversation.attempt.events.all())
                        if conversation.attempt is not None
                        else []
                    ),
                    "form": ChatMessageForm(
                        initial={"client_id": uuid.uuid4().hex},
                        auto_id=f"id_{conversation.public_id.hex}_%s",
                    ),
                    "other_attempts": (
                        list(
                            conversation.order.attempts.exclude(
                                pk__in=[conversation.attempt_id] if conversation.attempt_id else []
                            )[:5]
                        )
                        if conversation.order is not None
                        else []
                    ),
                }
            )
        first_messages = {
            m.conversation_id: m
            for m in ChatMessage.objects.filter(
                conversation__in=waiting, seq=1, sender=ChatMessage.Sender.CUSTOMER
            )
        }
        context = {
            **self.admin_site.each_context(request),
            "title": _("Chat console"),
            "opts": self.model._meta,
            "waiting": [(c, first_messages.get(c.pk)) for c in waiting],
            "chats": chats,
            "agents_online": chat.agents_online(),
            "canned_replies": list(CannedReply.objects.filter(active=True)),
        }
        return TemplateResponse(request, "admin/support/conversation/console.html", context)

    def accept_view(self, request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
        agent = self._agent(request)
        conversation = self._conversation(public_id)
        try:
            chat.conversation_accept(conversation=conversation, agent=agent)
        except chat.ChatError as error:
            # Two agents pressing Accept: the second is told, nobody answers twice.
            messages.error(request, str(error))
            return self._back()
        return self._back(f"#chat-{conversation.public_id.hex}")

    def reply_view(self, request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
        agent = self._agent(request)
        conversation = self._conversation(public_id)
        data = request.POST.copy()
        canned_id = data.get("canned")
        canned = (
            CannedReply.objects.filter(active=True, pk=canned_id).first() if canned_id else None
        )
        if canned is not None and not data.get("message", "").strip():
            data["message"] = canned.body_for(conversation.language)
        form = ChatMessageForm(data)
        if not form.is_valid():
            messages.error(request, str(form.errors["message"][0]))
        else:
            try:
                chat.message_store_once(
                    conversation=conversation,
                    sender=ChatMessage.Sender.AGENT,
                    body=form.cleaned_data["message"],
                    author=agent,
                    client_id=form.cleaned_data["client_id"],
                )
            except chat.ChatError as error:
                messages.error(request, str(error))
        return self._back(f"#chat-{conversation.public_id.hex}")

    def ticket_view(self, request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
        agent = self._agent(request)
        conversation = self._conversation(public_id)
        try:
            ticket = chat.conversation_to_ticket(conversation=conversation, actor=agent)
        except chat.ChatError as error:
            messages.error(request, str(error))
            return self._back(f"#chat-{conversation.public_id.hex}")
        try:
            link = reverse("admin:support_ticket_change", args=[ticket.pk])
        except NoReverseMatch:  # tickets not in this admin site
            link = ""
        text = _("The chat is now ticket %(number)s.") % {"number": ticket.number}
        messages.success(request, format_html('<a href="{}">{}</a>', link, text) if link else text)
        return self._back(f"#chat-{conversation.public_id.hex}")

    def end_view(self, request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
        agent = self._agent(request)
        conversation = self._conversation(public_id)
        chat.conversation_close(conversation=conversation, actor=agent)
        messages.success(request, _("The chat has ended."))
        return self._back()

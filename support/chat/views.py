"""Customer chat pages. Every step works without JavaScript (forms, then redirect back); with
it, static/js/chat.js upgrades the page to the websocket."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from ..limits import rate_key, rate_limit, rate_limited_message, refused
from ..models import ChatMessage, Conversation, Ticket
from ..selectors import (
    articles_for,
    attached_payment,
    chat_role,
    remember_chat,
    remember_ticket,
)
from ..services import ticket_open
from . import services as chat
from .forms import ChatLeaveForm, ChatMessageForm, ChatStartForm


def _conversation_for(request: HttpRequest, public_id: uuid.UUID) -> tuple[Conversation, str]:
    conversation = (
        Conversation.objects.select_related("agent", "ticket", "order", "attempt")
        .filter(public_id=public_id)
        .first()
    )
    if conversation is None:
        raise Http404
    role = chat_role(request.user, request.session, conversation)
    if not role:
        raise Http404
    return conversation, role


# Pages ---------------------------------------------------------------------------------------
@require_http_methods(["GET", "POST"])
def chat_new(request: HttpRequest) -> HttpResponse:
    """Self-service first (articles for the failure code), then a person, or a message when
    nobody is online."""
    source = request.POST if request.method == "POST" else request.GET
    order, attempt = attached_payment(request, source.get("order", ""), source.get("attempt", ""))
    code = source.get("code", "")[:60] or (attempt.failure_code if attempt else "")
    user = request.user if request.user.is_authenticated else None
    online = chat.agents_online()
    if request.method == "GET":
        initial = {"order": order.number if order else "", "code": code}
        initial["attempt"] = str(attempt.public_id) if attempt else ""
        initial["name"] = user.full_name if user else (order.full_name if order else "")
        initial["email"] = user.email if user else (order.email if order else "")
        form = ChatStartForm(initial=initial, email_required=user is None)
        return _render_new(request, form, order, attempt, code, online)

    leave = "leave" in request.POST
    form = ChatStartForm(request.POST, email_required=user is None or leave)
    if not form.is_valid():
        return _render_new(request, form, order, attempt, code, online, status=400)
    data = form.cleaned_data
    email = data["email"] or (user.email if user else "")
    if limited := refused(request, "write_ip"):
        return limited
    if leave:
        ticket = ticket_open(
            email=email,
            name=data["name"],
            subject=data["message"].splitlines()[0][:120],
            body=data["message"],
            category=Ticket.Category.PAYMENT_FAILED if attempt else Ticket.Category.OTHER,
            source=Ticket.Source.CHAT,
            requester=user,
            order=order,
            attempt=attempt,
            failure_code=code,
            language=get_language() or "en",
        )
        return _ticket_made(request, ticket)
    conversation = chat.conversation_start(
        body=data["message"],
        customer=user,
        name=data["name"],
        email=email,
        language=get_language() or "en",
        order=order,
        attempt=attempt,
        failure_code=code,
    )
    remember_chat(request.session, conversation)
    return redirect("support:chat", public_id=conversation.public_id)


def _ticket_made(request: HttpRequest, ticket: Ticket) -> HttpResponse:
    """A message nobody could answer live is now a ticket: this browser may see it."""
    remember_ticket(request, ticket)
    messages.success(
        request,
        _("Thank you. Your message is ticket %(number)s; we will reply by email.")
        % {"number": ticket.number},
    )
    return redirect("support:ticket", number=ticket.number)


def _render_new(
    request: HttpRequest,
    form: ChatStartForm,
    order: Any,
    attempt: Any,
    code: str,
    online: bool,
    status: int = 200,
) -> HttpResponse:
    context = {
        "form": form,
        "order": order,
        "attempt": attempt,
        "articles": articles_for(code),
        "agents_online": online,
    }
    return render(request, "support/chat_new.html", context, status=status)


def chat_page(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    conversation, role = _conversation_for(request, public_id)
    return _render_chat(request, conversation, role)


def _render_chat(
    request: HttpRequest,
    conversation: Conversation,
    role: str,
    form: ChatMessageForm | None = None,
    leave_form: ChatLeaveForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user_email = request.user.email if request.user.is_authenticated else ""
    context = {
        "conversation": conversation,
        "role": role,
        "chat_messages": list(conversation.messages.order_by("seq")),
        "agents_online": chat.agents_online(),
        "form": form or ChatMessageForm(initial={"client_id": uuid.uuid4().hex}),
        "leave_form": leave_form
        or ChatLeaveForm(initial={"email": conversation.email or user_email}),
        "request_id": uuid.uuid4().hex,
        "transcript_email": conversation.email or user_email,
    }
    return render(request, "support/chat.html", context, status=status)


@require_POST
def chat_message(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """The no-JavaScript send: store, then back to the page (post/redirect/get)."""
    conversation, role = _conversation_for(request, public_id)
    form = ChatMessageForm(request.POST)
    if not form.is_valid():
        return _render_chat(request, conversation, role, form=form, status=400)
    who = rate_key(request.user, request.session.session_key)
    retry_after = rate_limit("message", who)
    if retry_after:
        form.add_error("message", rate_limited_message(retry_after))
        return _render_chat(request, conversation, role, form=form, status=429)
    try:
        chat.message_store_once(
            conversation=conversation,
            sender=role,
            body=form.cleaned_data["message"],
            author=request.user,
            client_id=form.cleaned_data["client_id"],
        )
    except chat.ChatError as error:
        form.add_error("message", str(error))
        return _render_chat(request, conversation, role, form=form, status=400)
    return redirect(conversation_url(conversation) + "#chat-log")


def conversation_url(conversation: Conversation) -> str:
    return reverse("support:chat", kwargs={"public_id": conversation.public_id})


@require_POST
def chat_leave(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """Nobody answered (or the customer stops waiting): the chat becomes a ticket."""
    conversation, role = _conversation_for(request, public_id)
    if role != ChatMessage.Sender.CUSTOMER:
        raise Http404
    form = ChatLeaveForm(request.POST)
    if not form.is_valid():
        return _render_chat(request, conversation, role, leave_form=form, status=400)
    ticket = chat.conversation_to_ticket(
        conversation=conversation,
        email=form.cleaned_data["email"],
        body=form.cleaned_data["message"],
    )
    return _ticket_made(request, ticket)


@require_POST
def chat_transcript(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    conversation, role = _conversation_for(request, public_id)
    if limited := refused(request, "transcript", conversation.pk) or refused(request, "write_ip"):
        return limited
    # Only ever to the chat's own address (guests must give one to start a chat), or the
    # account's: nothing typed here can make us email a stranger.
    email = conversation.email or (request.user.email if request.user.is_authenticated else "")
    request_id = request.POST.get("request_id", "")[:64] or uuid.uuid4().hex
    chat.chat_transcript_request(conversation=conversation, email=email, request_id=request_id)
    messages.success(request, _("We are emailing the transcript to %(email)s.") % {"email": email})
    return redirect(conversation_url(conversation))


@require_POST
def chat_end(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    conversation, role = _conversation_for(request, public_id)
    chat.conversation_close(conversation=conversation, actor=request.user)
    messages.info(request, _("The chat has ended. You can still read it here."))
    return redirect(conversation_url(conversation))


urlpatterns = [
    path("chat/new/", chat_new, name="chat_new"),
    path("chat/<uuid:public_id>/", chat_page, name="chat"),
    path("chat/<uuid:public_id>/send/", chat_message, name="chat_message"),
    path("chat/<uuid:public_id>/leave/", chat_leave, name="chat_leave"),
    path("chat/<uuid:public_id>/transcript/", chat_transcript, name="chat_transcript"),
    path("chat/<uuid:public_id>/end/", chat_end, name="chat_end"),
]

"""Support emails and timers. Each email has a key recorded in the same transaction as the
send, so a task that runs twice (acks_late, a retry) sends once."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from outbox.services import outbox_handler

from .models import Conversation, SentNotification, Ticket, TicketMessage
from .selectors import agent_users

CUSTOMER_KINDS = {"opened", "reply", "status"}
AGENT_KINDS = {"agents_new", "agents_customer_replied", "agents_overdue", "agent_assigned"}


def agents() -> list[Any]:
    """Who hears of new and overdue tickets: the agents named by permission; when there are
    none, the superusers, so a ticket always reaches someone."""
    return list(agent_users(superusers=False)) or list(agent_users().filter(is_superuser=True))


def customer_link(ticket: Ticket) -> str:
    url = settings.SITE_URL + reverse("support:ticket", args=[ticket.number])
    return f"{url}?key={ticket.access_key}"


def agent_link(ticket: Ticket) -> str:
    return settings.SITE_URL + reverse("admin:support_ticket_change", args=[ticket.pk])


def _send_once(key: str, subject: str, body: str, to: list[str]) -> bool:
    if not to:
        return False
    subject = " ".join(subject.split())  # a header is one line, whatever a template produced
    try:
        with transaction.atomic():
            SentNotification.objects.create(key=key)
            EmailMessage(subject.strip(), body, to=to).send()
    except IntegrityError:
        return False
    return True


def _recipients_for(kind: str, ticket: Ticket, agent_id: int | None) -> list[str]:
    if kind == "agent_assigned":
        if agent_id is None:
            return []
        return list(
            get_user_model()
            .objects.filter(pk=agent_id, is_active=True)
            .values_list("email", flat=True)
        )
    if kind == "agents_customer_replied" and ticket.assignee is not None:
        return [ticket.assignee.email]
    return [agent.email for agent in agents()]


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_ticket_email(
    kind: str,
    ticket_id: int,
    *,
    event_id: int | None = None,
    message_id: int | None = None,
    status: str = "",
    agent_id: int | None = None,
) -> bool:
    ticket = Ticket.objects.select_related("assignee", "order", "attempt").get(pk=ticket_id)
    message = None
    if message_id is not None:
        message = TicketMessage.objects.select_related("author").get(pk=message_id)
        if message.internal and kind in CUSTOMER_KINDS:
            return False  # an internal note never reaches the customer
    context: dict[str, Any] = {"ticket": ticket, "message": message, "status": status}
    if kind in CUSTOMER_KINDS:
        to = [ticket.email]
        language = ticket.language
        context["link"] = customer_link(ticket)
        context["rate"] = status == Ticket.Status.RESOLVED
    elif kind in AGENT_KINDS:
        to = _recipients_for(kind, ticket, agent_id)
        language = settings.LANGUAGE_CODE
        context["link"] = agent_link(ticket)
    else:
        raise ValueError(f"Unknown ticket email {kind!r}")
    # One email per (kind, event): a task that runs twice sends once.
    key = f"ticket:{ticket.pk}:{kind}:{event_id}"
    with translation.override(language):
        context["status_label"] = Ticket.Status(status).label if status else ""
        subject = render_to_string(f"emails/ticket_{kind}_subject.txt", context)
        body = render_to_string(f"emails/ticket_{kind}.txt", context)
    return _send_once(key, subject, body, to)


@shared_task(acks_late=True)
def alert_overdue_tickets() -> int:
    """Beat: flag tickets whose first response is late and tell the agents, once each."""
    from .services import tickets_mark_overdue

    return len(tickets_mark_overdue())


@shared_task(acks_late=True)
def expire_conversation(conversation_id: int) -> bool:
    from .chat.services import conversation_expire

    return conversation_expire(conversation_id)


@shared_task(acks_late=True)
def expire_stale_chats() -> int:
    from .chat.services import conversations_expire_stale

    return conversations_expire_stale()


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_chat_transcript(conversation_id: int, email: str, request_id: str) -> bool:
    """The customer asked for a copy of the chat; `request_id` makes a double press send once."""
    from .chat.services import transcript_text

    conversation = Conversation.objects.get(pk=conversation_id)
    with translation.override(conversation.language):
        context = {"conversation": conversation, "transcript": transcript_text(conversation)}
        subject = render_to_string("emails/chat_transcript_subject.txt", context)
        body = render_to_string("emails/chat_transcript.txt", context)
    return _send_once(f"chat:{conversation.pk}:transcript:{request_id}", subject, body, [email])


# --- Outbox handlers: the emails of ticket and chat changes, each with its own key -----------


@outbox_handler("support.ticket_email")
def _ticket_email(payload: dict[str, Any]) -> object:
    payload = dict(payload)
    return send_ticket_email(payload.pop("kind"), payload.pop("ticket_id"), **payload)


@outbox_handler("support.chat_transcript")
def _chat_transcript(payload: dict[str, Any]) -> object:
    return send_chat_transcript(payload["conversation_id"], payload["email"], payload["request_id"])

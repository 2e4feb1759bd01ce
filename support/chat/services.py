"""Live chat writes. A message is stored with the next sequence number of its conversation
under the conversation's row lock, and only broadcast after the commit; clients that reconnect
ask for everything after the last number they saw, so nothing is lost or shown twice."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from config.broadcast import group_send
from config.i18n import site_language
from outbox.services import outbox_enqueue

from ..models import (
    CONVERSATION_ALLOWED,
    AgentPresence,
    ChatMessage,
    Conversation,
    ConversationEvent,
    Ticket,
)

logger = logging.getLogger(__name__)
LOBBY_GROUP = "support.agents"
PRESENCE_GROUP = "support.presence"
MAX_MESSAGE_LENGTH = 2000


class ChatError(Exception):
    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(message or code)
        self.code = code


class ChatTransitionError(ChatError):
    """A status move CONVERSATION_ALLOWED does not allow; nothing was written. Every place
    that shows a ChatError (page, console, websocket) shows this one the same way."""

    def __init__(self, conversation: Conversation, to: str) -> None:
        self.before, self.to = conversation.status, to
        if conversation.status == Conversation.Status.CLOSED:
            super().__init__("closed", _("This chat has ended."))
        else:
            labels = dict(Conversation.Status.choices)
            super().__init__(
                "invalid_transition",
                _("This chat cannot go from %(before)s to %(after)s.")
                % {
                    "before": labels.get(conversation.status, conversation.status),
                    "after": labels.get(to, to),
                },
            )


def conversation_group(conversation: Conversation) -> str:
    return f"chat.{conversation.public_id.hex}"


def _send(group: str, event: dict[str, Any]) -> None:
    """Best effort, after commit: bounded, never raises (the message is saved; the chat page
    also polls)."""
    group_send(group, event)


def _expire_later(pk: int) -> None:
    """A timer for the unanswered chat. Best effort: the beat task expire_stale_chats sweeps
    every 30 s for chats whose timer was lost, so a broker fault only makes it a little late."""
    from .. import tasks

    try:
        tasks.expire_conversation.apply_async((pk,), countdown=settings.SUPPORT_CHAT_ACCEPT_SECONDS)
    except Exception:  # noqa: BLE001 - never an error page for a chat that was started
        logger.warning("could not schedule the expiry of chat %s", pk, exc_info=True)


def chat_transcript_request(*, conversation: Conversation, email: str, request_id: str) -> None:
    """Email the chat's transcript to `email`; the same `request_id` (a double press) sends it
    once."""
    with transaction.atomic():
        outbox_enqueue(
            kind="support.chat_transcript",
            payload={"conversation_id": conversation.pk, "email": email, "request_id": request_id},
            key=f"chat:{conversation.pk}:transcript:{request_id}",
        )


def _broadcast_after_commit(group: str, event: dict[str, Any]) -> None:
    transaction.on_commit(lambda: _send(group, event))


def message_payload(message: ChatMessage) -> dict[str, Any]:
    return {
        "seq": message.seq,
        "sender": message.sender,
        "author": message.author_name,
        "body": message.body,
        "at": message.created_at.isoformat(),
        "client_id": message.client_id,
    }


def conversation_payload(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.public_id.hex,
        "status": conversation.status,
        "agent": conversation.agent.get_short_name() if conversation.agent is not None else "",
        "ticket": conversation.ticket.number if conversation.ticket is not None else "",
        "last_seq": conversation.last_seq,
    }


def messages_after(conversation: Conversation, after: int) -> list[dict[str, Any]]:
    return [
        message_payload(m)
        for m in conversation.messages.filter(seq__gt=max(int(after), 0)).order_by("seq")
    ]


# Presence -------------------------------------------------------------------------------------
def agents_online(now: Any = None) -> bool:
    """Someone has the agent console open. A process that died without saying goodbye stops
    counting once its heartbeat is older than the presence TTL."""
    since = (now or timezone.now()) - timedelta(seconds=settings.SUPPORT_PRESENCE_TTL)
    return AgentPresence.objects.filter(connections__gt=0, last_seen__gte=since).exists()


def _presence_changed(before: bool) -> None:
    after = agents_online()
    if after != before:
        _broadcast_after_commit(PRESENCE_GROUP, {"type": "chat.presence", "online": after})


@transaction.atomic
def presence_connect(agent: Any) -> None:
    before = agents_online()
    presence, _new = AgentPresence.objects.select_for_update().get_or_create(agent=agent)
    presence.connections = F("connections") + 1
    presence.last_seen = timezone.now()
    presence.save(update_fields=["connections", "last_seen"])
    _presence_changed(before)


@transaction.atomic
def presence_disconnect(agent: Any) -> None:
    before = agents_online()
    presence = AgentPresence.objects.select_for_update().filter(agent=agent).first()
    if presence is None:
        return
    presence.connections = max(presence.connections - 1, 0)
    presence.save(update_fields=["connections"])
    _presence_changed(before)


def presence_heartbeat(agent: Any) -> None:
    AgentPresence.objects.filter(agent=agent).update(last_seen=timezone.now())


# Conversations --------------------------------------------------------------------------------
def _lock(conversation: Conversation) -> Conversation:
    return Conversation.objects.select_for_update().get(pk=conversation.pk)


def _append(
    conversation: Conversation,
    *,
    sender: str,
    body: str,
    author: Any = None,
    author_name: str = "",
    client_id: str = "",
) -> tuple[ChatMessage, bool]:
    """Store the next message of a conversation already locked by the caller."""
    if client_id:
        existing = conversation.messages.filter(sender=sender, client_id=client_id).first()
        if existing is not None:
            return existing, False
    conversation.last_seq += 1
    conversation.save(update_fields=["last_seq"])
    message = ChatMessage.objects.create(
        conversation=conversation,
        seq=conversation.last_seq,
        sender=sender,
        author=author if getattr(author, "pk", None) else None,
        author_name=author_name,
        body=body,
        client_id=client_id[:64],
    )
    _broadcast_after_commit(
        conversation_group(conversation),
        {"type": "chat.message", "message": message_payload(message)},
    )
    return message, True


def _system(conversation: Conversation, text: str) -> ChatMessage:
    return _append(conversation, sender=ChatMessage.Sender.SYSTEM, body=text)[0]


def _status_changed(conversation: Conversation) -> None:
    _broadcast_after_commit(
        conversation_group(conversation),
        {"type": "chat.status", "conversation": conversation_payload(conversation)},
    )
    _broadcast_after_commit(LOBBY_GROUP, {"type": "chat.lobby"})


def conversation_transition(
    conversation: Conversation, *, to: str, actor: Any = None, reason: str = "", say: str = ""
) -> ConversationEvent:
    """Move a locked chat along CONVERSATION_ALLOWED, stamp when it was accepted or closed,
    write its event and tell the chat and the agents' lobby after the commit: the one way a
    chat's status changes. Illegal moves raise ChatTransitionError and write nothing.

    `actor` is the agent or the signed-in customer; None is the system (timers, sweeps) or a
    guest, told apart by `reason`. `say` is the system message the customer reads about it,
    stored before the status is broadcast so the broadcast's last_seq includes it.
    """
    if to not in CONVERSATION_ALLOWED.get(conversation.status, frozenset()):
        raise ChatTransitionError(conversation, to)
    before = conversation.status
    conversation.status = to
    fields = ["status"]
    if to == Conversation.Status.ACTIVE:
        conversation.accepted_at = timezone.now()
        fields += ["agent", "accepted_at"]
    elif to == Conversation.Status.CLOSED:
        conversation.closed_at = timezone.now()
        fields.append("closed_at")
    conversation.save(update_fields=fields)
    actor = actor if getattr(actor, "pk", None) else None
    if actor is None:
        label = "system"
    elif actor.pk == conversation.customer_id:
        label = "customer"  # never their address: chats outlive the account
    else:
        label = getattr(actor, "email", "") or str(actor)
    event = ConversationEvent.objects.create(
        conversation=conversation,
        from_status=before,
        to_status=to,
        actor=actor,
        actor_label=label,
        reason=reason[:200],
    )
    if say:
        _system(conversation, say)
    _status_changed(conversation)
    return event


def clean_body(body: str) -> str:
    body = (body or "").strip()
    if not body:
        raise ChatError("empty", _("Write a message first."))
    if len(body) > MAX_MESSAGE_LENGTH:
        raise ChatError(
            "too_long",
            _("Messages can be at most %(limit)d characters.") % {"limit": MAX_MESSAGE_LENGTH},
        )
    return body


@transaction.atomic
def conversation_start(
    *,
    body: str,
    customer: Any = None,
    name: str = "",
    email: str = "",
    language: str = "en",
    order: Any = None,
    attempt: Any = None,
    failure_code: str = "",
) -> Conversation:
    """A customer asks for a person. Agents see it in their console at once; if nobody accepts
    in time the customer is offered to leave a message instead."""

    body = clean_body(body)
    if attempt is not None and order is None:
        order = attempt.order
    customer = customer if getattr(customer, "pk", None) else None
    conversation = Conversation.objects.create(
        customer=customer,
        name=(name or (customer.full_name if customer else "")).strip(),
        email=(email or (customer.email if customer else "")).strip().lower(),
        language=site_language(language),
        order=order,
        attempt=attempt,
        failure_code=failure_code or getattr(attempt, "failure_code", "") or "",
    )
    _append(
        conversation,
        sender=ChatMessage.Sender.CUSTOMER,
        author=customer,
        author_name=conversation.name,
        body=body,
    )
    _broadcast_after_commit(LOBBY_GROUP, {"type": "chat.lobby"})
    pk = conversation.pk
    transaction.on_commit(lambda: _expire_later(pk))
    return conversation


@transaction.atomic
def message_post(
    *,
    conversation: Conversation,
    sender: str,
    body: str,
    author: Any = None,
    client_id: str = "",
) -> tuple[ChatMessage, bool]:
    """Store then broadcast. Returns (message, created): a resent `client_id` is stored once."""
    body = clean_body(body)
    conversation = _lock(conversation)
    if conversation.status == Conversation.Status.CLOSED:
        raise ChatError("closed", _("This chat has ended."))
    if sender == ChatMessage.Sender.AGENT:
        if conversation.status != Conversation.Status.ACTIVE:
            raise ChatError("not_accepted", _("Accept the chat before replying."))
        if conversation.agent_id != getattr(author, "pk", None):
            # Only the agent who accepted answers: nobody answers a customer twice.
            raise ChatError("taken", _("Another agent has already accepted this chat."))
        name = author.get_short_name()
    else:
        name = conversation.name
    return _append(
        conversation,
        sender=sender,
        author=author,
        author_name=name,
        body=body,
        client_id=client_id,
    )


@transaction.atomic
def conversation_accept(*, conversation: Conversation, agent: Any) -> Conversation:
    """One agent takes the chat; a second agent pressing accept is told it is taken."""
    conversation = _lock(conversation)
    if conversation.status == Conversation.Status.ACTIVE and conversation.agent_id == agent.pk:
        return conversation
    if conversation.status == Conversation.Status.ACTIVE:
        raise ChatError("taken", _("Another agent has already accepted this chat."))
    if conversation.status == Conversation.Status.CLOSED or conversation.ticket_id:
        raise ChatError("closed", _("This chat has ended."))
    conversation.agent = agent
    with translation.override(conversation.language):
        conversation_transition(
            conversation,
            to=Conversation.Status.ACTIVE,
            actor=agent,
            reason="accepted",
            say=_("%(name)s joined the chat.") % {"name": agent.get_short_name()},
        )
    return conversation


@transaction.atomic
def conversation_close(*, conversation: Conversation, actor: Any = None) -> Conversation:
    conversation = _lock(conversation)
    if conversation.status == Conversation.Status.CLOSED:
        return conversation  # ending an ended chat (a second tab, a resent form) is a no-op
    with translation.override(conversation.language):
        conversation_transition(
            conversation,
            to=Conversation.Status.CLOSED,
            actor=actor,
            reason="ended",
            say=_("The chat has ended."),
        )
    return conversation


@transaction.atomic
def conversation_expire(conversation_id: int) -> bool:
    """Still waiting after the accept window: tell the customer and offer to leave a message."""
    conversation = Conversation.objects.select_for_update().filter(pk=conversation_id).first()
    if conversation is None or conversation.status != Conversation.Status.WAITING:
        return False
    with translation.override(conversation.language):
        conversation_transition(
            conversation,
            to=Conversation.Status.MISSED,
            reason="nobody accepted in time",
            say=_(
                "Sorry, nobody is free to answer right now. Leave us a message and we will "
                "reply by email — your chat so far comes with it."
            ),
        )
    return True


def conversations_expire_stale(now: Any = None) -> int:
    """The beat sweep behind the per-chat timer, in case a worker lost the timer."""
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.SUPPORT_CHAT_ACCEPT_SECONDS)
    stale = Conversation.objects.filter(
        status=Conversation.Status.WAITING, created_at__lt=cutoff
    ).values_list("pk", flat=True)
    return sum(conversation_expire(pk) for pk in list(stale[:200]))


def transcript_text(conversation: Conversation) -> str:
    lines = []
    for message in conversation.messages.order_by("seq"):
        who = message.author_name or message.get_sender_display()
        lines.append(f"[{message.created_at:%Y-%m-%d %H:%M}] {who}: {message.body}")
    return "\n".join(lines)


@transaction.atomic
def conversation_to_ticket(
    *,
    conversation: Conversation,
    actor: Any = None,
    email: str = "",
    body: str = "",
) -> Ticket:
    """The chat becomes a ticket with its transcript: the customer leaving a message when
    nobody answered, or an agent handing it over. Doing it twice returns the same ticket."""
    from ..services import ticket_open

    conversation = _lock(conversation)
    if conversation.ticket is not None:
        return conversation.ticket
    email = (email or conversation.email).strip().lower()
    if not email:
        raise ChatError("email_required", _("Enter your email address so we can reply."))
    with translation.override(conversation.language):
        first = conversation.messages.filter(sender=ChatMessage.Sender.CUSTOMER).first()
        subject = (first.body if first else _("Chat")).splitlines()[0][:120]
        parts = [body.strip()] if body.strip() else []
        parts.append(_("Chat transcript") + ":\n" + transcript_text(conversation))
        ticket = ticket_open(
            email=email,
            name=conversation.name,
            subject=subject,
            body="\n\n".join(parts),
            category=(
                Ticket.Category.PAYMENT_FAILED if conversation.attempt_id else Ticket.Category.OTHER
            ),
            source=Ticket.Source.CHAT,
            requester=conversation.customer,
            order=conversation.order,
            attempt=conversation.attempt,
            failure_code=conversation.failure_code,
            language=conversation.language,
            opened_by=actor,
        )
        conversation.ticket = ticket
        conversation.email = email
        conversation.save(update_fields=["ticket", "email"])
        said = _("This chat is now ticket %(number)s. We will reply by email to %(email)s.") % {
            "number": ticket.number,
            "email": email,
        }
        # An agent handing a live chat over keeps talking; otherwise the chat ends here.
        keep_talking = actor is not None and conversation.status == Conversation.Status.ACTIVE
        if keep_talking or conversation.status == Conversation.Status.CLOSED:
            _system(conversation, said)
            _status_changed(conversation)  # the ticket number, though the status stayed
        else:
            conversation_transition(
                conversation,
                to=Conversation.Status.CLOSED,
                actor=actor,
                reason=f"became ticket {ticket.number}",
                say=said,
            )
    return ticket


def message_store_once(**kwargs: Any) -> tuple[ChatMessage, bool]:
    """`message_post` that treats a concurrent duplicate `client_id` as already stored."""
    try:
        return message_post(**kwargs)
    except IntegrityError:
        conversation = kwargs["conversation"]
        existing = conversation.messages.get(
            sender=kwargs["sender"], client_id=kwargs.get("client_id", "")
        )
        return existing, False

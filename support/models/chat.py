"""Live chats: conversations with their status table, ordered messages, audit trail, and which
agents are online."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from payments.models import AppendOnly

from .base import AboutPayment
from .tickets import Ticket


class Conversation(AboutPayment):
    """A live chat. Messages are numbered per conversation so a reconnecting client can ask
    for exactly what it missed."""

    class Status(models.TextChoices):
        WAITING = "waiting", _("Waiting for an agent")
        ACTIVE = "active", _("With an agent")
        MISSED = "missed", _("Nobody answered")
        CLOSED = "closed", _("Closed")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("customer"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="conversations",
    )
    name = models.CharField(_("name"), max_length=150, blank=True)
    email = models.EmailField(_("email address"), blank=True)
    language = models.CharField(_("language"), max_length=10, default="en")
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.WAITING, db_index=True
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("agent"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="agent_conversations",
    )
    ticket = models.OneToOneField(
        Ticket,
        verbose_name=_("ticket"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="conversation",
    )
    last_seq = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(_("started"), default=timezone.now, db_index=True)
    accepted_at = models.DateTimeField(_("accepted"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("chat")
        verbose_name_plural = _("chats")

    def __str__(self) -> str:
        return f"{self.name or self.email or self.public_id} ({self.status})"

    @property
    def is_live(self) -> bool:
        return self.status in (self.Status.WAITING, self.Status.ACTIVE)


CS = Conversation.Status
# The only moves a chat may make (support.chat.services.conversation_transition). A waiting chat is
# accepted by one agent, missed when nobody accepts in time, or ended; an agent who frees up
# may still accept a missed chat while the customer is there. Closed is final: a customer who
# comes back starts a new chat.
CONVERSATION_ALLOWED: dict[str, frozenset[str]] = {
    CS.WAITING: frozenset({CS.ACTIVE, CS.MISSED, CS.CLOSED}),
    CS.ACTIVE: frozenset({CS.CLOSED}),
    CS.MISSED: frozenset({CS.ACTIVE, CS.CLOSED}),
    CS.CLOSED: frozenset(),
}


class ConversationEvent(AppendOnly):
    """Each move of a chat's status: who, why, when. The customer reads the system messages;
    this is the audit trail beside them."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(_("from"), max_length=10)
    to_status = models.CharField(_("to"), max_length=10)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    # "system", "customer" (never their address: chats outlive account deletion) or the agent.
    actor_label = models.CharField(_("by"), max_length=160)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("chat event")
        verbose_name_plural = _("chat events")

    def __str__(self) -> str:
        return f"{self.conversation_id}: {self.from_status} -> {self.to_status}"


class ChatMessage(AppendOnly):
    class Sender(models.TextChoices):
        CUSTOMER = "customer", _("Customer")
        AGENT = "agent", _("Agent")
        SYSTEM = "system", _("System")

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    seq = models.PositiveIntegerField()
    sender = models.CharField(max_length=10, choices=Sender.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    author_name = models.CharField(max_length=150, blank=True)
    body = models.TextField()
    # A client-chosen id: a message re-sent after a dropped connection is stored once.
    client_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["conversation", "seq"]
        verbose_name = _("chat message")
        verbose_name_plural = _("chat messages")
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "seq"], name="support_chatmessage_seq_unique"
            ),
            models.UniqueConstraint(
                fields=["conversation", "sender", "client_id"],
                condition=~Q(client_id=""),
                name="support_chatmessage_client_id_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.conversation_id}#{self.seq}"


class AgentPresence(models.Model):
    """Which agents have the console open. In the database so every web process agrees."""

    agent = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="presence"
    )
    connections = models.PositiveIntegerField(default=0)
    last_seen = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("agent presence")
        verbose_name_plural = _("agent presence")

    def __str__(self) -> str:
        return f"{self.agent_id}: {self.connections}"

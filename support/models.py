"""The support desk: tickets with their messages and audit trail, live chats with ordered
messages, and help articles keyed by failure code."""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config.i18n import in_language
from payments.models import AppendOnly

# Ticket numbers are for reading aloud on the phone, not for access: no 0/O or 1/I/L.
NUMBER_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def new_ticket_number() -> str:
    return "T-" + "".join(secrets.choice(NUMBER_ALPHABET) for _ in range(7))


def new_access_key() -> str:
    """The secret in a guest's ticket link: 256 bits, never derived from anything guessable."""
    return secrets.token_urlsafe(32)


class AboutPayment(models.Model):
    """What a ticket or chat is about, when it is about a payment: the order, the attempt
    (whose timeline agents read) and the failure code the customer was shown."""

    order = models.ForeignKey(
        "checkout.Order",
        verbose_name=_("order"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="%(class)ss",
    )
    attempt = models.ForeignKey(
        "payments.PaymentAttempt",
        verbose_name=_("payment attempt"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="%(class)ss",
    )
    failure_code = models.CharField(_("failure code"), max_length=60, blank=True)

    class Meta:
        abstract = True


class Ticket(AboutPayment):
    class Category(models.TextChoices):
        PAYMENT_FAILED = "payment_failed", _("Payment failed")
        REFUND = "refund", _("Refund")
        ACCOUNT_ACCESS = "account_access", _("Account access")
        OTHER = "other", _("Other")

    class Status(models.TextChoices):
        NEW = "new", _("New")
        OPEN = "open", _("Open")
        WAITING = "waiting", _("Waiting on customer")
        RESOLVED = "resolved", _("Resolved")
        CLOSED = "closed", _("Closed")

    class Priority(models.IntegerChoices):
        LOW = 10, _("Low")
        NORMAL = 20, _("Normal")
        HIGH = 30, _("High")
        URGENT = 40, _("Urgent")

    class Source(models.TextChoices):
        SUPPORT_PAGE = "support_page", _("Support page")
        FAILURE_SCREEN = "failure_screen", _("Payment failure screen")
        RISK_APPEAL = "risk_appeal", _("Security check appeal")
        CHAT = "chat", _("Live chat")
        AGENT = "agent", _("Opened by an agent")

    OPEN_STATUSES = (Status.NEW, Status.OPEN, Status.WAITING)

    number = models.CharField(
        _("number"), max_length=12, unique=True, default=new_ticket_number, editable=False
    )
    access_key = models.CharField(max_length=64, default=new_access_key, editable=False)
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requester"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tickets",
    )
    email = models.EmailField(_("email address"))
    name = models.CharField(_("name"), max_length=150, blank=True)
    language = models.CharField(_("language"), max_length=10, default="en")
    subject = models.CharField(_("subject"), max_length=200)
    category = models.CharField(
        _("category"), max_length=20, choices=Category.choices, default=Category.OTHER
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.NEW, db_index=True
    )
    priority = models.PositiveSmallIntegerField(
        _("priority"), choices=Priority.choices, default=Priority.NORMAL
    )
    source = models.CharField(
        _("source"), max_length=20, choices=Source.choices, default=Source.SUPPORT_PAGE
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_tickets",
        limit_choices_to={"is_staff": True},
    )
    first_response_due = models.DateTimeField(_("first response due"), db_index=True)
    first_response_at = models.DateTimeField(_("first response at"), null=True, blank=True)
    overdue_alerted_at = models.DateTimeField(null=True, blank=True, editable=False)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    rating = models.PositiveSmallIntegerField(_("satisfaction"), null=True, blank=True)
    rating_comment = models.CharField(_("rating comment"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["-priority", "first_response_due"]
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        permissions = [("answer_ticket", _("Can answer tickets and chats"))]
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__gte=1, rating__lte=5),
                name="support_ticket_rating_1_to_5",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.subject}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def is_overdue(self) -> bool:
        return (
            self.first_response_at is None
            and self.is_open
            and self.first_response_due < timezone.now()
        )


TS = Ticket.Status
# The only moves a ticket may make (support.services.ticket_transition). Work goes new -> open
# -> waiting on the customer -> resolved; a customer's reply to a waiting or resolved ticket
# opens it again, and an agent may reopen or follow up on a resolved one. Closed is final: it
# is the record of what we told the customer, so nobody writes into it; a customer who needs
# more opens a new request (the refusal says so). Staying in the same status is not a move.
TICKET_ALLOWED: dict[str, frozenset[str]] = {
    TS.NEW: frozenset({TS.OPEN, TS.WAITING, TS.RESOLVED, TS.CLOSED}),
    TS.OPEN: frozenset({TS.WAITING, TS.RESOLVED, TS.CLOSED}),
    TS.WAITING: frozenset({TS.OPEN, TS.RESOLVED, TS.CLOSED}),
    TS.RESOLVED: frozenset({TS.OPEN, TS.WAITING, TS.CLOSED}),
    TS.CLOSED: frozenset(),
}


class TicketMessage(AppendOnly):
    """A public reply (the customer sees it) or an internal note (agents only)."""

    class Author(models.TextChoices):
        CUSTOMER = "customer", _("Customer")
        AGENT = "agent", _("Agent")
        SYSTEM = "system", _("System")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    author_kind = models.CharField(max_length=10, choices=Author.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    body = models.TextField(_("message"))
    internal = models.BooleanField(_("internal note"), default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("ticket message")
        verbose_name_plural = _("ticket messages")

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.author_kind}"


class TicketEvent(AppendOnly):
    """Who changed what on a ticket, and when."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Created")
        STATUS = "status", _("Status changed")
        ASSIGNED = "assigned", _("Assigned")
        PRIORITY = "priority", _("Priority changed")
        CATEGORY = "category", _("Category changed")
        REPLIED = "replied", _("Agent replied")
        NOTE = "note", _("Internal note added")
        CUSTOMER_REPLIED = "customer_replied", _("Customer replied")
        RATED = "rated", _("Customer rated")
        OVERDUE = "overdue", _("First response overdue")
        UNLOCKED = "unlocked", _("Sign-in lockout cleared")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    actor_label = models.CharField(max_length=160)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("ticket event")
        verbose_name_plural = _("ticket events")

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.kind}"


class CannedReply(models.Model):
    title = models.CharField(_("title"), max_length=120, unique=True)
    body_en = models.TextField(_("text (English)"))
    body_zh = models.TextField(_("text (Chinese)"), blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["title"]
        verbose_name = _("canned reply")
        verbose_name_plural = _("canned replies")

    def __str__(self) -> str:
        return self.title

    def body_for(self, language: str) -> str:
        return in_language(self.body_en, self.body_zh, language)


class HelpArticle(models.Model):
    """Self-service first: what to do about a failure, in the customer's language."""

    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    title_en = models.CharField(_("title (English)"), max_length=200)
    title_zh = models.CharField(_("title (Chinese)"), max_length=200, blank=True)
    body_en = models.TextField(_("text (English)"))
    body_zh = models.TextField(_("text (Chinese)"), blank=True)
    failure_codes = models.JSONField(
        _("failure codes"),
        default=list,
        blank=True,
        help_text=_("Failure codes this article helps with, besides the catalog's own link."),
    )
    categories = models.JSONField(
        _("ticket categories"), default=list, blank=True, help_text=_("For example refund.")
    )
    published = models.BooleanField(_("published"), default=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["slug"]
        verbose_name = _("help article")
        verbose_name_plural = _("help articles")

    def __str__(self) -> str:
        return self.slug

    @property
    def title(self) -> str:
        return in_language(self.title_en, self.title_zh)

    @property
    def body(self) -> str:
        return in_language(self.body_en, self.body_zh)


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


class SentNotification(models.Model):
    """One row per email the desk sent, so a task that runs twice sends once."""

    key = models.CharField(max_length=120, unique=True)
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("sent notification")
        verbose_name_plural = _("sent notifications")

    def __str__(self) -> str:
        return self.key

"""Tickets: their numbers and guest links, the status table, messages and audit trail."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from payments.models import AppendOnly

from .base import AboutPayment

# Ticket numbers are for reading aloud on the phone, not for access: no 0/O or 1/I/L.
NUMBER_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def new_ticket_number() -> str:
    return "T-" + "".join(secrets.choice(NUMBER_ALPHABET) for _ in range(7))


def new_access_key() -> str:
    """The secret in a guest's ticket link: 256 bits, never derived from anything guessable."""
    return secrets.token_urlsafe(32)


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
        REFUND_STATUS = "refund_status", _("Refund status page")

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

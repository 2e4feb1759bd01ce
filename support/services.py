"""Writes for tickets. Every change takes the ticket's row lock, records an event, and
queues its emails for after the commit."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.services import lockout_clear
from config.i18n import site_language
from outbox.services import outbox_enqueue

from .models import (
    TICKET_ALLOWED,
    ChatMessage,
    Ticket,
    TicketEvent,
    TicketMessage,
    new_ticket_number,
)

Status = Ticket.Status
Kind = TicketEvent.Kind


class TicketError(Exception):
    """A change the ticket's state does not allow; the message is for the person who tried."""


class TicketTransitionError(TicketError):
    """A status move TICKET_ALLOWED does not allow. Views and admin show the message (in the
    language of the person who tried) and answer 4xx; nothing was written."""

    def __init__(self, ticket: Ticket, to: str) -> None:
        self.ticket_number, self.before, self.to = ticket.number, ticket.status, to
        if ticket.status == Status.CLOSED:
            message = _(
                "Ticket %(number)s is closed, so nothing more can be added to it. "
                "Please open a new request and mention %(number)s."
            ) % {"number": ticket.number}
        else:
            labels = dict(Status.choices)
            message = _("Ticket %(number)s cannot go from %(before)s to %(after)s.") % {
                "number": ticket.number,
                "before": labels.get(ticket.status, ticket.status),
                "after": labels.get(to, to),
            }
        super().__init__(message)


def ticket_check_move(ticket: Ticket, to: str) -> None:
    """Raise TicketTransitionError unless `to` is a legal next status (or the same one)."""
    if to != ticket.status and to not in TICKET_ALLOWED.get(ticket.status, frozenset()):
        raise TicketTransitionError(ticket, to)


def actor_label(user: Any) -> str:
    if user is None:
        return "system"
    return getattr(user, "email", "") or str(user)


def _event(
    ticket: Ticket, kind: str, actor: Any = None, label: str = "", **data: Any
) -> TicketEvent:
    return TicketEvent.objects.create(
        ticket=ticket,
        kind=kind,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=label or actor_label(actor),
        data=data,
    )


def _notify(kind: str, event: TicketEvent, **extra: Any) -> None:
    """Email about `event` through the outbox; the event names the email, so a delivery that
    runs twice sends it once, and the next change (even back to the same status) is new."""
    outbox_enqueue(
        kind="support.ticket_email",
        payload={"kind": kind, "ticket_id": event.ticket_id, "event_id": event.pk, **extra},
        key=f"ticket:{event.ticket_id}:{kind}:{event.pk}"
        + "".join(f":{name}={extra[name]}" for name in sorted(extra)),
    )


def _locked(ticket: Ticket) -> Ticket:
    return Ticket.objects.select_for_update().get(pk=ticket.pk)


def first_response_due(priority: int, now: Any = None) -> Any:
    minutes = settings.SUPPORT_FIRST_RESPONSE_MINUTES.get(
        int(priority), settings.SUPPORT_FIRST_RESPONSE_MINUTES[Ticket.Priority.NORMAL]
    )
    return (now or timezone.now()) + timedelta(minutes=minutes)


def default_priority(category: str, attempt: Any = None) -> int:
    """Money that may be stuck and people locked out come first."""
    if category == Ticket.Category.ACCOUNT_ACCESS or attempt is not None:
        return Ticket.Priority.HIGH
    return Ticket.Priority.NORMAL


def _create_numbered(fields: dict[str, Any], tries: int = 5) -> Ticket:
    """A random number can, rarely, already be taken: draw again rather than fail (the last
    try's error, if it comes to that, propagates)."""
    for _try in range(tries - 1):
        try:
            with transaction.atomic():
                return Ticket.objects.create(number=new_ticket_number(), **fields)
        except IntegrityError:
            continue
    return Ticket.objects.create(number=new_ticket_number(), **fields)


@transaction.atomic
def ticket_open(
    *,
    email: str,
    subject: str,
    body: str,
    name: str = "",
    category: str = Ticket.Category.OTHER,
    source: str = Ticket.Source.SUPPORT_PAGE,
    requester: Any = None,
    order: Any = None,
    attempt: Any = None,
    failure_code: str = "",
    language: str = "en",
    opened_by: Any = None,
) -> Ticket:
    """A new ticket with the customer's first message; the customer gets the link by email and
    the agents are told. `opened_by` is the agent when one turns a chat into a ticket."""
    if attempt is not None and order is None:
        order = attempt.order
    priority = default_priority(category, attempt)
    now = timezone.now()
    fields = dict(
        requester=requester if getattr(requester, "pk", None) else None,
        email=email.strip().lower(),
        name=name.strip(),
        # One line: it becomes an email subject, where a line break is refused.
        subject=" ".join(subject.split())[:200],
        category=category,
        source=source,
        priority=priority,
        order=order,
        attempt=attempt,
        failure_code=failure_code or getattr(attempt, "failure_code", "") or "",
        language=site_language(language),
        first_response_due=first_response_due(priority, now),
        created_at=now,
    )
    ticket = _create_numbered(fields)
    TicketMessage.objects.create(
        ticket=ticket,
        author_kind=TicketMessage.Author.CUSTOMER,
        author=ticket.requester,
        body=body.strip(),
        created_at=now,
    )
    created = _event(
        ticket,
        Kind.CREATED,
        opened_by or ticket.requester,
        label="" if (opened_by or ticket.requester) else ticket.email,
        source=source,
    )
    _notify("opened", created)
    _notify("agents_new", created)
    return ticket


def refund_details(refund: Any, *, now: Any = None) -> str:
    """What agents need about a refund, in the active language: amount, method, step, the
    provider's reference and the dates. Written into a "where is my refund" ticket."""
    from django.utils.formats import date_format

    from payments.arrival import money_back
    from payments.money import format_money
    from payments.selectors import attempt_paid_with

    order = refund.attempt.order
    row = money_back(refund, now=now or timezone.now(), top_up=order.is_wallet_top_up)
    language = translation.get_language() or "en"

    def when(moment: Any) -> str:
        return date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT") if moment else "-"

    lines = [
        _("Refund: %(id)s") % {"id": refund.public_id},
        _("Order: %(number)s") % {"number": order.number},
        _("Amount: %(amount)s")
        % {"amount": format_money(refund.amount, refund.currency, language)},
        _("Paid with: %(method)s") % {"method": attempt_paid_with(refund.attempt)},
        _("Refund to: %(destination)s") % {"destination": refund.get_destination_display()},
        _("Status: %(step)s (%(status)s)") % {"step": row.label, "status": refund.status},
        _("Provider reference: %(reference)s") % {"reference": refund.provider_reference or "-"},
        _("Requested: %(when)s") % {"when": when(refund.created_at)},
        _("Sent to the provider: %(when)s") % {"when": when(refund.sent_at)},
        _("Expected by: %(when)s") % {"when": when(refund.expected_by)},
    ]
    if row.overdue:
        lines.append(_("The expected date has passed without confirmation."))
    if row.reason:
        lines.append(_("Why it was not sent: %(reason)s") % {"reason": row.reason})
    return "\n".join(str(line) for line in lines)


@transaction.atomic
def ticket_open_about_refund(
    *, refund: Any, requester: Any = None, note: str = "", language: str = "en"
) -> Ticket:
    """A "where is my refund" ticket from the refund's status page: the customer's note, then
    everything we know about the refund, with the order and payment attached for the desk."""
    order = refund.attempt.order
    with translation.override(site_language(language)):
        subject = _("Where is my refund for order %(number)s?") % {"number": order.number}
        body = "\n\n".join(part for part in (note.strip(), refund_details(refund)) if part)
    return ticket_open(
        email=getattr(requester, "email", "") or order.email,
        name=getattr(requester, "full_name", "") or order.full_name,
        subject=subject,
        body=body,
        category=Ticket.Category.REFUND,
        source=Ticket.Source.REFUND_STATUS,
        requester=requester,
        order=order,
        attempt=refund.attempt,
        language=language,
    )


@transaction.atomic
def ticket_customer_reply(*, ticket: Ticket, body: str, user: Any = None) -> TicketMessage:
    """The customer writes again. A ticket waiting on them, or already resolved, opens again;
    a closed one refuses (TicketTransitionError) and nothing is written."""
    ticket = _locked(ticket)
    reopen = ticket.status in (Status.WAITING, Status.RESOLVED)
    if ticket.status == Status.CLOSED:
        raise TicketTransitionError(ticket, Status.OPEN)  # closed is final: a new request
    message = TicketMessage.objects.create(
        ticket=ticket,
        author_kind=TicketMessage.Author.CUSTOMER,
        author=user if getattr(user, "pk", None) else None,
        body=body.strip(),
    )
    label = "" if getattr(user, "pk", None) else ticket.email
    replied = _event(ticket, Kind.CUSTOMER_REPLIED, user, label=label, message=message.pk)
    if reopen:
        ticket_transition(ticket=ticket, to=Status.OPEN, actor=user, label=label)
    _notify("agents_customer_replied", replied, message_id=message.pk)
    return message


@transaction.atomic
def ticket_agent_reply(
    *, ticket: Ticket, agent: Any, body: str, internal: bool = False, status: str = ""
) -> TicketMessage:
    """A public reply (emailed to the customer) or an internal note (never shown to them).

    A public reply waits on the customer unless the agent picks another status. A closed
    ticket takes internal notes only; anything else is refused before a word is written.
    """
    ticket = _locked(ticket)
    if not internal:
        status = status or Status.WAITING
        if ticket.status == Status.CLOSED:
            raise TicketTransitionError(ticket, status)
    if status:
        ticket_check_move(ticket, status)
    message = TicketMessage.objects.create(
        ticket=ticket,
        author_kind=TicketMessage.Author.AGENT,
        author=agent,
        body=body.strip(),
        internal=internal,
    )
    if internal:
        _event(ticket, Kind.NOTE, agent, message=message.pk)
    else:
        replied = _event(ticket, Kind.REPLIED, agent, message=message.pk)
        update = ["updated_at"]
        if ticket.first_response_at is None:
            ticket.first_response_at = message.created_at
            update.append("first_response_at")
        if ticket.assignee_id is None:
            _assign(ticket, agent, agent)
            update.append("assignee")
        ticket.save(update_fields=update)
        _notify("reply", replied, message_id=message.pk)
    if status and status != ticket.status:
        ticket_transition(ticket=ticket, to=status, actor=agent, notify=internal)
    return message


def ticket_transition(
    *, ticket: Ticket, to: str, actor: Any, label: str = "", notify: bool = False
) -> TicketEvent:
    """Move a locked ticket along TICKET_ALLOWED and write its status event: the one way a
    ticket's status changes. The customer is emailed about a resolution, or about any move
    when `notify` (an agent moved it by hand). Illegal moves raise and write nothing."""
    if to not in Status.values or to not in TICKET_ALLOWED[ticket.status]:
        raise TicketTransitionError(ticket, to)
    before = ticket.status
    ticket.status = to
    update = ["status", "updated_at"]
    if to == Status.RESOLVED:
        ticket.resolved_at = timezone.now()
        update.append("resolved_at")
    elif to in Ticket.OPEN_STATUSES and ticket.resolved_at is not None:
        ticket.resolved_at = None
        update.append("resolved_at")
    ticket.save(update_fields=update)
    changed = _event(ticket, Kind.STATUS, actor, label=label, before=before, after=to)
    if notify or to == Status.RESOLVED:
        _notify("status", changed, status=to)
    return changed


@transaction.atomic
def ticket_set_status(*, ticket: Ticket, actor: Any, status: str) -> Ticket:
    """An agent moves the ticket on; the customer hears about it in their language."""
    ticket = _locked(ticket)
    if status != ticket.status:
        ticket_transition(ticket=ticket, to=status, actor=actor, notify=True)
    return ticket


def _assign(ticket: Ticket, assignee: Any, actor: Any) -> None:
    before = ticket.assignee.email if ticket.assignee is not None else ""
    ticket.assignee = assignee
    assigned = _event(
        ticket,
        Kind.ASSIGNED,
        actor,
        before=before,
        after=assignee.email if assignee is not None else "",
    )
    if assignee is not None and getattr(actor, "pk", None) != assignee.pk:
        _notify("agent_assigned", assigned, agent_id=assignee.pk)


@transaction.atomic
def ticket_assign(*, ticket: Ticket, actor: Any, assignee: Any) -> Ticket:
    ticket = _locked(ticket)
    if ticket.assignee_id == getattr(assignee, "pk", None):
        return ticket
    _assign(ticket, assignee, actor)
    ticket.save(update_fields=["assignee", "updated_at"])
    if assignee is not None and ticket.status == Status.NEW:
        ticket_transition(ticket=ticket, to=Status.OPEN, actor=actor)  # someone has it now
    return ticket


@transaction.atomic
def ticket_set_priority(*, ticket: Ticket, actor: Any, priority: int) -> Ticket:
    """A new priority moves the first-response due time with it, unless already answered."""
    ticket = _locked(ticket)
    priority = int(priority)
    if priority == ticket.priority:
        return ticket
    _event(ticket, Kind.PRIORITY, actor, before=ticket.priority, after=priority)
    ticket.priority = priority
    update = ["priority", "updated_at"]
    if ticket.first_response_at is None:
        ticket.first_response_due = first_response_due(priority, ticket.created_at)
        ticket.overdue_alerted_at = None
        update += ["first_response_due", "overdue_alerted_at"]
    ticket.save(update_fields=update)
    return ticket


@transaction.atomic
def ticket_rate(*, ticket: Ticket, rating: int, comment: str = "") -> Ticket:
    """The one-question survey after resolution; answered once."""
    ticket = _locked(ticket)
    if ticket.status not in (Status.RESOLVED, Status.CLOSED):
        raise TicketError("not_resolved")
    if ticket.rating is not None:
        raise TicketError("already_rated")
    if not 1 <= int(rating) <= 5:
        raise TicketError("bad_rating")
    ticket.rating = int(rating)
    ticket.rating_comment = comment.strip()[:500]
    ticket.save(update_fields=["rating", "rating_comment", "updated_at"])
    _event(ticket, Kind.RATED, ticket.requester, label=ticket.email, rating=ticket.rating)
    return ticket


def requester_email(ticket: Ticket) -> str:
    """The address that signs in: the account's, when the ticket has one."""
    return ticket.requester.email if ticket.requester is not None else ticket.email


@transaction.atomic
def ticket_clear_lockout(*, ticket: Ticket, actor: Any) -> Any:
    """Lift the requester's sign-in lockout from the ticket page; recorded on the ticket and
    in the accounts' lockout-clearance log."""
    ticket = _locked(ticket)
    email = requester_email(ticket)
    clearance = lockout_clear(email, actor, reason=f"ticket {ticket.number}")
    _event(
        ticket,
        Kind.UNLOCKED,
        actor,
        email=email,
        was_locked=clearance.was_locked,
        failures_cleared=clearance.attempts_cleared,
    )
    return clearance


@transaction.atomic
def ticket_set_category(*, ticket: Ticket, actor: Any, category: str) -> Ticket:
    ticket = _locked(ticket)
    if category != ticket.category:
        _event(ticket, Kind.CATEGORY, actor, before=ticket.category, after=category)
        ticket.category = category
        ticket.save(update_fields=["category", "updated_at"])
    return ticket


def tickets_mark_overdue(now: Any = None) -> list[int]:
    """Tickets past their first-response time that nobody answered: flag each once."""
    now = now or timezone.now()
    flagged = []
    due = Ticket.objects.filter(
        status__in=Ticket.OPEN_STATUSES,
        first_response_at__isnull=True,
        first_response_due__lt=now,
        overdue_alerted_at__isnull=True,
    ).values_list("pk", flat=True)
    for pk in list(due[:200]):
        with transaction.atomic():
            ticket = Ticket.objects.select_for_update().get(pk=pk)
            if ticket.overdue_alerted_at is not None or ticket.first_response_at is not None:
                continue
            ticket.overdue_alerted_at = now
            ticket.save(update_fields=["overdue_alerted_at"])
            late = _event(ticket, Kind.OVERDUE, None, due=ticket.first_response_due.isoformat())
            _notify("agents_overdue", late)
            flagged.append(pk)
    return flagged


def requester_forget(sender: Any = None, *, user: Any, old_email: str, **kwargs: Any) -> None:
    """An account was deleted: its tickets and chats keep what was said (the record of what we
    told a customer) but lose who said it, in the tickets, their history and the chats."""
    from django.db.models import F, Value
    from django.db.models.functions import Replace

    from .models import Conversation

    placeholder = user.email  # already the account's anonymous address
    tickets = Ticket.objects.filter(Q(requester=user) | Q(email__iexact=old_email))
    TicketEvent.objects.filter(ticket__in=tickets, actor_label__iexact=old_email).update(
        actor_label=placeholder
    )
    for event in TicketEvent.objects.filter(ticket__in=tickets, data__email__isnull=False):
        TicketEvent.objects.filter(pk=event.pk).update(data={**event.data, "email": placeholder})
    tickets.update(email=placeholder, name="")
    chats = Conversation.objects.filter(Q(customer=user) | Q(email__iexact=old_email))
    ChatMessage.objects.filter(conversation__in=chats).update(
        body=Replace(F("body"), Value(old_email.lower()), Value(placeholder))
    )
    ChatMessage.objects.filter(conversation__in=chats, sender="customer").update(author_name="")
    chats.update(email="", name="")

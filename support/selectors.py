"""Reads for the support desk: who may see a ticket or a chat, who answers them, which payment
a visitor may attach, and which articles help with a failure."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.crypto import constant_time_compare

from checkout.models import Order
from checkout.selectors import order_visible_to
from payments.failures import failure_for

from .models import ChatMessage, Conversation, HelpArticle, Ticket

TICKETS_SESSION_KEY = "support_tickets"
CHATS_SESSION_KEY = "support_chats"


def is_agent(user: Any) -> bool:
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and user.is_staff
        and user.has_perm("support.answer_ticket")
    )


def agent_users(*, superusers: bool = True) -> QuerySet:
    """Active staff who answer tickets: the permission, given directly or through a group,
    and (unless told otherwise) the superusers, who have every permission."""
    answers = Q(
        user_permissions__codename="answer_ticket",
        user_permissions__content_type__app_label="support",
    ) | Q(
        groups__permissions__codename="answer_ticket",
        groups__permissions__content_type__app_label="support",
    )
    if superusers:
        answers |= Q(is_superuser=True)
    return (
        get_user_model()
        .objects.filter(answers, is_active=True, is_staff=True)
        .distinct()
        .order_by("email")
    )


def remember_ticket(request: HttpRequest, ticket: Ticket) -> None:
    """The browser that opened a ticket (or followed its emailed link) may see it again."""
    numbers = list(request.session.get(TICKETS_SESSION_KEY, []))
    if ticket.number not in numbers:
        request.session[TICKETS_SESSION_KEY] = [*numbers[-19:], ticket.number]


def ticket_visible(request: HttpRequest, ticket: Ticket, key: str = "") -> bool:
    """Its requester, an agent, the browser that opened it, or whoever holds the emailed key."""
    user = request.user
    if user.is_authenticated and (ticket.requester_id == user.pk or is_agent(user)):
        return True
    if ticket.number in request.session.get(TICKETS_SESSION_KEY, []):
        return True
    return bool(key) and constant_time_compare(key, ticket.access_key)


def remember_chat(session: Any, conversation: Conversation) -> None:
    """The browser that started a chat may come back to it (guests have nothing else)."""
    ids = list(session.get(CHATS_SESSION_KEY, []))
    if conversation.public_id.hex not in ids:
        session[CHATS_SESSION_KEY] = [*ids[-19:], conversation.public_id.hex]


def chat_role(user: Any, session: Any, conversation: Conversation) -> str:
    """ "customer" for the person who asked, "agent" for staff who answer, "" for anyone else.
    Shared by the pages and the websocket so both let in exactly the same people."""
    if user is not None and user.is_authenticated and conversation.customer_id == user.pk:
        return ChatMessage.Sender.CUSTOMER
    if session is not None and conversation.public_id.hex in session.get(CHATS_SESSION_KEY, []):
        return ChatMessage.Sender.CUSTOMER
    if is_agent(user):
        return ChatMessage.Sender.AGENT
    return ""


def attached_payment(request: HttpRequest, number: str, attempt_id: str) -> tuple[Any, Any]:
    """The order and attempt a customer refers to (a ticket or chat about a payment), only
    when this visitor may see them: nobody can attach, and so read about, somebody else's
    payment."""
    order = Order.objects.filter(number=number[:20]).first() if number else None
    # No key: support links do not carry the order's secret, so only the owner, staff and the
    # browser that placed the order can attach it.
    if order is None or not order_visible_to(
        order=order, user=request.user, session=request.session
    ):
        return None, None
    try:
        attempt = order.attempts.filter(public_id=uuid.UUID(attempt_id)).first()
    except ValueError:
        attempt = None
    return order, attempt


def articles_for(code: str = "", category: str = "", limit: int = 3) -> list[HelpArticle]:
    """Published articles for a failure code: the catalog's own link first, then any article
    an admin tagged with the code or with the ticket category. One query; the list of
    articles is short enough to match here on every database."""
    if not code and not category:
        return []
    linked = failure_for(code).article if code else ""
    found = [
        article
        for article in HelpArticle.objects.filter(published=True)
        if article.slug == linked
        or (code and code in (article.failure_codes or []))
        or (category and category in (article.categories or []))
    ]
    found.sort(key=lambda a: (a.slug != linked, a.slug))
    return found[:limit]


def article_search(query: str, limit: int = 20) -> list[HelpArticle]:
    """Every word must appear in the title or text, in either language."""
    words = [w for w in query.split() if w][:8]
    if not words:
        return []
    qs = HelpArticle.objects.filter(published=True)
    for word in words:
        qs = qs.filter(
            Q(title_en__icontains=word)
            | Q(title_zh__icontains=word)
            | Q(body_en__icontains=word)
            | Q(body_zh__icontains=word)
        )
    return list(qs[:limit])


def export_for(user: Any) -> dict[str, list[dict[str, Any]]]:
    """The person's tickets and chats for their data export: what they and we wrote to each
    other, never agents' internal notes or the tickets' secret links."""
    from .models import Conversation

    tickets = Ticket.objects.filter(requester=user).prefetch_related("messages")
    chats = Conversation.objects.filter(customer=user).prefetch_related("messages")
    return {
        "tickets": [
            {
                "number": t.number,
                "subject": t.subject,
                "category": t.category,
                "status": t.status,
                "created_at": t.created_at.isoformat(),
                "rating": t.rating,
                "messages": [
                    {"from": m.author_kind, "body": m.body, "at": m.created_at.isoformat()}
                    for m in t.messages.all()
                    if not m.internal
                ],
            }
            for t in tickets
        ],
        "chats": [
            {
                "started_at": c.created_at.isoformat(),
                "status": c.status,
                "messages": [
                    {"from": m.sender, "body": m.body, "at": m.created_at.isoformat()}
                    for m in c.messages.all()
                ],
            }
            for c in chats
        ],
    }

"""The data export carries the person's tickets and chats, and nobody else's."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from support import services
from support.chat import services as chat

pytestmark = pytest.mark.django_db


def test_export_has_my_tickets_and_chats_without_notes_or_links(client, alice, mallory, bob):
    mine = services.ticket_open(
        email=alice.email, requester=alice, subject="Refund?", body="Where is my refund?"
    )
    services.ticket_agent_reply(ticket=mine, agent=bob, body="Customer is a VIP", internal=True)
    services.ticket_agent_reply(ticket=mine, agent=bob, body="On its way.")
    chat.conversation_start(customer=alice, body="Hello, anyone there?")
    services.ticket_open(
        email=mallory.email, requester=mallory, subject="Mallory's", body="secret plans"
    )
    client.force_login(alice)
    response = client.get(reverse("account_export"))
    data = json.loads(response.content)
    assert [t["number"] for t in data["tickets"]] == [mine.number]
    assert [m["body"] for m in data["tickets"][0]["messages"]] == [
        "Where is my refund?",
        "On its way.",
    ]
    assert [m["body"] for m in data["chats"][0]["messages"]] == ["Hello, anyone there?"]
    raw = response.content.decode()
    for absent in ("VIP", mine.access_key, "secret plans", "Mallory's"):
        assert absent not in raw


def test_deleting_the_account_removes_who_wrote_but_keeps_what_was_said(alice, bob):
    from accounts.services import user_delete_account
    from support.models import ChatMessage, Conversation, Ticket

    ticket = services.ticket_open(
        email=alice.email, name="Alice", requester=alice, subject="Hi", body="Card declined"
    )
    guest_ticket = services.ticket_open(email="ALICE@example.com", subject="Hi", body="Before")
    conversation = chat.conversation_start(customer=alice, body="Hello")
    other = services.ticket_open(email="bob@example.com", name="Bob", subject="x", body="y")
    services.ticket_clear_lockout(ticket=ticket, actor=bob)
    services.ticket_customer_reply(ticket=ticket, body="More", user=None)
    chat.conversation_to_ticket(conversation=conversation)
    user_delete_account(user=alice)
    for t in (ticket, guest_ticket):
        t.refresh_from_db()
        assert (t.email, t.name) == (f"deleted-{alice.pk}@invalid", "")
    assert ticket.messages.first().body == "Card declined"
    conversation = Conversation.objects.get(pk=conversation.pk)
    assert (conversation.email, conversation.name) == ("", "")
    assert set(ChatMessage.objects.values_list("author_name", flat=True)) <= {""}
    assert Ticket.objects.get(pk=other.pk).email == "bob@example.com"
    from support.models import TicketEvent

    traces = [str(e.actor_label) + str(e.data) for e in TicketEvent.objects.all()]
    traces += list(ChatMessage.objects.values_list("body", flat=True))
    assert not [t for t in traces if "alice@example.com" in t.lower()]

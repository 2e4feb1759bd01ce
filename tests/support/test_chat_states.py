"""A chat moves along one declared table; every move writes a ConversationEvent beside the
message the customer reads; an illegal move raises a ChatError (shown, never a 500) and writes
nothing."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from support import tasks
from support.chat import services as chat
from support.models import CONVERSATION_ALLOWED, Conversation, ConversationEvent

pytestmark = pytest.mark.django_db

CONVERSATION_MOVES = {
    ("waiting", "active"),
    ("waiting", "missed"),
    ("waiting", "closed"),
    ("active", "closed"),
    ("missed", "active"),
    ("missed", "closed"),
}


@pytest.fixture(autouse=True)
def no_accept_timer(monkeypatch):
    monkeypatch.setattr(tasks.expire_conversation, "apply_async", lambda *a, **kw: None)


@pytest.fixture
def agent(bob):
    bob.user_permissions.add(Permission.objects.get(codename="answer_ticket"))
    return bob


def start(**kwargs) -> Conversation:
    return chat.conversation_start(
        body="My card was declined", name="Grace", email="grace@example.com", **kwargs
    )


def events(conversation: Conversation) -> list[tuple[str, str, str, str]]:
    return list(
        conversation.events.order_by("id").values_list(
            "from_status", "to_status", "actor_label", "reason"
        )
    )


def test_the_chat_table_is_exactly_the_agreed_moves():
    assert set(map(str, CONVERSATION_ALLOWED)) == {"waiting", "active", "missed", "closed"}
    assert {
        (str(a), str(b)) for a, bs in CONVERSATION_ALLOWED.items() for b in bs
    } == CONVERSATION_MOVES


def test_accept_and_end_write_their_events(agent):
    conversation = start()
    chat.conversation_accept(conversation=conversation, agent=agent)
    chat.conversation_close(conversation=conversation, actor=agent)
    chat.conversation_close(conversation=conversation, actor=agent)  # again: nothing new
    assert events(conversation) == [
        ("waiting", "active", "bob@example.com", "accepted"),
        ("active", "closed", "bob@example.com", "ended"),
    ]
    conversation.refresh_from_db()
    assert conversation.accepted_at is not None and conversation.closed_at is not None
    system = list(conversation.messages.filter(sender="system").values_list("body", flat=True))
    assert system == ["Bob joined the chat.", "The chat has ended."]


def test_a_missed_chat_left_as_a_message_writes_its_events(alice):
    conversation = start(customer=alice)
    assert chat.conversation_expire(conversation.pk) is True
    ticket = chat.conversation_to_ticket(conversation=conversation)
    assert events(conversation) == [
        ("waiting", "missed", "system", "nobody accepted in time"),
        ("missed", "closed", "system", f"became ticket {ticket.number}"),
    ]


def test_the_customer_ending_their_own_chat_is_recorded_without_their_address(alice):
    conversation = start(customer=alice)
    chat.conversation_close(conversation=conversation, actor=alice)
    assert events(conversation) == [("waiting", "closed", "customer", "ended")]


def test_an_agent_handing_a_live_chat_to_a_ticket_keeps_it_open_and_moves_nothing(agent):
    conversation = start()
    chat.conversation_accept(conversation=conversation, agent=agent)
    chat.conversation_to_ticket(conversation=conversation, actor=agent)
    conversation.refresh_from_db()
    assert conversation.status == "active"
    assert events(conversation) == [("waiting", "active", "bob@example.com", "accepted")]


def test_an_illegal_move_raises_and_writes_nothing(agent):
    conversation = start()
    chat.conversation_close(conversation=conversation)
    locked = Conversation.objects.get(pk=conversation.pk)
    messages = locked.messages.count()
    for to in ("waiting", "active", "missed"):
        with pytest.raises(chat.ChatTransitionError):
            chat.conversation_transition(locked, to=to, actor=agent, say="should not appear")
    active = start()
    chat.conversation_accept(conversation=active, agent=agent)
    with pytest.raises(chat.ChatTransitionError) as refused:
        chat.conversation_transition(
            Conversation.objects.get(pk=active.pk), to="missed", reason="timer came late"
        )
    assert (refused.value.code, str(refused.value)) == (
        "invalid_transition",
        "This chat cannot go from With an agent to Nobody answered.",
    )
    assert ConversationEvent.objects.filter(to_status__in=["waiting", "missed"]).count() == 0
    assert ConversationEvent.objects.filter(conversation=conversation).count() == 1
    assert locked.messages.count() == messages
    assert Conversation.objects.get(pk=conversation.pk).status == "closed"


def test_accepting_an_ended_chat_in_the_console_says_so(client, agent):
    conversation = start()
    chat.conversation_close(conversation=conversation)
    client.force_login(agent)
    response = client.post(
        reverse("admin:support_conversation_accept", args=[conversation.public_id]), follow=True
    )
    assert response.status_code == 200
    assert "This chat has ended." in [str(m) for m in response.context["messages"]]
    assert events(conversation) == [("waiting", "closed", "system", "ended")]


def test_the_chat_admin_page_shows_the_history(client, carol, agent):
    conversation = start()
    chat.conversation_accept(conversation=conversation, agent=agent)
    client.force_login(carol)
    page = client.get(reverse("admin:support_conversation_change", args=[conversation.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    assert "Status history" in body and "accepted" in body

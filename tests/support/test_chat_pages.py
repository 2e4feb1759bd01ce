"""The customer's chat pages and the agent console, without JavaScript: who may see a chat,
sending by form, leaving a message when nobody answers, turning a chat into a ticket."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from payments.models import PaymentAttempt
from support import tasks
from support.chat import services as chat
from support.models import ChatMessage, Conversation, HelpArticle, Ticket
from support.selectors import CHATS_SESSION_KEY, TICKETS_SESSION_KEY
from tests.checkout.helpers import checkout_form, fill_cart, pay
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def accept_timer(monkeypatch):
    """Eager Celery would run the accept-window timer at once; tests expire chats themselves."""
    started: list[tuple] = []
    monkeypatch.setattr(
        tasks.expire_conversation, "apply_async", lambda args, **kw: started.append(args)
    )
    return started


def make_agent(user):
    user.user_permissions.add(Permission.objects.get(codename="answer_ticket"))
    return user


@pytest.fixture
def agent(bob):
    return make_agent(bob)


def agent_online(agent) -> None:
    chat.presence_connect(agent)


def start_chat(client: Client, **data: str):
    form = {"name": "Grace", "email": "grace@example.com", "message": "My card was declined"}
    response = client.post(reverse("support:chat_new"), form | {"start": "1"} | data)
    assert response.status_code == 302, response.content.decode()[:2000]
    conversation = Conversation.objects.latest("created_at")
    assert response["Location"] == reverse("support:chat", args=[conversation.public_id])
    return conversation


def declined_attempt(client: Client) -> PaymentAttempt:
    fill_cart(client, "mug")
    response = pay(client, checkout_form(client), payment_method="pm_card_visa_chargeDeclined")
    assert response.status_code == 402
    return PaymentAttempt.objects.get()


# --- starting a chat -------------------------------------------------------------------------


def test_new_chat_page_suggests_articles_for_the_failure_and_says_nobody_is_online(client, shop):
    attempt = declined_attempt(client)
    HelpArticle.objects.create(
        slug="declined-help",
        title_en="What to do when a card is declined",
        body_en="Call your bank.",
        failure_codes=[attempt.failure_code],
    )
    url = reverse("support:chat_new")
    query = f"?order={attempt.order.number}&attempt={attempt.public_id}"
    page = client.get(url + query).content.decode()
    assert "What to do when a card is declined" in page
    assert "No agent is online right now" in page
    assert 'name="leave"' in page
    assert f'value="{attempt.order.number}"' in page


def test_chat_attaches_the_order_and_attempt_only_for_someone_who_may_see_them(
    client, shop, mallory, agent
):
    agent_online(agent)
    attempt = declined_attempt(client)
    query = {"order": attempt.order.number, "attempt": str(attempt.public_id)}
    mine = start_chat(client, **query)
    assert (mine.order, mine.attempt) == (attempt.order, attempt)
    assert mine.failure_code == attempt.failure_code
    assert mine.messages.get().body == "My card was declined"
    assert client.session[CHATS_SESSION_KEY] == [mine.public_id.hex]

    stranger = Client()
    stranger.force_login(mallory)
    theirs = start_chat(stranger, **query)
    assert theirs.order is None and theirs.attempt is None
    # An attempt of another order is ignored even with a visible order.
    other = start_chat(client, order=attempt.order.number, attempt=str(theirs.public_id))
    assert other.order == attempt.order and other.attempt is None


def test_guests_must_give_an_email_signed_in_customers_need_not(client, alice, agent):
    agent_online(agent)
    response = client.post(reverse("support:chat_new"), {"message": "hello", "start": "1"})
    assert response.status_code == 400
    assert "Enter your email address" in response.content.decode()
    assert not Conversation.objects.exists()

    client.force_login(alice)
    conversation = start_chat(client, name="", email="")
    assert conversation.customer == alice
    assert conversation.email == "alice@example.com"


def test_leave_a_message_when_nobody_is_online_opens_a_ticket(client, shop):
    attempt = declined_attempt(client)
    response = client.post(
        reverse("support:chat_new"),
        {
            "email": "grace@example.com",
            "message": "Card declined twice\nPlease help",
            "order": attempt.order.number,
            "attempt": str(attempt.public_id),
            "leave": "1",
        },
    )
    ticket = Ticket.objects.get()
    assert response["Location"] == reverse("support:ticket", args=[ticket.number])
    assert ticket.source == Ticket.Source.CHAT
    assert (ticket.order, ticket.attempt) == (attempt.order, attempt)
    assert ticket.subject == "Card declined twice"
    assert ticket.number in client.session[TICKETS_SESSION_KEY]
    assert not Conversation.objects.exists()
    assert client.get(response["Location"]).status_code == 200


# --- the chat page ---------------------------------------------------------------------------


def test_only_the_customer_their_browser_and_agents_see_a_chat(client, alice, agent, mallory):
    agent_online(agent)
    client.force_login(alice)
    conversation = start_chat(client)
    url = reverse("support:chat", args=[conversation.public_id])
    page = client.get(url)
    assert page.status_code == 200
    assert 'role="log"' in page.content.decode()
    assert "My card was declined" in page.content.decode()

    for who in (mallory, None):
        other = Client()
        if who is not None:
            other.force_login(who)
        assert other.get(url).status_code == 404
        send = reverse("support:chat_message", args=[conversation.public_id])
        assert other.post(send, {"message": "hi"}).status_code == 404
    staff = Client()
    staff.force_login(agent)
    assert staff.get(url).status_code == 200
    plain_staff = Client()
    plain_staff.force_login(UserFactory(email="staff@example.com", is_staff=True))
    assert plain_staff.get(url).status_code == 404


def test_sending_without_javascript_stores_once_and_comes_back(client, agent):
    agent_online(agent)
    conversation = start_chat(client)
    send = reverse("support:chat_message", args=[conversation.public_id])
    data = {"message": "Still there? <script>alert(1)</script>", "client_id": "form-1"}
    first = client.post(send, data)
    again = client.post(send, data)  # pressed twice
    assert first.status_code == again.status_code == 302
    assert first["Location"].endswith("#chat-log")
    bodies = list(conversation.messages.order_by("seq").values_list("seq", "body"))
    assert bodies == [(1, "My card was declined"), (2, data["message"])]
    page = client.get(first["Location"]).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page

    empty = client.post(send, {"message": "  "})
    assert empty.status_code == 400
    assert 'id="error-summary"' in empty.content.decode()


def test_no_javascript_posts_are_rate_limited_too(client, agent, settings):
    settings.SUPPORT_CHAT_RATE_MESSAGES = 2
    agent_online(agent)
    conversation = start_chat(client)
    send = reverse("support:chat_message", args=[conversation.public_id])
    codes = [client.post(send, {"message": f"m{i}"}).status_code for i in range(3)]
    assert codes == [302, 302, 429]
    assert conversation.messages.count() == 3


def test_a_chat_nobody_accepts_expires_and_leaving_a_message_makes_a_ticket(
    client, accept_timer, settings
):
    conversation = start_chat(client, message="Where is my refund?")
    client.post(
        reverse("support:chat_message", args=[conversation.public_id]),
        {"message": "Order CK-123"},
    )
    # The timer was asked for the accept window; nothing happens before it ends.
    assert accept_timer == []  # on_commit never fires inside a test transaction
    assert tasks.expire_stale_chats() == 0
    later = timezone.now() + timedelta(seconds=settings.SUPPORT_CHAT_ACCEPT_SECONDS + 1)
    with time_machine.travel(later, tick=False):
        assert tasks.expire_stale_chats() == 1
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.MISSED
    assert conversation.messages.last().sender == ChatMessage.Sender.SYSTEM

    page = client.get(reverse("support:chat", args=[conversation.public_id])).content.decode()
    assert "Leave us a message" in page
    assert 'value="grace@example.com"' in page
    response = client.post(
        reverse("support:chat_leave", args=[conversation.public_id]),
        {"email": "grace@example.com", "message": "Any news?"},
    )
    ticket = Ticket.objects.get()
    assert response["Location"] == reverse("support:ticket", args=[ticket.number])
    assert ticket.source == Ticket.Source.CHAT
    body = ticket.messages.get().body
    assert body.startswith("Any news?")
    assert "Grace: Where is my refund?" in body and "Grace: Order CK-123" in body
    assert ticket.number in client.session[TICKETS_SESSION_KEY]
    conversation.refresh_from_db()
    assert conversation.ticket == ticket and conversation.status == Conversation.Status.CLOSED


def test_transcript_is_emailed_once_per_press_and_the_customer_can_end_the_chat(
    client, agent, django_capture_on_commit_callbacks
):
    agent_online(agent)
    conversation = start_chat(client)
    url = reverse("support:chat_transcript", args=[conversation.public_id])
    data = {"email": "grace@example.com", "request_id": "press-1"}
    with django_capture_on_commit_callbacks(execute=True):  # the email leaves after commit
        client.post(url, data)
        client.post(url, data)
    assert len(mail.outbox) == 1
    assert "My card was declined" in mail.outbox[0].body
    assert mail.outbox[0].to == ["grace@example.com"]

    client.post(reverse("support:chat_end", args=[conversation.public_id]))
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.CLOSED
    page = client.get(reverse("support:chat", args=[conversation.public_id])).content.decode()
    assert "The chat has ended." in page
    assert "data-chat-form" not in page


def test_order_status_page_links_to_chat(client, shop):
    attempt = declined_attempt(client)
    page = client.get(reverse("checkout:order_status", args=[attempt.order.number]))
    link = (
        f"{reverse('support:chat_new')}?order={attempt.order.number}"
        f"&amp;attempt={attempt.public_id}&amp;code={attempt.failure_code}"
    )
    assert link in page.content.decode()


# --- the agent console -----------------------------------------------------------------------


def console(client: Client) -> str:
    response = client.get(reverse("admin:support_conversation_console"))
    assert response.status_code == 200
    return response.content.decode()


def test_console_is_for_agents_only(client, bob, mallory):
    client.force_login(bob)  # staff without the permission
    assert client.get(reverse("admin:support_conversation_console")).status_code == 403
    client.force_login(mallory)
    response = client.get(reverse("admin:support_conversation_console"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_agent_accepts_answers_sees_the_timeline_and_turns_the_chat_into_a_ticket(
    client, shop, agent
):
    attempt = declined_attempt(client)
    conversation = start_chat(client, order=attempt.order.number, attempt=str(attempt.public_id))
    desk = Client()
    desk.force_login(agent)
    assert "My card was declined" in console(desk)

    desk.post(reverse("admin:support_conversation_accept", args=[conversation.public_id]))
    conversation.refresh_from_db()
    assert (conversation.status, conversation.agent) == (Conversation.Status.ACTIVE, agent)
    page = console(desk)
    assert attempt.order.number in page
    for event in attempt.events.all():
        assert event.get_kind_display() in page
        if event.message:
            assert event.message in page
    assert "Payment timeline" in page

    reply = reverse("admin:support_conversation_reply", args=[conversation.public_id])
    desk.post(reply, {"message": "Let me check", "client_id": "a1"})
    desk.post(reply, {"message": "Let me check", "client_id": "a1"})
    assert conversation.messages.filter(sender="agent").count() == 1
    customer_page = client.get(reverse("support:chat", args=[conversation.public_id]))
    assert "Let me check" in customer_page.content.decode()

    from support.models import CannedReply

    canned = CannedReply.objects.create(title="Bank", body_en="Please call your bank.")
    assert 'data-body="Please call your bank."' in console(desk)  # JS fills the box from it
    desk.post(reply, {"message": "", "canned": canned.pk, "client_id": "a2"})
    assert conversation.messages.filter(sender="agent").last().body == "Please call your bank."

    desk.post(reverse("admin:support_conversation_ticket", args=[conversation.public_id]))
    ticket = Ticket.objects.get()
    conversation.refresh_from_db()
    assert conversation.ticket == ticket
    assert ticket.attempt == attempt and ticket.source == Ticket.Source.CHAT
    assert "Let me check" in ticket.messages.get().body
    assert ticket.events.get().actor == agent

    desk.post(reverse("admin:support_conversation_end", args=[conversation.public_id]))
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.CLOSED


def test_a_second_agent_is_told_the_chat_is_taken(client, agent):
    conversation = start_chat(client)
    first = Client()
    first.force_login(agent)
    first.post(reverse("admin:support_conversation_accept", args=[conversation.public_id]))
    other = make_agent(UserFactory(email="dana@example.com", full_name="Dana", is_staff=True))
    second = Client()
    second.force_login(other)
    response = second.post(
        reverse("admin:support_conversation_accept", args=[conversation.public_id]), follow=True
    )
    assert "Another agent has already accepted this chat." in response.content.decode()
    conversation.refresh_from_db()
    assert conversation.agent == agent
    # And the second agent cannot answer it either.
    second.post(
        reverse("admin:support_conversation_reply", args=[conversation.public_id]),
        {"message": "Me too"},
    )
    assert not conversation.messages.filter(body="Me too").exists()


def test_conversation_admin_list_and_detail(client, carol, agent):
    conversation = start_chat(client)
    admin = Client()
    admin.force_login(carol)
    listing = admin.get(reverse("admin:support_conversation_changelist"))
    assert listing.status_code == 200
    assert "Grace" in listing.content.decode()
    assert reverse("admin:support_conversation_console") in listing.content.decode()
    detail = admin.get(reverse("admin:support_conversation_change", args=[conversation.pk]))
    assert detail.status_code == 200
    assert "My card was declined" in detail.content.decode()

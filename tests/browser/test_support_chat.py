"""Live chat in two real browsers: a customer whose card is declined opens a chat from the
failure screen; an agent accepts it in the admin console and answers; the customer sees the
answer arrive without reloading, and the agent sees the customer's reply the same way.

pytest-django's live_server speaks WSGI only, so these tests run the project's ASGI application
in daphne (the `asgi_server` fixture in conftest.py).
"""

from __future__ import annotations

import re
import time

import pytest
from django.contrib.auth.models import Permission
from playwright.sync_api import Browser, Page, expect

from support import tasks
from support.models import AgentPresence, Conversation

from .test_accessibility import DECLINED_CARD, assert_no_violations, pay_with_card

pytestmark = pytest.mark.browser


@pytest.fixture
def chat_shop(transactional_db, shop, monkeypatch):
    # Eager Celery would run the accept-window timer at once and turn the chat away.
    monkeypatch.setattr(tasks.expire_conversation, "apply_async", lambda *a, **kw: None)
    return shop


def wait_until_offline() -> None:
    """The server handles a closed console (presence written) before the test's data is
    flushed: SQLite's shared in-memory database locks a table while another thread writes."""
    deadline = time.monotonic() + 10
    while AgentPresence.objects.filter(connections__gt=0).exists():
        assert time.monotonic() < deadline, "the console's socket was never closed"
        time.sleep(0.05)


def agent_desk(browser: Browser, base_url: str, agent) -> Page:
    agent.set_password("agent-pass-1234")
    agent.save()
    agent.user_permissions.add(Permission.objects.get(codename="answer_ticket"))
    desk = browser.new_context(base_url=base_url).new_page()
    desk.goto("/admin/login/")
    desk.get_by_label("Email address").fill(agent.email)
    desk.get_by_label("Password").fill("agent-pass-1234")
    desk.get_by_role("button", name="Log in").click()
    desk.goto("/admin/support/conversation/console/")
    expect(desk.get_by_role("heading", name="Waiting")).to_be_visible()
    return desk


def test_declined_customer_chats_and_sees_the_agents_answer_live(
    chat_shop, asgi_server, page: Page, browser: Browser, bob
):
    # The agent has the console open, so the customer is told someone is online.
    desk = agent_desk(browser, asgi_server, bob)
    waiting = desk.locator("[data-lobby] ul")
    expect(waiting).to_contain_text("Nobody is waiting.")

    pay_with_card(page, asgi_server, DECLINED_CARD)
    failure = page.locator("#payment-failure")
    expect(failure).to_be_focused()
    failure.get_by_role("link", name="Chat with us").click()
    expect(page.get_by_role("heading", level=1, name="Chat with us")).to_be_visible()
    expect(page.get_by_text("An agent is online now")).to_be_visible()
    expect(page.get_by_label("Email address")).to_have_value("dana@example.com")
    assert_no_violations(page, "the new chat page")
    page.get_by_label("How can we help?").fill("My card was declined. Why?")
    page.get_by_role("button", name="Start the chat").click()

    expect(page.get_by_role("heading", level=1, name="Chat with support")).to_be_visible()
    log = page.get_by_role("log")
    expect(log).to_contain_text("My card was declined. Why?")
    expect(page.locator("[data-chat-status]")).to_have_text("Waiting for an agent to join…")
    conversation = Conversation.objects.get()
    assert conversation.attempt is not None and conversation.failure_code
    expect(page.get_by_role("heading", name="Rather not wait? Leave us a message")).to_be_visible()
    assert_no_violations(page, "the customer's chat page")

    # The waiting list updates by itself; the agent accepts and sees the payment's story.
    expect(waiting).to_contain_text("My card was declined. Why?")
    waiting.get_by_role("button", name="Accept").click()
    chat = desk.locator(f"#chat-{conversation.public_id.hex}")
    expect(chat.get_by_role("log")).to_contain_text("My card was declined. Why?")
    expect(desk.get_by_role("table", name="Payment timeline")).to_contain_text("Provider answered")
    assert_no_violations(desk, "the agent console with one chat")

    # Live both ways, no reload.
    expect(log).to_contain_text("joined the chat")
    expect(page.locator("[data-chat-status]")).to_have_text("An agent is with you.")
    expect(page.get_by_role("heading", name="Rather not wait? Leave us a message")).to_be_hidden()
    url = page.url
    chat.get_by_label("Your message").fill("Your bank declined it; another card will work.")
    chat.get_by_role("button", name="Send").click()
    expect(log).to_contain_text("Your bank declined it; another card will work.")
    assert page.url == url

    box = page.get_by_label("Your message")
    box.fill("Thanks, I will try my other card.")
    expect(chat.locator("[data-chat-typing]")).to_have_text("The customer is typing…")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(box).to_have_value("")
    expect(box).to_be_focused()
    expect(chat.get_by_role("log")).to_contain_text("Thanks, I will try my other card.")
    # Each message once, in order.
    bodies = page.locator(".chat-body").all_inner_texts()
    assert len(bodies) == len(set(bodies)) == conversation.messages.count() == 4
    assert [m.seq for m in conversation.messages.order_by("seq")] == [1, 2, 3, 4]
    assert re.search(r"joined the chat", bodies[1])
    desk.context.close()
    page.goto("about:blank")
    wait_until_offline()


def test_without_javascript_the_chat_still_works_by_forms(chat_shop, asgi_server, browser: Browser):
    context = browser.new_context(base_url=asgi_server, java_script_enabled=False)
    page = context.new_page()
    page.goto("/support/chat/new/")
    expect(page.get_by_text("No agent is online right now.")).to_be_visible()
    page.get_by_label("Email address").fill("nojs@example.com")
    page.get_by_label("How can we help?").fill("Is my order paid?")
    page.get_by_role("button", name="Wait for an agent anyway").click()
    expect(page.get_by_role("log")).to_contain_text("Is my order paid?")
    page.get_by_label("Your message").fill("It is order CK-1.")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_role("log")).to_contain_text("It is order CK-1.")
    assert Conversation.objects.get().messages.count() == 2
    page.get_by_label("Anything to add?").fill("Email me please.")
    page.get_by_role("button", name="Send the message").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("T-")
    context.close()

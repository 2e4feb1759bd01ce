"""The chat websockets through the real ASGI stack (origin check, session auth, routing):
who may connect, ordering and replay after a reconnect, resends stored once, rate limits,
typing indicators and agent presence."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth.models import Permission
from django.test import Client

from accounts import ratelimit
from config.asgi import application
from support import tasks
from support.chat import services as chat
from support.models import ChatMessage, Conversation
from support.selectors import CHATS_SESSION_KEY
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def accept_timer(monkeypatch):
    """Eager Celery would run the accept-window timer at once; tests expire chats themselves."""
    monkeypatch.setattr(tasks.expire_conversation, "apply_async", lambda *a, **kw: None)


@pytest.fixture
def agent(bob):
    bob.user_permissions.add(Permission.objects.get(codename="answer_ticket"))
    return bob


def cookie_for(user=None, chats: tuple[Conversation, ...] = ()) -> str:
    """A session as a browser would hold it: signed in as `user`, or a guest who started
    `chats`."""
    client = Client()
    if user is not None:
        client.force_login(user)
    session = client.session
    if chats:
        session[CHATS_SESSION_KEY] = [c.public_id.hex for c in chats]
    session.save()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def socket(path: str, cookie: str = "", origin: str = "http://127.0.0.1") -> WebsocketCommunicator:
    headers = [(b"origin", origin.encode()), (b"host", b"127.0.0.1")]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return WebsocketCommunicator(application, path, headers=headers)


def chat_path(conversation: Conversation, after: int | None = None) -> str:
    query = f"?after={after}" if after is not None else ""
    return f"/ws/support/chat/{conversation.public_id}/{query}"


def start(customer=None, body: str = "Hello?") -> Conversation:
    return chat.conversation_start(
        body=body, customer=customer, name="Grace", email="g@example.com"
    )


async def joined(path: str, cookie: str) -> tuple[WebsocketCommunicator, dict]:
    communicator = socket(path, cookie)
    connected, code = await communicator.connect()
    assert connected, code
    hello = await communicator.receive_json_from(timeout=5)
    assert hello["type"] == "hello"
    return communicator, hello


async def receive_type(communicator: WebsocketCommunicator, kind: str) -> dict:
    """The next event of a kind, skipping others (status, system messages) on the way."""
    while True:
        event = await communicator.receive_json_from(timeout=5)
        if event["type"] == kind:
            return event


# --- who may connect -------------------------------------------------------------------------


def test_owner_guest_session_and_agent_connect_everyone_else_gets_4404(alice, mallory, agent, bob):
    mine = start(alice)
    guests = start()
    staff_only = UserFactory(email="staff@example.com", is_staff=True)
    cases = [
        ("owner", mine, cookie_for(alice)),
        ("guest", guests, cookie_for(chats=(guests,))),
        ("agent", mine, cookie_for(agent)),
        ("mallory", mine, cookie_for(mallory)),
        ("mallory-guest-chat", guests, cookie_for(mallory)),
        ("anonymous", mine, ""),
        ("other-guest", guests, cookie_for(chats=(mine,))),
        ("staff-without-permission", mine, cookie_for(staff_only)),
    ]

    async def scenario() -> dict:
        results = {}
        for name, conversation, cookie in cases:
            communicator = socket(chat_path(conversation), cookie)
            connected, code = await communicator.connect()
            if connected:
                hello = await communicator.receive_json_from(timeout=5)
                results[name] = hello["type"]
                await communicator.disconnect()
            else:
                results[name] = code
        return results

    assert asyncio.run(scenario()) == {
        "owner": "hello",
        "guest": "hello",
        "agent": "hello",
        "mallory": 4404,
        "mallory-guest-chat": 4404,
        "anonymous": 4404,
        "other-guest": 4404,
        "staff-without-permission": 4404,
    }


def test_a_foreign_origin_is_refused_before_anything_else(alice):
    conversation = start(alice)
    cookie = cookie_for(alice)

    async def scenario() -> tuple[bool, bool]:
        evil = socket(chat_path(conversation), cookie, origin="http://evil.example")
        refused, _ = await evil.connect()
        good, _ = await socket(chat_path(conversation), cookie).connect()
        return refused, good

    assert asyncio.run(scenario()) == (False, True)


def test_hello_carries_the_conversation_presence_and_transcript(alice):
    conversation = start(alice, body="First")
    cookie = cookie_for(alice)

    async def scenario() -> dict:
        communicator, hello = await joined(chat_path(conversation), cookie)
        await communicator.disconnect()
        return hello

    hello = asyncio.run(scenario())
    assert hello["conversation"]["id"] == conversation.public_id.hex
    assert hello["conversation"]["status"] == "waiting"
    assert hello["online"] is False
    assert [(m["seq"], m["body"], m["sender"]) for m in hello["messages"]] == [
        (1, "First", "customer")
    ]


# --- ordering, replay, resends ---------------------------------------------------------------


def test_messages_are_numbered_in_order_and_a_reconnect_gets_exactly_what_it_missed(alice):
    conversation = start(alice, body="m1")
    cookie = cookie_for(alice)

    async def scenario() -> tuple[list, list, list]:
        first, _ = await joined(chat_path(conversation), cookie)
        live = []
        for i in range(2, 6):
            await first.send_json_to({"type": "message", "body": f"m{i}", "client_id": f"c{i}"})
            live.append((await receive_type(first, "message"))["message"])
        await first.disconnect()
        # Reconnect having seen up to seq 3.
        again, hello = await joined(chat_path(conversation, after=3), cookie)
        assert await again.receive_nothing(timeout=0.2)
        await again.send_json_to({"type": "resume", "after": 4})
        resumed = await receive_type(again, "messages")
        await again.disconnect()
        return live, hello["messages"], resumed["messages"]

    live, replayed, resumed = asyncio.run(scenario())
    assert [(m["seq"], m["body"]) for m in live] == [(2, "m2"), (3, "m3"), (4, "m4"), (5, "m5")]
    assert [m["seq"] for m in replayed] == [4, 5]
    assert [m["seq"] for m in resumed] == [5]
    stored = list(conversation.messages.order_by("seq").values_list("seq", "body"))
    assert stored == [(1, "m1"), (2, "m2"), (3, "m3"), (4, "m4"), (5, "m5")]


def test_a_message_resent_after_a_dropped_connection_is_stored_once(alice):
    conversation = start(alice)
    cookie = cookie_for(alice)

    async def scenario() -> tuple[dict, dict]:
        first, _ = await joined(chat_path(conversation), cookie)
        await first.send_json_to({"type": "message", "body": "Are you there?", "client_id": "x1"})
        original = await receive_type(first, "message")
        await first.disconnect()
        # The page never saw the echo, so after reconnecting it sends the same message again.
        again, _ = await joined(chat_path(conversation, after=1), cookie)
        await again.send_json_to({"type": "message", "body": "Are you there?", "client_id": "x1"})
        confirmed = await receive_type(again, "message")
        assert await again.receive_nothing(timeout=0.2)
        await again.disconnect()
        return original["message"], confirmed["message"]

    original, confirmed = asyncio.run(scenario())
    assert original["seq"] == confirmed["seq"] == 2
    assert conversation.messages.filter(client_id="x1").count() == 1
    assert conversation.messages.count() == 2


def test_agent_may_only_send_after_accepting_and_errors_are_in_the_chat_language(agent):
    conversation = chat.conversation_start(
        body="你好", name="Li", email="li@example.com", language="zh-hans"
    )
    cookie = cookie_for(agent)

    async def scenario() -> tuple[dict, dict, dict]:
        desk, _ = await joined(chat_path(conversation), cookie)
        await desk.send_json_to({"type": "message", "body": "Hi", "client_id": "a1"})
        refused = await receive_type(desk, "error")
        await database_sync_to_async(chat.conversation_accept)(
            conversation=conversation, agent=agent
        )
        status = await receive_type(desk, "status")
        await desk.send_json_to({"type": "message", "body": "Hi", "client_id": "a1"})
        sent = await receive_type(desk, "message")
        while sent["message"]["sender"] != "agent":
            sent = await receive_type(desk, "message")
        await desk.disconnect()
        return refused, status, sent

    refused, status, sent = asyncio.run(scenario())
    assert refused["code"] == "not_accepted"
    assert status["conversation"]["status"] == "active"
    assert sent["message"]["body"] == "Hi" and sent["message"]["author"] == agent.get_short_name()


# --- rate limit ------------------------------------------------------------------------------


def test_the_message_over_the_limit_is_refused_and_not_stored(alice, settings):
    settings.SUPPORT_CHAT_RATE_MESSAGES = 3
    settings.SUPPORT_CHAT_RATE_SECONDS = 60
    # A shared Redis outlives test runs.
    ratelimit.reset(f"support:chat:message:user:{alice.pk}")
    conversation = start(alice)
    cookie = cookie_for(alice)

    async def scenario() -> dict:
        communicator, _ = await joined(chat_path(conversation), cookie)
        for i in range(3):
            await communicator.send_json_to({"type": "message", "body": f"ok {i}"})
            await receive_type(communicator, "message")
        await communicator.send_json_to({"type": "message", "body": "one too many"})
        refused = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return refused

    refused = asyncio.run(scenario())
    assert refused["type"] == "error" and refused["code"] == "rate_limited"
    assert 1 <= refused["retry_after"] <= 60
    assert "wait" in refused["message"]
    assert not ChatMessage.objects.filter(body="one too many").exists()
    assert conversation.messages.count() == 4


def test_the_limit_is_per_person_across_connections(alice, settings):
    settings.SUPPORT_CHAT_RATE_MESSAGES = 2
    settings.SUPPORT_CHAT_RATE_SECONDS = 60
    # A shared Redis outlives test runs.
    ratelimit.reset(f"support:chat:message:user:{alice.pk}")
    conversation = start(alice)
    cookie = cookie_for(alice)

    async def scenario() -> str:
        tabs = [(await joined(chat_path(conversation), cookie))[0] for _ in range(2)]
        for tab in tabs:
            await tab.send_json_to({"type": "message", "body": "hi"})
            await receive_type(tab, "message")
        await tabs[0].send_json_to({"type": "message", "body": "third"})
        refused = await receive_type(tabs[0], "error")
        for tab in tabs:
            await tab.disconnect()
        return refused["code"]

    assert asyncio.run(scenario()) == "rate_limited"


# --- typing and presence ---------------------------------------------------------------------


def test_typing_reaches_the_other_side_not_the_sender(alice, agent):
    conversation = start(alice)
    chat.conversation_accept(conversation=conversation, agent=agent)
    customer_cookie, agent_cookie = cookie_for(alice), cookie_for(agent)

    async def scenario() -> tuple[dict, bool, dict, bool]:
        customer, _ = await joined(chat_path(conversation), customer_cookie)
        desk, _ = await joined(chat_path(conversation), agent_cookie)
        await customer.send_json_to({"type": "typing"})
        seen_by_agent = await desk.receive_json_from(timeout=5)
        customer_quiet = await customer.receive_nothing(timeout=0.2)
        await desk.send_json_to({"type": "typing"})
        seen_by_customer = await customer.receive_json_from(timeout=5)
        desk_quiet = await desk.receive_nothing(timeout=0.2)
        await customer.disconnect()
        await desk.disconnect()
        return seen_by_agent, customer_quiet, seen_by_customer, desk_quiet

    seen_by_agent, customer_quiet, seen_by_customer, desk_quiet = asyncio.run(scenario())
    assert seen_by_agent == {"type": "typing", "sender": "customer", "name": "Grace"}
    assert seen_by_customer == {"type": "typing", "sender": "agent", "name": agent.get_short_name()}
    assert customer_quiet and desk_quiet


def test_customer_sees_an_agent_come_online_and_leave(alice, agent):
    conversation = start(alice)
    customer_cookie, agent_cookie = cookie_for(alice), cookie_for(agent)

    async def scenario() -> tuple[bool, dict, dict, dict]:
        customer, hello = await joined(chat_path(conversation), customer_cookie)
        console = socket("/ws/support/agents/", agent_cookie)
        connected, _ = await console.connect()
        assert connected
        lobby = await console.receive_json_from(timeout=5)
        online = await customer.receive_json_from(timeout=5)
        await console.send_json_to({"type": "heartbeat"})
        await console.disconnect()
        offline = await customer.receive_json_from(timeout=5)
        await customer.disconnect()
        return hello["online"], online, offline, lobby

    before, online, offline, lobby = asyncio.run(scenario())
    assert before is False
    assert online == {"type": "presence", "online": True}
    assert offline == {"type": "presence", "online": False}
    assert lobby["type"] == "lobby"
    assert [c["id"] for c in lobby["waiting"]] == [str(conversation.public_id)]
    assert lobby["waiting"][0]["preview"] == "Hello?"


def test_the_agent_socket_is_for_agents_and_hears_new_chats(mallory, bob, agent):
    cookies = ("", cookie_for(mallory))
    agent_cookie = cookie_for(agent)

    async def scenario() -> tuple[list, dict]:
        codes = []
        for cookie in cookies:
            connected, code = await socket("/ws/support/agents/", cookie).connect()
            codes.append(code if not connected else "connected")
        console = socket("/ws/support/agents/", agent_cookie)
        await console.connect()
        assert (await console.receive_json_from(timeout=5))["waiting"] == []
        await database_sync_to_async(start)(None, "Help with my order")
        update = await console.receive_json_from(timeout=5)
        await console.disconnect()
        return codes, update

    codes, update = asyncio.run(scenario())
    assert codes == [4403, 4403]
    assert [c["preview"] for c in update["waiting"]] == ["Help with my order"]
    assert chat.agents_online() is False  # the console closed: nobody is online any more


def test_a_socket_does_not_outlive_the_session_that_opened_it(alice):
    from importlib import import_module

    conversation = start(alice)
    cookie = cookie_for(alice)
    store = import_module(settings.SESSION_ENGINE).SessionStore

    async def scenario() -> dict:
        communicator, _ = await joined(chat_path(conversation), cookie)
        # Alice signs out in another tab: her session is gone.
        await database_sync_to_async(store(cookie.split("=", 1)[1]).delete)()
        await communicator.send_json_to({"type": "message", "body": "still me?"})
        return await communicator.receive_output(timeout=5)

    closed = asyncio.run(scenario())
    assert closed == {"type": "websocket.close", "code": 4401}
    assert not ChatMessage.objects.filter(body="still me?").exists()

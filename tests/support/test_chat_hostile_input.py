"""A NUL byte sent over the chat socket is dropped, not a crash that closes the socket (on
PostgreSQL, which refuses NUL in text, storing it raised)."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async

from support.models import ChatMessage

from .test_chat_ws import chat_path, cookie_for, joined, receive_type, start

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_nul_in_a_chat_message_is_dropped_and_the_socket_stays_open(mallory):
    conversation = start(customer=mallory)
    cookie = cookie_for(mallory)
    asyncio.run(scenario(conversation, cookie))


async def scenario(conversation, cookie):
    communicator, _hello = await joined(chat_path(conversation), cookie)
    await communicator.send_json_to(
        {"type": "message", "body": "card\x00 declined", "client_id": "c\x001"}
    )
    event = await receive_type(communicator, "message")
    assert event["message"]["body"] == "card declined"
    stored = await database_sync_to_async(
        lambda: list(ChatMessage.objects.filter(client_id="c1").values_list("body", flat=True))
    )()
    assert stored == ["card declined"]
    # The socket is still open and working: a second message goes through.
    await communicator.send_json_to({"type": "message", "body": "still here", "client_id": "c2"})
    assert (await receive_type(communicator, "message"))["message"]["body"] == "still here"
    await communicator.disconnect()

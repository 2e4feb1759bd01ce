"""Chat across web processes: the customer's socket is on one daphne process, the agent's on
another, and channels-redis carries every message between them. What the in-memory layer of
the other tests cannot prove."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth.models import Permission
from django.db import connections
from django.test import Client

from support import tasks
from support.chat import services as chat
from tests.conftest import ON_POSTGRES, ON_REDIS, test_database_url

ROOT = Path(__file__).resolve().parent.parent.parent

pytestmark = [
    pytest.mark.worker,
    pytest.mark.skipif(
        not (ON_POSTGRES and ON_REDIS),
        reason="needs two daphne processes on shared services: set DATABASE_URL=postgres://... "
        "and REDIS_URL=redis://...",
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def web_processes(tmp_path, transactional_db):
    """Two daphne processes on the test database and the same Redis."""
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "OUTBOX_DIR": str(tmp_path / "outbox"),
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    started = []
    for name in ("a", "b"):
        port = _free_port()
        log = (tmp_path / f"daphne-{name}.log").open("w")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(port),
                "config.asgi:application",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append((process, port, tmp_path / f"daphne-{name}.log"))
    try:
        for process, port, log_path in started:
            deadline = time.monotonic() + 30
            while True:
                assert process.poll() is None, log_path.read_text()[-3000:]
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline, "daphne did not start within 30 s"
                    time.sleep(0.2)
        yield [port for _, port, _ in started]
    finally:
        for process, _, log_path in started:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            print(f"--- {log_path.name}\n{log_path.read_text()[-2000:]}")


class RawWebSocket:
    """Just enough of RFC 6455 for JSON text frames: the `websockets` package is not installed,
    and a real client on a real port is the point of this test."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int, path: str, cookie: str) -> RawWebSocket:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                f"Sec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1:{port}\r\n"
                f"Cookie: {cookie}\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 101"), head
        return cls(reader, writer)

    async def send_json(self, data: Any) -> None:
        payload = json.dumps(data).encode()
        header = bytearray([0x81])  # FIN + text
        if len(payload) < 126:
            header.append(0x80 | len(payload))
        else:
            header.append(0x80 | 126)
            header += len(payload).to_bytes(2, "big")
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.writer.write(bytes(header) + mask + masked)
        await self.writer.drain()

    async def receive_json(self, timeout: float = 10) -> Any:
        while True:
            first, second = await asyncio.wait_for(self.reader.readexactly(2), timeout)
            length = second & 0x7F
            if length == 126:
                length = int.from_bytes(await self.reader.readexactly(2), "big")
            elif length == 127:
                length = int.from_bytes(await self.reader.readexactly(8), "big")
            data = await self.reader.readexactly(length)
            opcode = first & 0x0F
            if opcode == 0x1:
                return json.loads(data)
            if opcode == 0x8:
                raise ConnectionError(f"closed by the server: {data[:2].hex()}")

    async def receive_type(self, kind: str, **match: Any) -> dict:
        while True:
            event = await self.receive_json()
            if event["type"] == kind and all(
                event.get("message", {}).get(k) == v for k, v in match.items()
            ):
                return event

    async def close(self) -> None:
        self.writer.write(bytes([0x88, 0x82]) + b"\0\0\0\0" + (1000).to_bytes(2, "big"))
        await self.writer.drain()
        self.writer.close()


def _cookie(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def test_customer_and_agent_on_different_processes_hear_each_other(
    web_processes, alice, bob, monkeypatch
):
    monkeypatch.setattr(tasks.expire_conversation, "apply_async", lambda *a, **kw: None)
    bob.user_permissions.add(Permission.objects.get(codename="answer_ticket"))
    conversation = chat.conversation_start(
        body="My card was declined", customer=alice, email="alice@example.com"
    )
    path = f"/ws/support/chat/{conversation.public_id}/"
    customer_cookie, agent_cookie = _cookie(alice), _cookie(bob)
    port_a, port_b = web_processes

    async def scenario() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        customer = await RawWebSocket.open(port_a, path, customer_cookie)
        seen["customer_hello"] = await customer.receive_json()
        # The agent's console on process B makes them present for the customer on A.
        console = await RawWebSocket.open(port_b, "/ws/support/agents/", agent_cookie)
        seen["lobby"] = await console.receive_json()
        seen["presence"] = await customer.receive_type("presence")
        desk = await RawWebSocket.open(port_b, path, agent_cookie)
        seen["agent_hello"] = await desk.receive_json()

        await database_sync_to_async(chat.conversation_accept)(conversation=conversation, agent=bob)
        seen["customer_status"] = await customer.receive_type("status")
        await desk.send_json({"type": "message", "body": "Hello from B", "client_id": "b1"})
        seen["customer_got"] = await customer.receive_type("message", body="Hello from B")
        await customer.send_json({"type": "message", "body": "Hi from A", "client_id": "a1"})
        seen["agent_got"] = await desk.receive_type("message", body="Hi from A")
        await customer.send_json({"type": "typing"})
        seen["agent_typing"] = await desk.receive_type("typing")
        for ws in (customer, desk, console):
            await ws.close()
        return seen

    try:
        seen = asyncio.run(scenario())
    finally:
        connections.close_all()
    assert seen["customer_hello"]["type"] == "hello"
    assert seen["customer_hello"]["online"] is False
    assert [c["id"] for c in seen["lobby"]["waiting"]] == [str(conversation.public_id)]
    assert seen["presence"] == {"type": "presence", "online": True}
    assert seen["agent_hello"]["messages"][0]["body"] == "My card was declined"
    assert seen["customer_status"]["conversation"]["status"] == "active"
    assert seen["customer_got"]["message"]["sender"] == "agent"
    assert seen["agent_got"]["message"]["sender"] == "customer"
    assert seen["agent_got"]["message"]["seq"] == seen["customer_got"]["message"]["seq"] + 1
    assert seen["agent_typing"]["sender"] == "customer"
    stored = list(conversation.messages.order_by("seq").values_list("sender", "body"))
    assert stored == [
        ("customer", "My card was declined"),
        ("system", f"{bob.get_short_name()} joined the chat."),
        ("agent", "Hello from B"),
        ("customer", "Hi from A"),
    ]

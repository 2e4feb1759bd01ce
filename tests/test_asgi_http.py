"""config.asgi's HTTP path (Django's WSGI handler in a2wsgi's threads), called as an ASGI server
calls it, in this process: a POST body arrives whatever awaitable the server's `receive`
returns (granian's is not a coroutine, and every POST body failed before it was wrapped)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def _call(body: bytes, receive_kind: str, *, cut_after: int | None = None) -> tuple[int, bytes]:
    from config.asgi import application

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/orders/",
        "raw_path": b"/api/v1/orders/",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    sent: list[dict[str, Any]] = []

    async def run() -> None:
        loop = asyncio.get_running_loop()
        messages: list[dict[str, Any]] = [
            {"type": "http.request", "body": body, "more_body": False}
        ]
        if cut_after is not None:
            # The first bytes arrive, then the client is gone.
            messages = [
                {"type": "http.request", "body": body[:cut_after], "more_body": True},
                {"type": "http.disconnect"},
            ]

        def receive_future() -> asyncio.Future[dict[str, Any]]:
            # An awaitable that is not a coroutine, as granian's receive returns.
            future = loop.create_future()
            future.set_result(messages.pop(0) if messages else {"type": "http.disconnect"})
            return future

        async def receive_coroutine() -> dict[str, Any]:
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        receive = receive_future if receive_kind == "future" else receive_coroutine
        await application(scope, receive, send)

    asyncio.run(run())
    start = next(m for m in sent if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], content


@pytest.mark.parametrize("receive_kind", ["coroutine", "future"])
def test_a_posted_order_arrives_whatever_receive_returns(shop, settings, receive_kind):
    settings.ALLOWED_HOSTS = ["testserver"]
    body = json.dumps({"email": "a@example.com", "items": [{"sku": "mug", "quantity": 2}]})
    status, content = _call(body.encode(), receive_kind)
    assert status == 201, content
    assert json.loads(content)["total"] == {"amount": 2400, "currency": "USD"}


def test_a_body_cut_short_by_a_disconnect_is_not_taken_for_the_whole(shop, settings):
    """The client announced more (Content-Length counts the trailing spaces) but left after a
    part that happens to be a complete order: nothing may be created from what came."""
    from checkout.models import Order

    settings.ALLOWED_HOSTS = ["testserver"]
    order = json.dumps({"email": "a@example.com", "items": [{"sku": "mug", "quantity": 2}]})
    before = Order.objects.count()
    status, _content = _call((order + " " * 64).encode(), "coroutine", cut_after=len(order))
    # A bad request (answered to nobody), not a server error that would page the admins.
    assert status == 400
    assert Order.objects.count() == before

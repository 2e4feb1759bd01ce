"""The order status page's websocket: only the order's owner may listen, and a payment that
settles later is pushed to them."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings

from checkout.models import Order
from config.asgi import application
from payments import services
from payments.models import PaymentMethod

from .helpers import checkout_form, fill_cart, pay

pytestmark = pytest.mark.django_db(transaction=True)


def communicator(number: str, cookie: str = "") -> WebsocketCommunicator:
    headers = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return WebsocketCommunicator(application, f"/ws/orders/{number}/", headers=headers)


def session_cookie(client) -> str:
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def test_owner_hears_the_current_status_and_a_stranger_is_turned_away(client, shop):
    fill_cart(client, "mug")
    pay(client, checkout_form(client))
    order = Order.objects.get()

    async def scenario() -> tuple[dict, bool]:
        owner = communicator(order.number, session_cookie(client))
        connected, _ = await owner.connect()
        assert connected
        first = await owner.receive_json_from(timeout=5)
        await owner.disconnect()
        stranger = communicator(order.number)
        stranger_connected, _ = await stranger.connect()
        return first, stranger_connected

    first, stranger_connected = asyncio.run(scenario())
    assert first == {"order": order.number, "status": "paid", "attempt": "succeeded"}
    assert stranger_connected is False


def test_a_payment_that_settles_later_is_pushed_to_the_page(client, shop):
    fill_cart(client, "mug")
    pay(client, checkout_form(client), payment_method="pm_card_visa_chargeDeclined")
    order = Order.objects.get()
    assert order.status == "pending"

    def pay_now() -> None:
        services.attempt_pay(
            order=order,
            method=PaymentMethod.objects.get(code="card"),
            idempotency_key="later",
            payment_method="pm_card_visa",
        )

    async def scenario() -> list[dict]:
        listener = communicator(order.number, session_cookie(client))
        connected, _ = await listener.connect()
        assert connected
        seen = [await listener.receive_json_from(timeout=5)]
        await database_sync_to_async(pay_now)()
        while seen[-1]["status"] != "paid":
            seen.append(await listener.receive_json_from(timeout=5))
        await listener.disconnect()
        return seen

    seen = asyncio.run(scenario())
    assert seen[0] == {"order": order.number, "status": "pending", "attempt": "failed"}
    # The attempt's moves (order status not resent), then the order's.
    assert [(m["status"], m["attempt"]) for m in seen[1:]] == [
        ("", "sent"),
        ("", "succeeded"),
        ("paid", ""),
    ]
    assert seen[-1]["status"] == "paid"


def test_a_pending_payment_that_fails_is_pushed_too(client, shop):
    """The order stays unpaid, so only the attempt's move tells the page to update."""
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    fill_cart(client, "mug")
    pay(client, checkout_form(client), payment_method="pm_sim_outage")
    order = Order.objects.get()

    async def scenario() -> list[dict]:
        listener = communicator(order.number, session_cookie(client))
        await listener.connect()
        seen = [await listener.receive_json_from(timeout=5)]
        with time_machine.travel(timezone.now() + timedelta(minutes=31), tick=False):
            await database_sync_to_async(services.reconcile_attempts)()
        seen.append(await listener.receive_json_from(timeout=5))
        await listener.disconnect()
        return seen

    first, settled = asyncio.run(scenario())
    assert (first["status"], first["attempt"]) == ("pending", "unknown")
    assert settled["attempt"] == "failed"

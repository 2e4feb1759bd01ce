"""Every status change reaches an open order page over its websocket, not only the first."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from django.db import transaction

from checkout.models import Order
from payments import services
from payments.gateways import ChargeResult, Outcome
from payments.models import PaymentAttempt

from .helpers import checkout_form, fill_cart, pay
from .test_live_status import communicator, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


def provider_says(outcome: Outcome) -> None:
    attempt = PaymentAttempt.objects.get()
    with transaction.atomic():
        services.attempt_apply_result(
            attempt=attempt,
            result=ChargeResult(
                outcome,
                attempt.provider_reference,
                amount=attempt.amount,
                currency=attempt.currency,
            ),
            actor="provider:simulator",
        )


def test_two_changes_in_a_row_are_both_pushed(client, shop):
    fill_cart(client, "mug")
    pay(client, checkout_form(client), method="wechat_pay", payment_method="")
    order = Order.objects.get()

    async def scenario() -> list[dict]:
        listener = communicator(order.number, session_cookie(client))
        connected, _ = await listener.connect()
        assert connected
        seen = [await listener.receive_json_from(timeout=5)]
        await database_sync_to_async(provider_says)(Outcome.PROCESSING)
        seen.append(await listener.receive_json_from(timeout=5))
        await database_sync_to_async(provider_says)(Outcome.SUCCEEDED)
        seen.append(await listener.receive_json_from(timeout=5))
        seen.append(await listener.receive_json_from(timeout=5))
        assert await listener.receive_nothing(timeout=0.5)
        await listener.disconnect()
        return seen

    seen = asyncio.run(scenario())
    n = order.number
    assert seen == [
        {"order": n, "status": "pending", "attempt": "requires_action"},
        {"order": n, "status": "", "attempt": "processing"},
        {"order": n, "status": "", "attempt": "succeeded"},
        {"order": n, "status": "paid", "attempt": ""},
    ]


def test_changes_made_where_no_broadcast_reaches_still_arrive(client, shop, monkeypatch):
    """A Celery worker settling the payment in its own process, with the in-memory layer (the
    embedded default), or a push the layer dropped: the open page is still told, twice."""
    from checkout import consumers

    monkeypatch.setattr(consumers, "WATCH_SECONDS", 0.1)
    monkeypatch.setattr("checkout.status.order_broadcast", lambda *a, **kw: None)
    # Payments broadcast through the order book (checkout.payable).
    monkeypatch.setattr("checkout.payable.order_broadcast", lambda *a, **kw: None)
    fill_cart(client, "mug")
    pay(client, checkout_form(client), method="wechat_pay", payment_method="")
    order = Order.objects.get()

    async def scenario() -> list[dict]:
        listener = communicator(order.number, session_cookie(client))
        await listener.connect()
        seen = [await listener.receive_json_from(timeout=5)]
        await database_sync_to_async(provider_says)(Outcome.PROCESSING)
        seen.append(await listener.receive_json_from(timeout=5))
        await database_sync_to_async(provider_says)(Outcome.SUCCEEDED)
        seen.append(await listener.receive_json_from(timeout=5))
        assert await listener.receive_nothing(timeout=0.5)  # told once per change
        await listener.disconnect()
        return seen

    n = order.number
    assert asyncio.run(scenario()) == [
        {"order": n, "status": "pending", "attempt": "requires_action"},
        {"order": n, "status": "pending", "attempt": "processing"},
        {"order": n, "status": "paid", "attempt": "succeeded"},
    ]

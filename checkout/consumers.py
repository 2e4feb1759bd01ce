"""Live order status. The consumer checks who may listen, joins the order's group, and keeps the
page told of every change; the services broadcast when the status changes."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from payments.models import PaymentAttempt

from .models import Order
from .selectors import order_visible_to

# How often an open page's order is read again. A broadcast reaches the page at once only when
# it is sent where this consumer listens: with the in-memory layer (the embedded default) a
# Celery worker's or another process's broadcast never does, and a lost push (a layer that did
# not answer in time, config.broadcast) is never resent. So every change also reaches the page
# within this many seconds, over the same socket.
WATCH_SECONDS = 2.0


def order_group(number: str) -> str:
    return f"order.{number}"


class OrderStatusConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        number = self.scope["url_route"]["kwargs"]["number"]
        order = await self._visible_order(number)
        if order is None:
            await self.close(code=4404)
            return
        self.number = number
        self.group = order_group(number)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        self.told = await self._state()
        await self._send_state(self.told)
        self.watcher = asyncio.create_task(self._watch())

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "watcher"):
            self.watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.watcher
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def order_status(self, event: dict[str, Any]) -> None:
        status, attempt = self.told
        self.told = (event["status"] or status, event["attempt"] or attempt)
        await self.send_json(
            {"order": event["order"], "status": event["status"], "attempt": event["attempt"]}
        )

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(WATCH_SECONDS)
            state = await self._state()
            if state != self.told:
                self.told = state
                await self._send_state(state)

    async def _send_state(self, state: tuple[str, str]) -> None:
        await self.send_json({"order": self.number, "status": state[0], "attempt": state[1]})

    @database_sync_to_async
    def _state(self) -> tuple[str, str]:
        """(order status, latest attempt status) as they are now."""
        status = Order.objects.filter(number=self.number).values_list("status", flat=True).first()
        latest = PaymentAttempt.objects.filter(order__number=self.number).order_by("-created_at")
        return status or "", latest.values_list("status", flat=True).first() or ""

    @database_sync_to_async
    def _visible_order(self, number: str) -> Order | None:
        order = Order.objects.filter(number=number).first()
        if order is None:
            return None
        # The status page is often opened from an emailed link, in a browser with no session:
        # the page passes the link's key on as ?key=, as it does to status.json.
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        visible = order_visible_to(
            order=order,
            user=self.scope.get("user"),
            session=self.scope.get("session"),
            key=query.get("key", [""])[0],
        )
        return order if visible else None

"""Live order status. The consumer only checks who may listen and joins the order's group; the
services broadcast when the status changes."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from .models import Order
from .selectors import order_visible_to


def order_group(number: str) -> str:
    return f"order.{number}"


class OrderStatusConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        number = self.scope["url_route"]["kwargs"]["number"]
        order = await self._visible_order(number)
        if order is None:
            await self.close(code=4404)
            return
        self.group = order_group(number)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        attempt = await self._latest_attempt_status(order)
        await self.send_json({"order": number, "status": order.status, "attempt": attempt})

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def order_status(self, event: dict[str, Any]) -> None:
        await self.send_json(
            {"order": event["order"], "status": event["status"], "attempt": event["attempt"]}
        )

    @database_sync_to_async
    def _latest_attempt_status(self, order: Order) -> str:
        return order.attempts.values_list("status", flat=True).first() or ""

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

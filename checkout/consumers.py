"""Live order status. The consumer only checks who may listen and joins the order's group; the
services broadcast when the status changes."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from .models import Order
from .services import ORDERS_SESSION_KEY


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
        user = self.scope.get("user")
        if (
            user is not None
            and user.is_authenticated
            and (order.user_id == user.pk or user.is_staff)
        ):
            return order
        session = self.scope.get("session")
        if session is not None and number in session.get(ORDERS_SESSION_KEY, []):
            return order
        return None

"""Checkout's side of payments' payable-order interface (payments/orders.py), registered in
CheckoutConfig.ready. Payments sits below checkout and never imports it: whatever paying an
order needs from the order comes through here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rest_framework.request import Request

from payments.orders import OrderState, PayableOrder

from .api import order_for_request, order_visible
from .models import CheckoutVisit, Order, OrderStatus
from .status import order_broadcast, order_transition


def _order(order: PayableOrder) -> Order:
    # Payments only ever hands back the orders this book gave it.
    assert isinstance(order, Order)
    return order


class CheckoutOrderBook:
    def lock(self, pk: Any) -> Order:
        return Order.objects.select_for_update().get(pk=pk)

    def number(self, pk: Any) -> str:
        return str(Order.objects.values_list("number", flat=True).get(pk=pk))

    def move(self, order: PayableOrder, to: OrderState) -> None:
        order_transition(order=_order(order), to=OrderStatus(to.value))

    def broadcast(self, number: str, *, attempt: str) -> None:
        order_broadcast(number, attempt=attempt)

    def for_request(self, request: Request, number: str) -> Order:
        return order_for_request(request, number)

    def visible(self, request: Request, order: PayableOrder) -> bool:
        return order_visible(request, _order(order))

    def funnel(self, *, since: datetime, until: datetime) -> dict[str, int]:
        period = {"created_at__gte": since, "created_at__lt": until}
        return {
            "viewed": CheckoutVisit.objects.filter(**period).count(),
            "attempted": Order.objects.filter(**period, attempts__isnull=False).distinct().count(),
            "paid": Order.objects.filter(**period, paid_at__isnull=False).count(),
        }

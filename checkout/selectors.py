from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.sessions.backends.base import SessionBase
from django.utils.crypto import constant_time_compare

from .models import Order, Product

CART_SESSION_KEY = "cart"
# The numbers of the orders this browser session placed (a guest has nothing else).
ORDERS_SESSION_KEY = "orders"


@dataclass(frozen=True)
class CartLine:
    product: Product
    quantity: int

    @property
    def line_total(self) -> int:
        return self.product.price * self.quantity


@dataclass(frozen=True)
class Cart:
    lines: list[CartLine]
    currency: str

    @property
    def total(self) -> int:
        return sum(line.line_total for line in self.lines)

    @property
    def count(self) -> int:
        return sum(line.quantity for line in self.lines)

    def __bool__(self) -> bool:
        return bool(self.lines)


def cart_get(session: SessionBase) -> Cart:
    """The session's cart, with products that went off sale dropped. One query."""
    raw: dict[str, int] = session.get(CART_SESSION_KEY, {})
    products = Product.objects.filter(sku__in=raw.keys(), active=True).order_by("name_en")
    lines = [CartLine(p, raw[p.sku]) for p in products if raw.get(p.sku, 0) > 0]
    currency = lines[0].product.currency if lines else ""
    return Cart(lines=lines, currency=currency)


def order_visible_to(
    *, order: Order, user: Any, session: SessionBase | None, key: str = ""
) -> bool:
    """Who may see an order, for every surface (pages, status.json, the API, the live-status
    websocket, support's attached payment): its owner, staff, the browser session that placed
    it, or whoever holds its client secret (the emailed link's `?key=`, the API's
    X-Client-Secret). Anyone else must get the same answer as for an order that does not exist.
    """
    if user is not None and user.is_authenticated and (order.user_id == user.pk or user.is_staff):
        return True
    if session is not None and order.number in session.get(ORDERS_SESSION_KEY, []):
        return True
    # Constant time: the secret must not leak a character at a time through response timing.
    return bool(key) and constant_time_compare(key, order.client_secret)

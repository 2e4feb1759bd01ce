from __future__ import annotations

from dataclasses import dataclass

from django.contrib.sessions.backends.base import SessionBase

from .models import Product

CART_SESSION_KEY = "cart"


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

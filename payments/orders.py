"""The payable order: what payments needs from the app that sells things, as a narrow interface.

Payments sits below checkout (docs/architecture.md): checkout's pages and services call
payments, never the reverse. Yet paying an order must lock its row, read its total and mark it
paid in the same transaction as the attempt. So payments says here what it needs (`OrderBook`)
and checkout, the higher app, hands over its implementation in its AppConfig.ready. The one
link left upward is the attempt's foreign key to "checkout.Order", by name: the database
needs it, the code does not import it.

The registry is start-up wiring, the same in every process; it holds no state that changes.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from rest_framework.request import Request

    from accounts.models import User


class OrderState(StrEnum):
    """The order statuses payments reads and moves an order to. The selling app's statuses
    carry these values (tests/test_architecture.py checks checkout's)."""

    PENDING = "pending"
    PAID = "paid"
    CANCELED = "canceled"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


class PayableOrder(Protocol):
    """What payments reads from an order."""

    @property
    def pk(self) -> Any: ...
    @property
    def number(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def total(self) -> int: ...
    @property
    def currency(self) -> str: ...
    @property
    def user_id(self) -> int | None: ...
    @property
    def user(self) -> User | None: ...
    @property
    def is_wallet_top_up(self) -> bool: ...


class OrderBook(Protocol):
    """What payments asks of the selling app. Each call runs in the caller's transaction."""

    def lock(self, pk: Any) -> PayableOrder:
        """The order, its row locked until the caller's transaction ends."""
        ...

    def number(self, pk: Any) -> str:
        """The order's number alone (no stale order object handed around)."""
        ...

    def move(self, order: PayableOrder, to: OrderState) -> None:
        """Move a locked order to `to`, with its own event and side effects."""
        ...

    def broadcast(self, number: str, *, attempt: str) -> None:
        """Tell open status pages that the order's payment moved (best effort)."""
        ...

    def for_request(self, request: Request, number: str) -> PayableOrder:
        """The order if this API caller may see it; else the API's 404."""
        ...

    def visible(self, request: Request, order: PayableOrder) -> bool:
        """Whether this API caller may see the order."""
        ...

    def funnel(self, *, since: datetime, until: datetime) -> dict[str, int]:
        """Checkouts opened ("viewed"), orders with an attempt ("attempted") and paid orders
        ("paid"), for orders created in [since, until)."""
        ...


_book: OrderBook | None = None


def order_book_register(book: OrderBook) -> None:
    """Called once by the selling app's AppConfig.ready."""
    global _book
    _book = book


def order_book() -> OrderBook:
    if _book is None:
        raise ImproperlyConfigured(
            "No app registered the payable orders (checkout does, in its AppConfig.ready)."
        )
    return _book

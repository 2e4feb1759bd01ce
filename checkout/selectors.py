from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.sessions.backends.base import SessionBase
from django.db.models import Q, prefetch_related_objects
from django.utils.crypto import constant_time_compare

from payments.models import PaymentAttempt
from payments.selectors import confirmation_deadline
from payments.stamps import StampedMemo

from .models import Order, OrderStatus, Product

CART_SESSION_KEY = "cart"
# The checkout page's token in the session: one order per token, so a double press, a refresh
# or a second tab finds the same order.
CHECKOUT_TOKEN_KEY = "checkout_token"
# The number of the order the cart was last priced into (each Pay press sets it).
CART_ORDER_KEY = "cart_order"
# An order in one of these was paid: the cart that made it has been bought.
BOUGHT = (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED)
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
    # This checkout's order that is not paid yet (a Pay press priced it), read with the cart:
    # the checkout page fills its form from it.
    unpaid_order: Order | None = None

    @property
    def total(self) -> int:
        return sum(line.line_total for line in self.lines)

    @property
    def count(self) -> int:
        return sum(line.quantity for line in self.lines)

    def __bool__(self) -> bool:
        return bool(self.lines)


def cart_items(session: SessionBase) -> dict[str, int]:
    """The session's cart as {sku: quantity}, minus what was already bought with it.

    A cart whose order is paid is consumed wherever it is read, whoever paid it: two tabs
    pressing Pay at once both load the session before either saves it, and the losing request
    may save it (cart included) after the winner emptied it; a payment that was confirming may
    settle in a webhook or the reconciliation sweep, where no session is at hand. So the lines
    of this session's paid checkout order (or of the order the cart was last priced into) are
    taken out of the cart here, and only those: what was added since (while the payment was
    confirming, or after) stays as the start of the next order. No query without a checkout.
    """
    return _cart_read(session)[0]


def _cart_read(session: SessionBase) -> tuple[dict[str, int], Order | None]:
    """cart_items, and this checkout's unpaid order, from one read of the checkout's orders."""
    raw: dict[str, int] = dict(session.get(CART_SESSION_KEY, {}))
    token, number = session.get(CHECKOUT_TOKEN_KEY), session.get(CART_ORDER_KEY)
    if not raw or not (token or number):
        return raw, None
    orders = _checkout_orders(token=token, number=number)
    unpaid = next(
        (o for o in orders if o.status == OrderStatus.PENDING and o.checkout_token == token), None
    )
    bought = [order for order in orders if order.status in BOUGHT]
    if not bought:
        return raw, unpaid
    prefetch_related_objects(bought, "lines")
    for order in bought:
        for line in order.lines.all():
            left = raw.get(line.sku, 0) - line.quantity
            if left > 0:
                raw[line.sku] = left
            else:
                raw.pop(line.sku, None)
    session[CART_SESSION_KEY] = raw
    session.pop(CART_ORDER_KEY, None)
    if any(order.checkout_token == token for order in bought):
        # That checkout is over: the next Pay starts a new order with a new token.
        session.pop(CHECKOUT_TOKEN_KEY, None)
        unpaid = None
    return raw, unpaid


# Written out: through the ORM, compiling this statement cost more than everything else the
# cart read does (bench/profile_pages.py; about 0.5 ms of every page with a checkout under way).
_CHECKOUT_ORDER_STATUSES = (*BOUGHT, OrderStatus.PENDING)
_CHECKOUT_ORDERS_SQL = (
    f"SELECT * FROM {Order._meta.db_table} "  # noqa: S608 - the model's own table
    "WHERE (checkout_token = %s OR number = %s) "
    f"AND status IN ({', '.join(['%s'] * len(_CHECKOUT_ORDER_STATUSES))})"
)


def _checkout_orders(*, token: str | None, number: str | None) -> list[Order]:
    """The checkout's orders (by its token) and the one the cart was last priced into (by its
    number) that are paid or still waiting to be. A missing token or number is NULL in the
    statement, which matches nothing (never the empty token of an order made over the API)."""
    params = [token or None, number or None, *map(str, _CHECKOUT_ORDER_STATUSES)]
    return list(Order.objects.raw(_CHECKOUT_ORDERS_SQL, params))


# Products by SKU (None: no such product) this process read while the catalog's stamp stayed
# (payments/stamps.py: any write to a product moves it): a cart read asks the database only for
# the ones not read before. Shared by every request: read them, never change them.
_PRODUCTS: StampedMemo[dict[str, Product | None]] = StampedMemo("catalog", dict)
PRODUCTS_KEPT_MAX = 2000


def products_by_sku(skus: Iterable[str]) -> dict[str, Product]:
    """The products with these SKUs, on sale or not (an unknown SKU is left out)."""
    kept = _PRODUCTS.get()
    wanted = set(skus)
    # Nothing is ever taken out of a kept dict (a new one comes with a new stamp), so what is
    # in it stays in it while another thread of the demo's server adds to it.
    found = {sku: kept[sku] for sku in wanted if sku in kept}
    missing = wanted - found.keys()
    if missing:
        read = {p.sku: p for p in Product.objects.filter(sku__in=missing)}
        fresh = {sku: read.get(sku) for sku in missing}
        found |= fresh
        if len(kept) < PRODUCTS_KEPT_MAX:  # bounded: past it, the rest is read every time
            kept.update(fresh)
    return {sku: p for sku, p in found.items() if p is not None}


def cart_get(session: SessionBase) -> Cart:
    """The session's cart (cart_items), with products that went off sale dropped."""
    raw, unpaid = _cart_read(session)
    on_sale = [p for p in products_by_sku(raw).values() if p.active]
    # By English name, as the product list orders them (ties and letter case may fall
    # differently from PostgreSQL's collation there).
    products = sorted(on_sale, key=lambda p: (p.name_en.casefold(), p.name_en, p.pk))
    lines = [CartLine(p, raw[p.sku]) for p in products if raw.get(p.sku, 0) > 0]
    currency = lines[0].product.currency if lines else ""
    return Cart(lines=lines, currency=currency, unpaid_order=unpaid)


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


# Left unsettled by the provider (a timeout, a slow bank): may still take money, so nothing
# else may be paid for this checkout until it settles. (created and sent last only while the
# Pay request itself is running; requires_action is the customer's to finish or cancel.)
CONFIRMING = (PaymentAttempt.Status.PROCESSING, PaymentAttempt.Status.UNKNOWN)


@dataclass(frozen=True)
class Confirming:
    """This checkout's payment that is still being confirmed, as the checkout page tells it."""

    attempt: PaymentAttempt
    # When it is settled at the latest (then it is given up as failed if still unknown).
    settle_by: datetime
    # The cart now holds more (or other) than that order: those items become a new order.
    added: bool


def confirming_payment(session: SessionBase, cart: Cart) -> Confirming | None:
    """This checkout's order whose payment is still being confirmed, or None. No query for a
    browser that never pressed Pay."""
    token, number = session.get(CHECKOUT_TOKEN_KEY), session.get(CART_ORDER_KEY)
    if not (token or number) or not session.get(ORDERS_SESSION_KEY):
        return None
    match = Q(pk__in=[])
    if token:
        match |= Q(order__checkout_token=token)
    if number:
        match |= Q(order__number=number)
    attempt = (
        PaymentAttempt.objects.select_related("order", "method")
        .filter(match, order__status=OrderStatus.PENDING, status__in=CONFIRMING)
        .first()
    )
    if attempt is None:
        return None
    ordered = dict(attempt.order.lines.values_list("sku", "quantity"))
    in_cart = {line.product.sku: line.quantity for line in cart.lines}
    return Confirming(
        attempt=attempt, settle_by=confirmation_deadline(attempt), added=in_cart != ordered
    )


def refunds_of_user(user: Any) -> Any:
    """Every refund of money a signed-in customer paid us: refunds of their orders, and the
    parts of their wallet withdrawals (Refund rows too), newest first."""
    from payments.models import Refund

    return (
        Refund.objects.filter(attempt__order__user=user)
        .select_related("attempt__order", "attempt__method")
        # A withdrawal's parts share one timestamp: the later row first, the same every time.
        .order_by("-created_at", "-pk")
    )


def refund_visible_to(
    *, refund: Any, user: Any, session: SessionBase | None, key: str = ""
) -> bool:
    """A refund is seen by whoever may see the order it gives money back for."""
    return order_visible_to(order=refund.attempt.order, user=user, session=session, key=key)

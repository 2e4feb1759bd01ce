"""Every write in the checkout: the cart, orders, and paying them through the payments engine."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.sessions.backends.base import SessionBase
from django.db import IntegrityError, transaction

from payments import services as payment_services
from payments.models import IN_FLIGHT, PaymentAttempt, PaymentMethod

from .models import CheckoutVisit, Order, OrderLine, OrderStatus, Product
from .selectors import (
    CART_ORDER_KEY,
    CART_SESSION_KEY,
    CHECKOUT_TOKEN_KEY,
    ORDERS_SESSION_KEY,
    Cart,
)

MAX_QUANTITY = 99


class CheckoutError(Exception):
    code = "checkout_error"


class EmptyCart(CheckoutError):
    code = "empty_cart"


class MixedCurrencies(CheckoutError):
    code = "mixed_currencies"


class ProductUnavailable(CheckoutError):
    code = "product_unavailable"


def cart_set(*, session: SessionBase, sku: str, quantity: int) -> None:
    """Set a line's quantity (0 removes it). Quantities are capped, never negative."""
    if not Product.objects.filter(sku=sku, active=True).exists():
        raise ProductUnavailable(sku)
    cart: dict[str, int] = dict(session.get(CART_SESSION_KEY, {}))
    quantity = max(0, min(quantity, MAX_QUANTITY))
    if quantity:
        cart[sku] = quantity
    else:
        cart.pop(sku, None)
    session[CART_SESSION_KEY] = cart


def cart_add(*, session: SessionBase, sku: str, quantity: int = 1) -> None:
    current = int(session.get(CART_SESSION_KEY, {}).get(sku, 0))
    cart_set(session=session, sku=sku, quantity=current + max(quantity, 1))


def cart_clear(*, session: SessionBase) -> None:
    session.pop(CART_SESSION_KEY, None)
    session.pop(CART_ORDER_KEY, None)


def _lines_for(items: Sequence[tuple[Product, int]]) -> tuple[list[OrderLine], int, str]:
    if not items:
        raise EmptyCart("an order needs at least one item")
    currencies = {product.currency for product, _qty in items}
    if len(currencies) != 1:
        raise MixedCurrencies("all items of an order must share one currency")
    lines = []
    for product, quantity in items:
        if not product.active:
            raise ProductUnavailable(product.sku)
        lines.append(
            OrderLine(
                product=product,
                sku=product.sku,
                name=product.name_en,
                name_zh=product.name_zh,
                unit_price=product.price,
                quantity=quantity,
                line_total=product.price * quantity,
            )
        )
    return lines, sum(line.line_total for line in lines), currencies.pop()


@transaction.atomic
def order_create(
    *,
    items: Sequence[tuple[Product, int]],
    email: str,
    user: Any = None,
    language: str = "en",
    billing: dict[str, str] | None = None,
    checkout_token: str | None = None,
) -> Order:
    """Create a pending order with its lines; the total is computed here, never taken from input."""
    lines, total, currency = _lines_for(items)
    order = Order.objects.create(
        user=user if getattr(user, "is_authenticated", False) else None,
        email=email.strip().lower(),
        total=total,
        currency=currency,
        language=language,
        checkout_token=checkout_token,
        **(billing or {}),
    )
    for line in lines:
        line.order = order
    OrderLine.objects.bulk_create(lines)
    return order


def _order_for_checkout(
    *,
    session: SessionBase,
    cart: Cart,
    token: str,
    email: str,
    user: Any,
    language: str,
    billing: dict[str, str],
) -> Order:
    """The order behind one checkout page: created once per token, kept in step with the cart.

    An order's lines and total are frozen once it has an attempt: what a provider was asked to
    charge must stay what the order costs. A changed cart then starts a new order (with a new
    token, kept in the session) — unless a payment of the old one may still be taking money,
    which PaymentInProgress reports.
    """
    items = [(line.product, line.quantity) for line in cart.lines]
    new = {"items": items, "email": email, "user": user, "language": language, "billing": billing}
    try:
        with transaction.atomic():
            return order_create(**new, checkout_token=token)
    except IntegrityError:
        pass  # This token already has its order: a retry, a double click or a second tab.
    with transaction.atomic():
        order = Order.objects.select_for_update().get(checkout_token=token)
        if order.status != OrderStatus.PENDING:
            return order
        for field, value in {"email": email.strip().lower(), **billing}.items():
            setattr(order, field, value)
        wanted = {(product.sku, qty) for product, qty in items}
        current = set(order.lines.values_list("sku", "quantity"))
        if wanted == current:
            order.save()
            return order
        if not order.attempts.exists():
            lines, total, currency = _lines_for(items)
            order.lines.all().delete()
            for line in lines:
                line.order = order
            OrderLine.objects.bulk_create(lines)
            order.total, order.currency = total, currency
            order.save()
            return order
        in_flight = order.attempts.filter(status__in=IN_FLIGHT).first()
        if in_flight is not None:
            raise payment_services.PaymentInProgress(in_flight)
        fresh = order_create(**new, checkout_token=uuid.uuid4().hex)
    session[CHECKOUT_TOKEN_KEY] = fresh.checkout_token
    return fresh


@dataclass(frozen=True)
class CheckoutOutcome:
    order: Order
    attempt: PaymentAttempt


def checkout_pay(
    *,
    session: SessionBase,
    cart: Cart,
    checkout_token: str,
    idempotency_key: str,
    method: PaymentMethod,
    payment_method: str,
    email: str,
    billing: dict[str, str],
    user: Any,
    language: str,
    return_url_for: Any,
    client_ip: str | None = None,
    wallet_amount: int = 0,
) -> CheckoutOutcome:
    """The Pay button: find or create this checkout's order, then pay it once.

    `return_url_for(order)` gives the page a customer returns to after a 3D Secure or redirect step.
    `wallet_amount` is the part the customer chose to pay from their wallet (held first).
    Raises the payments engine's errors unchanged; the view turns them into words.
    """
    if not cart:
        raise EmptyCart("the cart is empty")
    token = checkout_token
    for last_try in (False, True):
        try:
            order = _order_for_checkout(
                session=session,
                cart=cart,
                token=token,
                email=email,
                user=user,
                language=language,
                billing=billing,
            )
            token = order.checkout_token or token
            remember_order(session=session, order=order)
            # Once this order is paid, wherever that happens, these lines leave the cart
            # (selectors.cart_items) and anything added later stays.
            session[CART_ORDER_KEY] = order.number
            attempt = payment_services.attempt_pay(
                order=order,
                method=method,
                idempotency_key=idempotency_key,
                payment_method=payment_method,
                user=user,
                return_url=return_url_for(order),
                client_ip=client_ip,
                # What this request just priced: another tab cannot change it under the charge.
                expected_amount=order.total,
                wallet_amount=wallet_amount,
            )
            break
        except payment_services.PaymentInProgress as exc:
            waiting = exc.attempt
            if last_try or waiting.status != PaymentAttempt.Status.REQUIRES_ACTION:
                raise
            # The customer left a 3D Secure / Alipay / WeChat Pay step unfinished and now pays
            # here (the page said so): cancel that one at the provider first, then pay. If it
            # was finished meanwhile, the next round finds the order paid.
            actor = payment_services.customer_actor(user)
            payment_services.attempt_cancel(attempt=waiting, actor=actor)
    order.refresh_from_db()
    return CheckoutOutcome(order=order, attempt=attempt)


def remember_order(*, session: SessionBase, order: Order) -> None:
    """A guest may see the orders they placed from this browser session."""
    numbers: list[str] = list(session.get(ORDERS_SESSION_KEY, []))
    if order.number not in numbers:
        session[ORDERS_SESSION_KEY] = [*numbers[-19:], order.number]


MAX_TOP_UP = 1_000_000  # minor units: ten thousand in a two-decimal currency


def wallet_top_up_order_create(
    *, user: Any, amount: int, currency: str, language: str, checkout_token: str | None = None
) -> Order:
    """An order that, once paid with another method, credits `user`'s wallet.

    With a `checkout_token` (one per top-up page) a double press finds the same order.
    """
    if not getattr(user, "is_authenticated", False):
        raise CheckoutError("a wallet top-up needs a signed-in customer")
    if not 0 < amount <= MAX_TOP_UP:
        raise CheckoutError(f"a top-up is between 1 and {MAX_TOP_UP} minor units")

    def create(token: str | None) -> Order:
        return Order.objects.create(
            user=user,
            email=user.email,
            full_name=user.full_name,
            kind=Order.Kind.WALLET_TOP_UP,
            total=amount,
            currency=currency.upper(),
            language=language,
            checkout_token=token,
        )

    try:
        with transaction.atomic():
            return create(checkout_token)
    except IntegrityError:
        pass  # this page's order exists: a double press, a retry, a second tab
    with transaction.atomic():
        # Locked: a Pay press creating an attempt for this order holds the same lock, so the
        # amount cannot change under a payment that is being made.
        order = Order.objects.select_for_update().get(checkout_token=checkout_token)
        if order.user_id != user.pk or order.kind != Order.Kind.WALLET_TOP_UP:
            raise CheckoutError("this top-up page belongs to someone else")
        if (order.total, order.currency) == (amount, currency.upper()) or not order.is_payable:
            return order
        if not order.attempts.exists():
            order.total = amount
            order.save(update_fields=["total", "updated_at"])
            return order
        # Frozen: it was (or is being) charged for its own amount. Another amount is another
        # order, and one still being paid must settle first.
        in_flight = order.attempts.filter(status__in=IN_FLIGHT).first()
        if in_flight is not None:
            raise payment_services.PaymentInProgress(in_flight)
        return create(uuid.uuid4().hex)


@transaction.atomic
def checkout_resume(*, session: SessionBase, order: Order) -> Order:
    """Put an unpaid order back into this browser's checkout: its lines become the cart and its
    token the checkout's, so paying it pays this order and no new one."""
    order = Order.objects.select_for_update().get(pk=order.pk)
    lines = list(order.lines.select_related("product"))
    if any(line.product is None or not line.product.active for line in lines):
        raise ProductUnavailable("an item of this order is no longer on sale")
    if not order.checkout_token:
        order.checkout_token = uuid.uuid4().hex
        order.save(update_fields=["checkout_token", "updated_at"])
    session[CART_SESSION_KEY] = {line.sku: line.quantity for line in lines}
    session[CART_ORDER_KEY] = order.number
    remember_order(session=session, order=order)
    return order


def checkout_visit_start(*, session: SessionBase) -> str:
    """This browser's checkout token, starting a checkout when it has none.

    Starting one counts its visit, once per token, for the top of the payment funnel: a
    refresh, a second tab or a return to the page finds the token and writes nothing.
    """
    token = session.get(CHECKOUT_TOKEN_KEY)
    if token:
        return str(token)
    token = session[CHECKOUT_TOKEN_KEY] = uuid.uuid4().hex
    CheckoutVisit.objects.create(token=token)  # a fresh token: one INSERT, no lookup
    return token


@transaction.atomic
def order_reminders_stop(*, order: Order) -> Order:
    """Stop reminder emails for an order (its emailed opt-out link). Safe to repeat.

    Not a status change, so no OrderEvent: a plain write under the row lock that the reminder
    sender (checkout.tasks.send_follow_up) also takes, so a reminder already being sent finishes
    and none starts after this commits.
    """
    order = Order.objects.select_for_update().get(pk=order.pk)
    if not order.follow_up_opt_out:
        order.follow_up_opt_out = True
        order.save(update_fields=["follow_up_opt_out", "updated_at"])
    return order


def order_return_check(
    *, order: Order, payment_intent: str, redirect_result: str = ""
) -> PaymentAttempt | None:
    """The customer is back from the provider's page (Stripe's 3D Secure or wallet step): ask
    the provider now rather than wait for the webhook. Only the attempt the provider named, and
    only while it waits for the customer; anything else asks nobody. Returns the attempt.

    Adyen names no payment in its return, only an opaque `redirectResult`: it is sent for the
    order's waiting Adyen attempt, which moves only if Adyen's answer names that attempt."""
    if redirect_result:
        waiting = order.attempts.filter(
            status=PaymentAttempt.Status.REQUIRES_ACTION, provider="adyen"
        ).first()
        if waiting is None:
            return None
        return payment_services.attempt_adyen_redirect_complete(
            attempt=waiting, redirect_result=redirect_result
        )
    if not payment_intent:
        return None
    attempt = order.attempts.filter(
        status=PaymentAttempt.Status.REQUIRES_ACTION, provider_reference=payment_intent
    ).first()
    if attempt is None:
        return None
    return payment_services.attempt_refresh(attempt=attempt)

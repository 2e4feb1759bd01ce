"""Orders move along one declared table, and every move leaves an OrderEvent (from, to, actor,
reason) written with it; staff read the history in the order's admin page and cannot edit it."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.db import transaction
from django.urls import reverse

from checkout.models import Order, OrderEvent
from checkout.status import ALLOWED, InvalidOrderTransition, order_transition
from payments import services
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db

ORDER_MOVES = {
    ("pending", "paid"),
    ("pending", "canceled"),
    ("paid", "partially_refunded"),
    ("paid", "refunded"),
    ("partially_refunded", "partially_refunded"),
    ("partially_refunded", "refunded"),
}


def events(order: Order) -> list[tuple[str, str, str, str]]:
    return list(order.events.values_list("from_status", "to_status", "actor", "reason"))


def test_the_order_table_is_exactly_the_agreed_moves():
    assert set(map(str, ALLOWED)) == {
        "pending",
        "paid",
        "canceled",
        "partially_refunded",
        "refunded",
    }
    assert {(str(a), str(b)) for a, targets in ALLOWED.items() for b in targets} == ORDER_MOVES


def test_each_move_writes_one_event_with_who_and_why():
    order = OrderFactory()
    order_transition(order=order, to="paid")  # the callers of today pass neither
    order_transition(order=order, to="partially_refunded", actor="staff:carol", reason="R-1")
    order_transition(order=order, to="refunded", actor="provider:stripe", reason="R-2")
    assert events(order) == [
        ("pending", "paid", "system", ""),
        ("paid", "partially_refunded", "staff:carol", "R-1"),
        ("partially_refunded", "refunded", "provider:stripe", "R-2"),
    ]


def test_an_illegal_move_raises_and_writes_no_event():
    order = OrderFactory()
    order_transition(order=order, to="canceled")
    with pytest.raises(InvalidOrderTransition):
        order_transition(order=order, to="paid")  # a canceled order is never paid
    order.refresh_from_db()
    assert order.status == "canceled" and order.paid_at is None
    assert events(order) == [("pending", "canceled", "system", "")]


def test_the_event_is_rolled_back_with_the_move():
    order = OrderFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        order_transition(order=order, to="paid")
        raise RuntimeError("the caller's transaction fails after the move")
    order.refresh_from_db()
    assert order.status == "pending"
    assert not OrderEvent.objects.exists()


def test_events_are_append_only():
    order = OrderFactory()
    order_transition(order=order, to="canceled")
    event = order.events.get()
    event.reason = "rewritten"
    with pytest.raises(ValueError):
        event.save()


def test_paying_writes_the_paid_event(shop):
    order = OrderFactory()
    services.attempt_pay(
        order=order,
        method=shop["methods"]["card"],
        idempotency_key="paid-event",
        payment_method="pm_card_visa",
    )
    assert [(f, t) for f, t, _a, _r in events(order)] == [("pending", "paid")]


def test_the_order_admin_page_shows_the_history_read_only(client, carol):
    order = OrderFactory()
    order_transition(order=order, to="paid", actor="provider:simulator", reason="charge ch_1")
    client.force_login(carol)
    page = client.get(reverse("admin:checkout_order_change", args=[order.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    assert "Status history" in body
    assert "provider:simulator" in body and "charge ch_1" in body
    assert 'name="events-0-reason"' not in body  # shown, not editable
    assert 'name="events-0-DELETE"' not in body
    assert OrderEvent not in admin.site._registry  # no page of its own to edit or delete them


def test_a_signed_in_stranger_cannot_read_an_orders_history(client, mallory):
    order = OrderFactory()
    order_transition(order=order, to="canceled", reason="secret reason")
    client.force_login(mallory)
    response = client.get(reverse("admin:checkout_order_change", args=[order.pk]))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert "secret reason" not in response.content.decode()

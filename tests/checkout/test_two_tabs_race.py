"""Two tabs of one browser press Pay at the same instant: one charge, and BOTH tabs are shown
the paid order — never "already paid or closed" on the product list with the item still in the
cart, where paying again would charge a second time. Needs real row locks: PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter
from unittest import mock

import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.urls import reverse

from checkout import services as checkout_services
from checkout.models import Order
from payments import services as payment_services
from payments.gateways import ChargeRequest, ChargeResult
from payments.gateways.simulator import SimulatorGateway
from payments.models import PaymentAttempt, SimulatedCharge
from tests.conftest import ON_POSTGRES

from .helpers import BILLING, checkout_form, fill_cart

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL row locks across connections"),
    pytest.mark.django_db(transaction=True),
]

PAID_ORDER = "the paid order"
SHOWN_PAID = "This order is already paid. Here it is."


def _tab(cookie: str) -> Client:
    tab = Client()
    tab.cookies[settings.SESSION_COOKIE_NAME] = cookie
    return tab


def _press_at_once(tabs: list[Client], forms: list[dict[str, str]]) -> list[tuple[str, str]]:
    """Both tabs press Pay at one instant (a barrier); where each landed and what it was told."""
    barrier = threading.Barrier(len(tabs), timeout=60)
    told: list[tuple[str, str]] = []
    lock = threading.Lock()

    def press(tab: Client, form: dict[str, str]) -> None:
        try:
            barrier.wait()
            data = {**BILLING, **form, "method": "card", "payment_method": "pm_card_visa"}
            response = tab.post(reverse("checkout:checkout"), data)
            words = " / ".join(str(m) for m in get_messages(response.wsgi_request))
            outcome = (response.url, words)
        except Exception as exc:  # noqa: BLE001 - an error page is an outcome too
            outcome = (f"error:{type(exc).__name__}:{exc}", "")
        finally:
            connection.close()
            answered.set()
        with lock:
            told.append(outcome)

    threads = [threading.Thread(target=press, args=pair) for pair in zip(tabs, forms, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return told


answered = threading.Event()


def _named(told: list[tuple[str, str]]) -> Counter[tuple[str, str]]:
    paid = Order.objects.get(status="paid", checkout_token__isnull=False)
    url = reverse("checkout:order_status", args=[paid.number])
    return Counter((PAID_ORDER if where == url else where, words) for where, words in told)


def _two_tabs(client: Client) -> tuple[str, list[Client], list[dict[str, str]]]:
    fill_cart(client, "mug")
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    tabs = [_tab(cookie), _tab(cookie)]
    forms = [checkout_form(tab) for tab in tabs]
    assert forms[0]["checkout_token"] == forms[1]["checkout_token"]
    assert forms[0]["idempotency_key"] != forms[1]["idempotency_key"]
    return cookie, tabs, forms


def _third_press_charges_nothing(cookie: str, forms: list[dict[str, str]]) -> None:
    third = _tab(cookie)
    # The paid item is gone from the cart, whichever request saved the session last...
    assert third.get(reverse("checkout:cart")).context["cart"].lines == []
    # ...so the checkout has nothing to sell, and either tab's old form leads to the paid order.
    assert third.get(reverse("checkout:checkout")).url == reverse("checkout:product_list")
    paid = Order.objects.get(status="paid")
    for form in forms:
        data = {**BILLING, **form, "method": "card", "payment_method": "pm_card_visa"}
        again = third.post(reverse("checkout:checkout"), data)
        assert again.url == reverse("checkout:order_status", args=[paid.number])
    # And a new cart after all that is a new order, of only what was added.
    fill_cart(third, "tea")
    assert [
        line.product.sku for line in third.get(reverse("checkout:cart")).context["cart"].lines
    ] == ["tea"]
    assert SimulatedCharge.objects.count() == 1
    assert PaymentAttempt.objects.filter(status="succeeded").count() == 1


def test_the_losing_tab_saves_its_session_last_and_the_cart_is_still_consumed(client, shop):
    """The case that double-charged: the losing request is told a payment is under way while
    the winner is at the provider, and saves its session (cart and all) after the winner
    emptied it."""
    cookie, tabs, forms = _two_tabs(client)
    answered.clear()
    loser_told = threading.Event()
    real_pay, real_charge = checkout_services.checkout_pay, SimulatorGateway.charge

    def losing_pay(**kwargs):
        try:
            return real_pay(**kwargs)
        except payment_services.PaymentInProgress:
            loser_told.set()
            answered.wait(timeout=30)  # the winner has answered and saved its session first
            raise

    def held_charge(self: SimulatorGateway, request: ChargeRequest) -> ChargeResult:
        loser_told.wait(timeout=30)  # the other tab is told while this one is at the provider
        return real_charge(self, request)

    with (
        mock.patch.object(checkout_services, "checkout_pay", losing_pay),
        mock.patch.object(SimulatorGateway, "charge", held_charge),
    ):
        told = _press_at_once(tabs, forms)

    # The winner lands on its paid order; the loser on the same order (a payment under way).
    assert _named(told) == {(PAID_ORDER, ""): 2}
    _third_press_charges_nothing(cookie, forms)


@pytest.mark.parametrize("round_", range(5))
def test_two_tabs_pressing_pay_at_once_are_both_shown_the_paid_order(client, shop, round_):
    cookie, tabs, forms = _two_tabs(client)
    answered.clear()
    told = _named(_press_at_once(tabs, forms))
    # One tab paid; the other was shown the same order, whichever moment it arrived at.
    assert sum(told.values()) == 2
    assert set(told) <= {(PAID_ORDER, ""), (PAID_ORDER, SHOWN_PAID)}, told
    _third_press_charges_nothing(cookie, forms)

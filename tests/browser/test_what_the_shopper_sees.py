"""What the shopper sees around a payment that is not simply done: two tabs pressing Pay at
once, items added while a payment is confirming, a method that cannot be used."""

from __future__ import annotations

import threading
import time

import pytest
from playwright.sync_api import Browser, Page, expect

from checkout import services as checkout_services
from checkout.models import Order, OrderStatus
from payments import services as payment_services
from payments.gateways import ChargeRequest, ChargeResult, simulator
from payments.gateways.simulator import SimulatorGateway
from payments.models import PaymentAttempt, PaymentMethod, SimulatedCharge

from .test_more_journeys import (
    GOOD_CARD,
    ORDER_URL,
    PAID,
    add_mug_to_cart,
    fill_details,
    open_checkout,
)

pytestmark = pytest.mark.browser


def wait_for(condition, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_two_tabs_press_pay_at_once_and_both_see_the_one_paid_order(
    live_shop, live_server, page: Page, monkeypatch
):
    # The two requests overlap as when both tabs are pressed at the same instant, in the order
    # that double-charged: the first press is held at the provider until the second is told a
    # payment is under way, and the second saves its session (the cart in it) after the first.
    told, paid = threading.Event(), threading.Event()
    real_charge, real_pay = SimulatorGateway.charge, checkout_services.checkout_pay

    def held_charge(self: SimulatorGateway, request: ChargeRequest) -> ChargeResult:
        told.wait(timeout=20)
        return real_charge(self, request)

    def pay_in_that_order(**kwargs):
        try:
            outcome = real_pay(**kwargs)
        except payment_services.PaymentInProgress:
            told.set()
            paid.wait(timeout=20)
            time.sleep(2)  # the winner has saved its session and shown its paid order by now
            raise
        paid.set()
        return outcome

    monkeypatch.setattr(checkout_services, "checkout_pay", pay_in_that_order)
    monkeypatch.setattr(SimulatorGateway, "charge", held_charge)
    add_mug_to_cart(page, live_server.url)
    tab1, tab2 = page, page.context.new_page()
    for tab in (tab1, tab2):
        open_checkout(tab, live_server.url)
        fill_details(tab, GOOD_CARD)
    tab1.get_by_role("button", name="Pay $12.00").click(no_wait_after=True)
    wait_for(lambda: PaymentAttempt.objects.exists())
    tab2.get_by_role("button", name="Pay $12.00").click()
    expect(tab2).to_have_url(ORDER_URL)

    expect(tab1).to_have_url(ORDER_URL)
    expect(tab1.locator("#order-status")).to_contain_text(PAID)
    assert tab2.url == tab1.url  # the same order, never the product list
    expect(tab2.get_by_text("This order is already paid or closed.")).to_have_count(0)

    # At once, before any page of the order is shown again: the paid mug is not in the cart
    # (whose session the losing tab saved last), so it cannot be paid for a second time.
    tab3 = page.context.new_page()
    tab3.goto(live_server.url + "/cart/")
    expect(tab3.get_by_text("Your cart is empty")).to_be_visible()
    tab3.goto(live_server.url + "/checkout/")
    expect(
        tab3.get_by_text("Your cart is empty. Add something before checking out.")
    ).to_be_visible()
    # The losing tab's page catches up by itself (no websocket on the live server: the poll).
    expect(tab2.locator("#order-status")).to_contain_text(PAID, timeout=15000)
    assert SimulatedCharge.objects.count() == 1
    assert Order.objects.filter(status=OrderStatus.PAID).count() == 1


def fill(page: Page, card: str) -> None:
    """The checkout's fields by name, whatever the page's language."""
    for name, value in {
        "email": "dana@example.com",
        "full_name": "Dana Buyer",
        "address_line1": "1 Harbour Street",
        "city": "Wellington",
        "country": "New Zealand",
        "payment_method": card,
    }.items():
        page.locator(f"[name='{name}']").fill(value)


@pytest.mark.parametrize(
    ("language", "confirming", "added", "back_by"),
    [
        ("en", "is being confirmed", "The items you added stay in your cart.", "at the latest"),
        ("zh-hans", "", "", ""),  # the new sentences await their translation (see the report)
    ],
)
def test_items_added_while_confirming_wait_and_then_become_a_new_order(
    live_shop, live_server, browser: Browser, monkeypatch, language, confirming, added, back_by
):
    monkeypatch.setattr(simulator, "_schedule_settle", lambda charge: None)  # the bank is slow
    context = browser.new_context(base_url=live_server.url)
    context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
    page = context.new_page()
    page.goto("/")
    page.locator("button[name='sku'][value='mug']").click()
    page.goto("/checkout/")
    fill(page, "pm_sim_processing")
    page.locator(".pay-button").click()
    expect(page).to_have_url(ORDER_URL)
    first = Order.objects.get()
    # The order page says why another way is not offered yet, and until when.
    attempt = PaymentAttempt.objects.get()
    expect(page.locator("#why-no-other-way")).to_be_visible()
    if language == "en":
        expect(page.locator("#why-no-other-way")).to_contain_text("You cannot pay another way yet")

    # Tea is added while the mug's payment is confirming.
    page.goto("/")
    page.locator("button[name='sku'][value='tea']").click()
    page.goto("/checkout/")
    notice = page.locator("#payment-confirming")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text(first.number)
    if confirming:
        expect(notice).to_contain_text(confirming)
        expect(notice).to_contain_text(added)
        expect(notice).to_contain_text(back_by)
    expect(page.locator(".pay-button")).to_have_count(0)

    simulator.simulator_settle(attempt.provider_reference)
    assert Order.objects.get(pk=first.pk).status == OrderStatus.PAID

    page.goto("/checkout/")
    expect(page.locator("#payment-confirming")).to_have_count(0)
    expect(page.locator(".summary-lines li")).to_have_count(1)
    expect(page.locator(".summary-lines")).to_contain_text("1 ×")
    fill(page, "pm_card_visa")
    page.locator(".pay-button").click()
    expect(page).to_have_url(ORDER_URL)
    second = Order.objects.exclude(pk=first.pk).get()
    assert second.status == OrderStatus.PAID
    assert list(second.lines.values_list("sku", "quantity")) == [("tea", 1)]
    assert list(first.lines.values_list("sku", "quantity")) == [("mug", 1)]
    context.close()


def test_card_field_is_disabled_without_javascript_while_the_card_is_down(
    live_shop, live_server, browser: Browser
):
    PaymentMethod.objects.filter(code="card").update(maintenance=True)
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    page.goto("/")
    page.locator("button[name='sku'][value='mug']").click()
    page.goto("/checkout/")
    expect(page.get_by_label("Card number")).to_be_disabled()
    expect(page.get_by_text("Card payments are not available right now")).to_be_visible()
    context.close()

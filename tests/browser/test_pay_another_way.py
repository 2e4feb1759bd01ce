"""A shopper who opened Alipay's page and came back changes their mind: the order page and the
checkout both offer another way, cancel the unfinished payment first, and charge once."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from checkout.models import Order, OrderStatus
from payments.models import AttemptStatus, SimulatedCharge

from .test_accessibility import assert_no_violations
from .test_more_journeys import (
    ORDER_URL,
    PAID,
    SIMULATOR_URL,
    add_mug_to_cart,
    fill_details,
    open_checkout,
    pay,
)

pytestmark = pytest.mark.browser


def start_alipay_and_walk_away(page: Page, base_url: str) -> Order:
    add_mug_to_cart(page, base_url)
    open_checkout(page, base_url)
    page.get_by_label("Alipay", exact=True).check()
    fill_details(page, "")
    pay(page)
    expect(page).to_have_url(SIMULATOR_URL)
    return Order.objects.get()


def test_from_the_order_page(live_shop, live_server, page: Page):
    order = start_alipay_and_walk_away(page, live_server.url)
    page.goto(f"{live_server.url}/orders/{order.number}/")
    status = page.locator("#order-status")
    expect(status).to_contain_text("Waiting for you to approve the payment")
    expect(status).to_contain_text("We will cancel the Alipay payment first")
    assert_no_violations(page, "order page waiting for Alipay")
    status.get_by_role("button", name="Pay another way").click()

    expect(page.get_by_role("heading", level=1, name="Checkout")).to_be_visible()
    expect(
        page.get_by_text("The unfinished payment was canceled. You were not charged.")
    ).to_be_visible()
    page.get_by_label("Card", exact=True).check()
    page.get_by_label("Card number").fill("4242 4242 4242 4242")
    pay(page)
    expect(page).to_have_url(ORDER_URL)
    expect(page.locator("#order-status")).to_contain_text(PAID)
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert sorted(order.attempts.values_list("method__code", "status")) == [
        ("alipay", AttemptStatus.CANCELED),
        ("card", AttemptStatus.SUCCEEDED),
    ]
    assert sorted(SimulatedCharge.objects.values_list("status", "failure_code")) == [
        ("failed", "canceled"),
        ("succeeded", ""),
    ]


def test_from_the_checkout_which_says_so_first(live_shop, live_server, page: Page):
    order = start_alipay_and_walk_away(page, live_server.url)
    open_checkout(page, live_server.url)
    notice = page.locator("#payment-waiting")
    expect(notice).to_contain_text("Your Alipay payment is not finished")
    expect(notice.get_by_role("link", name="Finish paying with Alipay")).to_be_visible()
    assert_no_violations(page, "checkout with an unfinished Alipay payment")
    page.get_by_label("Card", exact=True).check()
    fill_details(page, "4242 4242 4242 4242")
    pay(page)
    expect(page).to_have_url(ORDER_URL)
    expect(page.locator("#order-status")).to_contain_text(PAID)
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert SimulatedCharge.objects.filter(status="succeeded").count() == 1

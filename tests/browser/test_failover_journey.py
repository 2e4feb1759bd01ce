"""Failover in a real browser (issue 15): with the primary route refusing connections, a card,
Alipay and WeChat Pay payment each go through the second route. The customer is told only
where the page they are sent to differs (Alipay, WeChat Pay), never for a card."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from checkout.models import Order, OrderStatus
from payments.models import PaymentRoute, SimulatedCharge
from tests.browser.test_checkout_journey import DETAILS, add_mug_and_checkout, card_field, pay

pytestmark = pytest.mark.browser

OTHER_CHANNEL = "{} is slow right now; your payment is going through another channel."


@pytest.fixture
def primary_refusing(live_shop):
    """Every method but the wallet: the simulator refuses connections, Simulator B is second."""
    for code in ("card", "alipay", "wechat_pay"):
        method = live_shop["methods"][code]
        PaymentRoute.objects.create(
            method=method, provider="simulator", priority=10, simulate_refused=True
        )
        PaymentRoute.objects.create(method=method, provider="simulator_b", priority=20)
    return live_shop


def fill_details(page: Page) -> None:
    for label, value in DETAILS.items():
        page.get_by_label(label, exact=True).fill(value)


def expect_paid(page: Page) -> Order:
    expect(page.locator("#order-status")).to_contain_text("Paid — thank you!")
    number = page.get_by_role("heading", level=1).inner_text().removeprefix("Order ").strip()
    order = Order.objects.get(number=number)
    assert order.status == OrderStatus.PAID
    return order


def test_card_pays_through_the_second_route_without_a_word(
    primary_refusing, live_server, page: Page
):
    add_mug_and_checkout(page, live_server.url)
    fill_details(page)
    card_field(page).fill("4242 4242 4242 4242")
    pay(page)
    order = expect_paid(page)
    expect(page.get_by_text(re.compile("another channel"))).to_have_count(0)
    attempt = order.attempts.get()
    assert (attempt.status, attempt.provider) == ("succeeded", "simulator_b")
    assert list(SimulatedCharge.objects.values_list("provider", "status")) == [
        ("simulator_b", "succeeded")
    ]


@pytest.mark.parametrize(
    ("label", "heading"),
    [
        ("Alipay", "Approve the payment in Alipay"),
        ("WeChat Pay", "Scan the QR code with WeChat Pay"),
    ],
)
def test_redirect_methods_pay_through_the_second_route_and_say_so(
    primary_refusing, live_server, page: Page, label: str, heading: str
):
    add_mug_and_checkout(page, live_server.url)
    page.get_by_label(label, exact=True).check()
    fill_details(page)
    pay(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    expect(page.locator("#other-channel")).to_have_text(OTHER_CHANNEL.format(label))
    page.get_by_role("button", name="Approve", exact=True).click()
    order = expect_paid(page)
    attempt = order.attempts.get()
    assert (attempt.status, attempt.provider) == ("succeeded", "simulator_b")
    assert list(SimulatedCharge.objects.values_list("provider", "status")) == [
        ("simulator_b", "succeeded")
    ]

"""Paying with part of the wallet in a real browser: the offer is a labelled checkbox that passes
axe, a declined card says the wallet part was not spent (and keeps the box ticked), and the paid
order shows both parts."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from checkout.models import OrderStatus
from payments.models import Wallet, WalletEntry

from .test_accessibility import assert_no_violations
from .test_more_journeys import (
    DETAILS,
    GOOD_CARD,
    INSUFFICIENT_FUNDS_CARD,
    add_mug_to_cart,
    expect_paid_status_page,
    fill_details,
    open_checkout,
    pay,
    sign_in,
    single_order,
)

pytestmark = pytest.mark.browser


def test_part_of_the_wallet_declined_then_paid(live_shop, live_server, page: Page, client):
    from payments.services import wallet_move
    from tests.factories import UserFactory

    buyer = UserFactory(email=DETAILS["Email address"], full_name=DETAILS["Full name"])
    wallet_move(
        user=buyer, currency="USD", amount=500, kind="adjustment", actor="test", reference="seed"
    )
    sign_in(page, client, live_server.url, buyer)
    add_mug_to_cart(page, live_server.url)  # $12.00
    open_checkout(page, live_server.url)

    box = page.get_by_label("Use my wallet balance ($5.00)")
    expect(box).not_to_be_checked()
    expect(box).to_have_accessible_description(
        "Use $5.00 from your wallet and pay the remaining $7.00 with the method you choose."
    )
    assert_no_violations(page, "the checkout with a wallet part on offer")
    box.focus()
    page.keyboard.press("Space")  # reachable and usable from the keyboard
    expect(box).to_be_checked()

    fill_details(page, INSUFFICIENT_FUNDS_CARD, skip=("Email address", "Full name"))
    pay(page)
    failure = page.locator("#payment-failure")
    expect(failure).to_be_focused()
    expect(failure).to_contain_text(
        "The $5.00 from your wallet was not spent: it is back in your balance."
    )
    assert Wallet.objects.get(user=buyer).balance == 500
    expect(page.get_by_label("Use my wallet balance ($5.00)")).to_be_checked()
    assert_no_violations(page, "the failure box after a declined second part")

    page.get_by_label("Card number").fill(GOOD_CARD)
    pay(page)
    expect_paid_status_page(page)
    # As a screen reader reads the rows under the total.
    expect(page.get_by_role("row", name="Paid from your wallet $5.00")).to_be_visible()
    expect(page.get_by_role("row", name="Paid with Visa ···4242 $7.00")).to_be_visible()
    order = single_order()
    assert order.status == OrderStatus.PAID
    wallet = Wallet.objects.get(user=buyer)
    assert wallet.balance == 0
    assert [(e.kind, e.amount) for e in wallet.entries.order_by("created_at", "id")] == [
        (WalletEntry.Kind.ADJUSTMENT, 500),
        (WalletEntry.Kind.PAYMENT, -500),
        (WalletEntry.Kind.RELEASE, 500),
        (WalletEntry.Kind.PAYMENT, -500),
    ]

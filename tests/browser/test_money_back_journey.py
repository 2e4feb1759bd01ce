"""Issue 14, "Money back", walked end to end in one browser journey with literal amounts.

Alice tops up $30.00 and then $20.00 with a card (balance $50.00), buys four teas ($74.00) with
her whole wallet ($50.00) plus the card ($24.00), Carol (staff) refunds that order in full from
the admin refund page ($24.00 back to the card, $50.00 back to the wallet), and Alice withdraws
the $50.00 she has left: $30.00 to the first top-up's card and $20.00 to the second's, oldest
first, leaving $0.00.

Every step is checked on the page Alice or Carol sees (each page also through axe's WCAG A/AA
rules) and in the database: the wallet's balance and its entries (which must add up to it),
the attempts' refunded amounts, the Refund rows and where they send the money, and what the
simulated provider charged and refunded.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client
from playwright.sync_api import Browser, Page, expect

from checkout.models import Order, OrderStatus
from payments.models import (
    AttemptStatus,
    PaymentAttempt,
    Refund,
    SimulatedCharge,
    SimulatedRefund,
    Wallet,
    WalletEntry,
    Withdrawal,
)

from .test_accessibility import assert_no_violations
from .test_more_journeys import GOOD_CARD, ORDER_URL, PAID, sign_in

pytestmark = pytest.mark.browser

ADDRESS = {
    "Billing address": "1 Harbour Street",
    "City": "Wellington",
    "Country or region": "New Zealand",
}
CARD_ARRIVAL = "usually 5–10 business days"


def wallet_state(user) -> tuple[int, int, list[tuple[str, int]]]:
    """(balance, sum of the entries, [(kind, amount)] oldest first) of alice's USD wallet."""
    wallet = Wallet.objects.get(user=user, currency="USD")
    entries = [(e.kind, e.amount) for e in wallet.entries.order_by("created_at", "id")]
    return wallet.balance, sum(amount for _kind, amount in entries), entries


def top_up(page: Page, base_url: str, amount: str, *, check: bool = False) -> str:
    page.goto(base_url + "/wallet/top-up/")
    expect(page.get_by_role("heading", level=1, name="Top up your wallet")).to_be_visible()
    if check:
        assert_no_violations(page, "the top-up page")
    page.get_by_label("Amount", exact=True).fill(amount)
    page.get_by_label("Card", exact=True).check()
    page.get_by_label("Card number").fill(GOOD_CARD)
    page.get_by_role("button", name="Add to wallet").click()
    expect(page).to_have_url(ORDER_URL)
    expect(page.locator("#order-status")).to_contain_text(PAID)
    return page.get_by_role("heading", level=1).inner_text().removeprefix("Order ").strip()


def expect_balance_on_account_page(page: Page, base_url: str, balance: str) -> None:
    page.goto(base_url + "/accounts/profile/")
    wallet = page.get_by_role("region", name="Wallet")
    expect(wallet).to_contain_text(f"Your balance: {balance}")


def test_top_up_twice_buy_split_refund_withdraw(
    live_shop, live_server, page: Page, browser: Browser, alice, carol
):
    base = live_server.url
    sign_in(page, Client(), base, alice)

    # --- 1. two top-ups by card: $30.00, then $20.00 ----------------------------------------
    first_number = top_up(page, base, "30.00", check=True)
    assert_no_violations(page, "the status page of a paid top-up")
    expect_balance_on_account_page(page, base, "$30.00")
    second_number = top_up(page, base, "20.00")
    expect_balance_on_account_page(page, base, "$50.00")
    assert_no_violations(page, "the account page with a wallet balance")
    first_top_up = PaymentAttempt.objects.get(order__number=first_number)
    second_top_up = PaymentAttempt.objects.get(order__number=second_number)
    assert (first_top_up.amount, first_top_up.status) == (3000, AttemptStatus.SUCCEEDED)
    assert (second_top_up.amount, second_top_up.status) == (2000, AttemptStatus.SUCCEEDED)
    assert wallet_state(alice) == (
        5000,
        5000,
        [(WalletEntry.Kind.TOP_UP, 3000), (WalletEntry.Kind.TOP_UP, 2000)],
    )

    # --- 2. four teas ($74.00): $50.00 from the wallet, $24.00 by card ---------------------
    page.goto(base + "/")
    tea = page.get_by_role("button", name="Add to cart").and_(
        page.locator("[aria-describedby='product-tea']")
    )
    for _ in range(4):
        tea.click()
        expect(page.get_by_text("Added to your cart.")).to_be_visible()
    page.goto(base + "/checkout/")
    expect(page.get_by_role("heading", level=1, name="Checkout")).to_be_visible()
    box = page.get_by_label("Use my wallet balance ($50.00)")
    expect(box).to_have_accessible_description(
        "Use $50.00 from your wallet and pay the remaining $24.00 with the method you choose."
    )
    box.check()
    for label, value in ADDRESS.items():
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_label("Card", exact=True).check()
    page.get_by_label("Card number").fill(GOOD_CARD)
    assert_no_violations(page, "the checkout with the wallet part ticked")
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()
    expect(page).to_have_url(ORDER_URL)
    expect(page.locator("#order-status")).to_contain_text(PAID)
    expect(page.get_by_role("row", name="Paid from your wallet $50.00")).to_be_visible()
    expect(page.get_by_role("row", name="Paid with Visa ···4242 $24.00")).to_be_visible()
    assert_no_violations(page, "the status page of an order paid in two parts")
    order_number = page.get_by_role("heading", level=1).inner_text().removeprefix("Order ")
    order = Order.objects.get(number=order_number.strip())
    assert (order.total, order.status) == (7400, OrderStatus.PAID)
    purchase = order.attempts.get()
    assert (purchase.amount, purchase.wallet_amount, purchase.status) == (
        2400,
        5000,
        AttemptStatus.SUCCEEDED,
    )
    assert wallet_state(alice) == (
        0,
        0,
        [
            (WalletEntry.Kind.TOP_UP, 3000),
            (WalletEntry.Kind.TOP_UP, 2000),
            (WalletEntry.Kind.PAYMENT, -5000),
        ],
    )
    charges = SimulatedCharge.objects.order_by("created_at", "id")
    assert [(c.reference, c.amount, c.status) for c in charges] == [
        (first_top_up.provider_reference, 3000, "succeeded"),
        (second_top_up.provider_reference, 2000, "succeeded"),
        (purchase.provider_reference, 2400, "succeeded"),
    ]

    # --- 3. Carol refunds the order in full from the admin refund page -----------------------
    staff = browser.new_context(base_url=base)
    staff_page = staff.new_page()
    sign_in(staff_page, Client(), base, carol)
    staff_page.goto(f"/admin/payments/paymentattempt/{purchase.pk}/refund/")
    expect(staff_page.get_by_text("Can still be refunded: $74.00")).to_be_visible()
    expect(staff_page.get_by_label("Amount")).to_have_value("74.00")
    expect(staff_page.get_by_label("Original payment method")).to_be_checked()
    assert_no_violations(staff_page, "the admin refund page")
    staff_page.get_by_label("Reason").fill("The teas arrived crushed.")
    staff_page.get_by_role("button", name="Refund").click()
    expect(staff_page.get_by_text("Refund of $74.00: Succeeded")).to_be_visible()
    staff.close()

    refund = Refund.objects.get(attempt=purchase)
    assert (
        refund.amount,
        refund.wallet_amount,
        refund.destination,
        refund.status,
        refund.withdrawal_id,
    ) == (7400, 5000, Refund.Destination.ORIGINAL, Refund.Status.SUCCEEDED, None)
    purchase.refresh_from_db()
    assert (purchase.refunded_amount, purchase.status) == (7400, AttemptStatus.REFUNDED)
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    assert [(r.charge.reference, r.amount, r.status) for r in SimulatedRefund.objects.all()] == [
        (purchase.provider_reference, 2400, "succeeded")
    ]
    assert wallet_state(alice) == (
        5000,
        5000,
        [
            (WalletEntry.Kind.TOP_UP, 3000),
            (WalletEntry.Kind.TOP_UP, 2000),
            (WalletEntry.Kind.PAYMENT, -5000),
            (WalletEntry.Kind.REFUND, 5000),
        ],
    )

    # What Alice sees of it: the order page, the money back list and the refund's page.
    page.goto(f"{base}/orders/{order.number}/")
    refunds = page.get_by_role("table", name="Refunds")
    expect(refunds.locator("tbody tr")).to_have_count(1)
    expect(refunds.locator("tbody tr")).to_contain_text(
        "Original payment method — $50.00 of it to your wallet"
    )
    expect(refunds.locator("tbody tr td.num")).to_have_text("$74.00")
    assert_no_violations(page, "the order page after a full refund in two parts")
    page.goto(base + "/money-back/")
    rows = page.locator("table.lines tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.locator("td").nth(1)).to_have_text(order.number)
    expect(rows.locator("td.num")).to_have_text("$74.00")
    assert_no_violations(page, "the money back list")
    page.goto(f"{base}/money-back/{refund.public_id}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Your refund of $74.00 for order {order.number}"
    )
    assert_no_violations(page, "the money back page of the refund")
    expect_balance_on_account_page(page, base, "$50.00")

    # --- 4. Alice withdraws the $50.00: to the two top-ups' cards, oldest first -------------
    page.goto(base + "/wallet/withdraw/")
    expect(page.get_by_label("Amount to withdraw")).to_have_value("50.00")
    assert_no_violations(page, "the withdraw page")
    page.get_by_role("button", name="Review where it goes").click()
    expect(page.locator(".withdrawal-parts li")).to_have_text(
        [f"$30.00 to Visa ···4242, {CARD_ARRIVAL}", f"$20.00 to Visa ···4242, {CARD_ARRIVAL}"]
    )
    assert_no_violations(page, "the withdraw review step")
    page.get_by_role("button", name="Withdraw $50.00").click()
    expect(page).to_have_url(re.compile(r"/wallet/withdrawals/[0-9a-f-]{36}/$"))
    parts_table = page.get_by_role("table", name="Where each part goes")
    expect(parts_table.locator("tbody tr")).to_have_text(
        [
            re.compile(rf"^\s*Visa ···4242\s+Arrived\s+{CARD_ARRIVAL}\s+\$30\.00\s*$"),
            re.compile(rf"^\s*Visa ···4242\s+Arrived\s+{CARD_ARRIVAL}\s+\$20\.00\s*$"),
        ]
    )
    expect(page.get_by_role("status")).to_contain_text("$50.00 from your wallet: Completed")
    assert_no_violations(page, "the withdrawal status page")
    expect_balance_on_account_page(page, base, "$0.00")
    expect(page.get_by_role("region", name="Wallet")).to_contain_text(
        re.compile(r"Withdrawal of \$50\.00 on [0-9/]+: Completed")
    )
    # The withdrawal's parts are refunds of the top-ups: newest first, then the order's.
    page.goto(base + "/money-back/")
    rows = page.locator("table.lines tbody tr")
    expect(rows.locator("td:nth-child(2)")).to_have_text(
        [second_number, first_number, order.number]
    )
    expect(rows.locator("td.num")).to_have_text(["$20.00", "$30.00", "$74.00"])
    expect(rows.locator("td:nth-child(3)")).to_have_text(["Visa ···4242"] * 3)
    expect(rows.locator("td:nth-child(4)")).to_have_text(["Arrived", "Arrived", "Arrived"])
    assert_no_violations(page, "the money back list after the withdrawal")

    withdrawal = Withdrawal.objects.get()
    assert (withdrawal.user, withdrawal.amount, withdrawal.status) == (
        alice,
        5000,
        Withdrawal.Status.COMPLETED,
    )
    parts = withdrawal.parts.order_by("idempotency_key")
    assert [(p.attempt_id, p.amount, p.destination, p.status) for p in parts] == [
        (first_top_up.pk, 3000, Refund.Destination.ORIGINAL, Refund.Status.SUCCEEDED),
        (second_top_up.pk, 2000, Refund.Destination.ORIGINAL, Refund.Status.SUCCEEDED),
    ]
    first_top_up.refresh_from_db()
    second_top_up.refresh_from_db()
    assert (first_top_up.refunded_amount, first_top_up.status) == (3000, AttemptStatus.REFUNDED)
    assert (second_top_up.refunded_amount, second_top_up.status) == (
        2000,
        AttemptStatus.REFUNDED,
    )
    assert [
        (r.charge.reference, r.amount, r.status)
        for r in SimulatedRefund.objects.order_by("created_at", "id")
    ] == [
        (purchase.provider_reference, 2400, "succeeded"),
        (first_top_up.provider_reference, 3000, "succeeded"),
        (second_top_up.provider_reference, 2000, "succeeded"),
    ]
    assert [
        (c.amount, c.refunded) for c in SimulatedCharge.objects.order_by("created_at", "id")
    ] == [
        (3000, 3000),
        (2000, 2000),
        (2400, 2400),
    ]
    assert wallet_state(alice) == (
        0,
        0,
        [
            (WalletEntry.Kind.TOP_UP, 3000),
            (WalletEntry.Kind.TOP_UP, 2000),
            (WalletEntry.Kind.PAYMENT, -5000),
            (WalletEntry.Kind.REFUND, 5000),
            (WalletEntry.Kind.WITHDRAWAL, -3000),
            (WalletEntry.Kind.WITHDRAWAL, -2000),
        ],
    )
    assert Refund.objects.count() == 3

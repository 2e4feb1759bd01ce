"""More checkout journeys in a real browser: what happens at the moment a payment fails and
after it, the redirect methods, a provider that does not answer in time, a second tab, the
whole journey in Chinese, and no third-party requests in simulator mode.

Each journey asserts what the customer sees and what the database holds. A few of them also
write the screenshots used by docs/checkout.md (into docs/img/), so a CI run regenerates them.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.utils import translation
from playwright.sync_api import Page, expect

from checkout.forms import CheckoutForm
from checkout.models import Order, OrderStatus
from payments.gateways import simulator
from payments.models import AttemptStatus, PaymentAttempt, SimulatedCharge, Wallet, WalletEntry

pytestmark = pytest.mark.browser

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
SCREENSHOT_VIEWPORT = {"width": 1280, "height": 900}

DETAILS = {
    "Email address": "dana@example.com",
    "Full name": "Dana Buyer",
    "Billing address": "1 Harbour Street",
    "City": "Wellington",
    "Country or region": "New Zealand",
}
GOOD_CARD = "4242 4242 4242 4242"
INSUFFICIENT_FUNDS_CARD = "4000 0000 0000 9995"
THREE_D_SECURE_CARD = "4000 0027 6000 3184"
ORDER_HEADING = re.compile(r"^Order CK-[A-Z0-9]{8}$")
ORDER_URL = re.compile(r"/orders/CK-[A-Z0-9]{8}/$")
SIMULATOR_URL = re.compile(r"/payments/simulator/[^/]+/$")

INSUFFICIENT_FUNDS = "The card does not have enough funds for this payment."
USE_ANOTHER = "Use another card or payment method."
PAID = "Paid — thank you!"


# --- helpers ---------------------------------------------------------------------------------


def add_mug_to_cart(page: Page, base_url: str) -> None:
    page.goto(base_url + "/")
    page.get_by_role("button", name="Add to cart").and_(
        page.locator("[aria-describedby='product-mug']")
    ).click()
    expect(page.get_by_text("Added to your cart.")).to_be_visible()


def open_checkout(page: Page, base_url: str) -> None:
    page.goto(base_url + "/checkout/")
    expect(page.get_by_role("heading", level=1, name="Checkout")).to_be_visible()
    expect(page.locator("#checkout-form")).to_be_visible()


def fill_details(page: Page, card: str, *, skip: tuple[str, ...] = ()) -> None:
    for label, value in DETAILS.items():
        if label not in skip:
            page.get_by_label(label, exact=True).fill(value)
    page.get_by_label("Card number").fill(card)


def pay(page: Page) -> None:
    page.get_by_role("button", name="Pay $12.00").click()


def expect_paid_status_page(page: Page) -> str:
    """The status page of a paid order; returns its order number."""
    expect(page).to_have_url(ORDER_URL)
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text(ORDER_HEADING)
    expect(page.locator("#order-status")).to_contain_text(PAID)
    return heading.inner_text().removeprefix("Order ").strip()


def expect_insufficient_funds_box(page: Page):
    box = page.locator("#payment-failure")
    expect(box).to_be_visible()
    expect(box).to_be_focused()
    expect(box).to_contain_text("Your payment did not go through")
    expect(box).to_contain_text(INSUFFICIENT_FUNDS)
    expect(box.locator(".guidance")).to_contain_text(USE_ANOTHER)
    # Still the checkout page, with everything typed kept except the card number.
    expect(page.get_by_role("heading", level=1, name="Checkout")).to_be_visible()
    expect(page.get_by_label("Full name", exact=True)).to_have_value(DETAILS["Full name"])
    expect(page.get_by_label("Card number")).to_have_value("")
    return box


def single_order() -> Order:
    assert Order.objects.count() == 1
    return Order.objects.get()


def attempts_of(order: Order) -> list[tuple[str, str]]:
    return [(a.method.code, a.status) for a in order.attempts.order_by("created_at", "id")]


def screenshot(page: Page, name: str) -> Path:
    """A full-page PNG for the docs, at 1280 px wide, written by the test itself."""
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    path = DOCS_IMG / name
    page.screenshot(path=str(path), full_page=True, animations="disabled", caret="hide")
    assert path.stat().st_size > 0
    return path


def sign_in(page: Page, client, base_url: str, user) -> None:
    """Sign the browser in with a test client's session (no password typing needed)."""
    client.force_login(user)
    session = client.cookies["sessionid"].value
    page.context.add_cookies([{"name": "sessionid", "value": session, "url": base_url}])


# --- 1. insufficient funds, guidance, another way ----------------------------------------------


def test_insufficient_funds_then_pay_with_alipay(live_shop, live_server, page: Page):
    page.set_viewport_size(SCREENSHOT_VIEWPORT)
    add_mug_to_cart(page, live_server.url)
    open_checkout(page, live_server.url)
    fill_details(page, INSUFFICIENT_FUNDS_CARD)
    pay(page)

    box = expect_insufficient_funds_box(page)
    screenshot(page, "checkout-failure-fallback.png")
    order = single_order()
    assert order.status == OrderStatus.PENDING
    assert attempts_of(order) == [("card", AttemptStatus.FAILED)]
    assert order.attempts.get().decline_code == "insufficient_funds"

    box.get_by_role("button", name="Pay with Alipay").click()
    expect(page).to_have_url(SIMULATOR_URL)
    expect(page.get_by_role("heading", level=1)).to_have_text("Approve the payment in Alipay")
    page.get_by_role("button", name="Approve", exact=True).click()

    number = expect_paid_status_page(page)
    expect(page.locator("#order-status")).to_contain_text(
        f"A receipt is on its way to {DETAILS['Email address']}."
    )
    screenshot(page, "checkout-success.png")
    order = single_order()
    assert order.number == number
    assert order.status == OrderStatus.PAID
    assert order.total == 1200
    assert attempts_of(order) == [
        ("card", AttemptStatus.FAILED),
        ("alipay", AttemptStatus.SUCCEEDED),
    ]


# --- 2. insufficient funds, then the wallet ---------------------------------------------------


def test_insufficient_funds_then_pay_with_wallet(live_shop, live_server, page: Page, client):
    from payments.services import wallet_move
    from tests.factories import UserFactory

    buyer = UserFactory(email=DETAILS["Email address"], full_name=DETAILS["Full name"])
    wallet_move(
        user=buyer, currency="USD", amount=5000, kind="adjustment", actor="test", reference="seed"
    )
    sign_in(page, client, live_server.url, buyer)

    add_mug_to_cart(page, live_server.url)
    open_checkout(page, live_server.url)
    # Signed in: the contact details are already filled in, and the wallet shows its balance.
    expect(page.get_by_label("Email address", exact=True)).to_have_value(DETAILS["Email address"])
    expect(page.get_by_label("Full name", exact=True)).to_have_value(DETAILS["Full name"])
    expect(page.locator(".method-list")).to_contain_text("Balance: $50.00")
    fill_details(page, INSUFFICIENT_FUNDS_CARD, skip=("Email address", "Full name"))
    pay(page)

    box = expect_insufficient_funds_box(page)
    assert Wallet.objects.get(user=buyer).balance == 5000
    box.get_by_role("button", name="Pay with Wallet").click()

    number = expect_paid_status_page(page)
    order = single_order()
    assert order.number == number
    assert order.status == OrderStatus.PAID
    assert order.user == buyer
    assert attempts_of(order) == [
        ("card", AttemptStatus.FAILED),
        ("wallet", AttemptStatus.SUCCEEDED),
    ]
    wallet = Wallet.objects.get(user=buyer, currency="USD")
    assert wallet.balance == 5000 - 1200
    assert [(e.kind, e.amount) for e in wallet.entries.order_by("created_at", "id")] == [
        (WalletEntry.Kind.ADJUSTMENT, 5000),
        (WalletEntry.Kind.PAYMENT, -1200),
    ]


# --- 3. 3-D Secure abandoned ------------------------------------------------------------------


def test_three_d_secure_abandoned_then_back_to_checkout(live_shop, live_server, page: Page):
    add_mug_to_cart(page, live_server.url)
    open_checkout(page, live_server.url)
    fill_details(page, THREE_D_SECURE_CARD)
    pay(page)

    expect(page).to_have_url(SIMULATOR_URL)
    expect(page.get_by_role("heading", level=1)).to_have_text("Verify this payment with your bank")
    page.get_by_role("button", name="Cancel and go back").click()

    expect(page).to_have_url(ORDER_URL)
    status = page.locator("#order-status")
    expect(status).to_contain_text("Your payment did not go through")
    expect(status).to_contain_text("The payment was not completed, so you were not charged.")
    order = single_order()
    assert order.status == OrderStatus.PENDING
    attempt = order.attempts.get()
    assert attempt.status == AttemptStatus.FAILED
    assert attempt.failure_code == "action_abandoned"
    assert SimulatedCharge.objects.get().status == "failed"

    status.get_by_role("button", name="Back to checkout").click()
    expect(page).to_have_url(live_server.url + "/checkout/")
    expect(page.get_by_role("heading", level=1, name="Checkout")).to_be_visible()
    for label, value in DETAILS.items():
        expect(page.get_by_label(label, exact=True)).to_have_value(value)
    expect(page.get_by_label("Card number")).to_have_value("")
    expect(page.locator(".summary-lines")).to_contain_text("1 × Mug")

    # Paying from there pays the same order: no second order is made.
    page.get_by_label("Card number").fill(GOOD_CARD)
    pay(page)
    number = expect_paid_status_page(page)
    order = single_order()
    assert order.number == number
    assert order.status == OrderStatus.PAID
    assert attempts_of(order) == [("card", AttemptStatus.FAILED), ("card", AttemptStatus.SUCCEEDED)]


# --- 4. Alipay: approve, decline --------------------------------------------------------------


@pytest.mark.parametrize("decision", ["Approve", "Decline"])
def test_alipay(live_shop, live_server, page: Page, decision: str):
    add_mug_to_cart(page, live_server.url)
    open_checkout(page, live_server.url)
    page.get_by_label("Alipay", exact=True).check()
    fill_details(page, "")
    pay(page)

    expect(page).to_have_url(SIMULATOR_URL)
    expect(page.get_by_role("heading", level=1)).to_have_text("Approve the payment in Alipay")
    expect(page.locator(".amount")).to_have_text("$12.00")
    attempt = PaymentAttempt.objects.get()
    assert (attempt.method.code, attempt.status) == ("alipay", AttemptStatus.REQUIRES_ACTION)
    page.get_by_role("button", name=decision, exact=True).click()

    expect(page).to_have_url(ORDER_URL)
    status = page.locator("#order-status")
    order = single_order()
    attempt = order.attempts.get()
    if decision == "Approve":
        expect(status).to_contain_text(PAID)
        assert order.status == OrderStatus.PAID
        assert attempt.status == AttemptStatus.SUCCEEDED
        assert SimulatedCharge.objects.get().status == "succeeded"
    else:
        expect(status).to_contain_text("Your payment did not go through")
        expect(status).to_contain_text(
            "The verification with your bank was not completed, so you were not charged."
        )
        expect(status.get_by_role("button", name="Back to checkout")).to_be_visible()
        assert order.status == OrderStatus.PENDING
        assert attempt.status == AttemptStatus.FAILED
        assert attempt.failure_code == "authentication_failed"
        assert SimulatedCharge.objects.get().status == "failed"


# --- 5. provider timeout, confirming, settles by itself ---------------------------------------


def test_provider_timeout_confirms_then_updates_by_itself(
    live_shop, live_server, page: Page, monkeypatch
):
    # Tasks run eagerly in tests: hold the simulator's callback back, so the provider has not
    # answered yet when the customer lands on the status page.
    monkeypatch.setattr(simulator, "_schedule_settle", lambda charge: None)
    page.set_viewport_size(SCREENSHOT_VIEWPORT)
    add_mug_to_cart(page, live_server.url)
    open_checkout(page, live_server.url)
    fill_details(page, "pm_sim_timeout_then_succeeded")
    pay(page)

    expect(page).to_have_url(ORDER_URL)
    status = page.locator("#order-status")
    expect(status).to_contain_text("We are confirming your payment")
    expect(status).to_contain_text("you will not be charged twice")
    screenshot(page, "checkout-confirming.png")
    order = single_order()
    assert order.status == OrderStatus.PENDING
    attempt = order.attempts.get()
    assert attempt.status == AttemptStatus.UNKNOWN
    charge = SimulatedCharge.objects.get()  # The provider did take it: we just did not hear.

    # The provider now tells us, as its webhook would.
    simulator.simulator_settle(charge.reference)
    attempt.refresh_from_db()
    assert attempt.status == AttemptStatus.SUCCEEDED
    assert single_order().status == OrderStatus.PAID

    # No websocket on the live server: order_status.js falls back to reloading every 5 s.
    expect(status).to_contain_text(PAID, timeout=15000)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Order {order.number}")
    assert SimulatedCharge.objects.count() == 1
    assert PaymentAttempt.objects.count() == 1


# --- 6. a second tab --------------------------------------------------------------------------


def test_second_tab_does_not_charge_again(live_shop, live_server, page: Page):
    add_mug_to_cart(page, live_server.url)
    tab1 = page
    tab2 = page.context.new_page()
    open_checkout(tab1, live_server.url)
    open_checkout(tab2, live_server.url)
    fill_details(tab1, GOOD_CARD)
    fill_details(tab2, GOOD_CARD)

    pay(tab1)
    number = expect_paid_status_page(tab1)
    assert SimulatedCharge.objects.count() == 1

    errors: list[str] = []
    tab2.on(
        "response",
        lambda r: (
            errors.append(f"{r.status} {r.url}")
            if r.request.is_navigation_request() and r.status >= 400
            else None
        ),
    )
    pay(tab2)
    # Tab 2 lands on a page that explains itself, never on an error and never a second charge.
    expect(tab2).to_have_url(f"{live_server.url}/orders/{number}/")
    expect(tab2.locator("#order-status")).to_contain_text(PAID)
    expect(tab2.locator(".messages")).to_contain_text("This order is already paid. Here it is.")
    assert errors == []
    assert SimulatedCharge.objects.count() == 1
    assert PaymentAttempt.objects.count() == 1
    order = single_order()
    assert (order.number, order.status) == (number, OrderStatus.PAID)
    assert Order.objects.filter(status=OrderStatus.PAID).count() == 1


# --- 7. the whole journey in Chinese ----------------------------------------------------------


def test_success_journey_in_chinese(live_shop, live_server, page: Page):
    with translation.override("zh-hans"):
        labels = {
            name: str(CheckoutForm.base_fields[name].label)
            for name in ["email", "full_name", "address_line1", "city", "country", "payment_method"]
        }
        pay_button = translation.gettext("Pay %(amount)s") % {"amount": "US$12.00"}
        paid_text = translation.gettext(PAID)
    assert paid_text != PAID and labels["email"] != "Email address"  # really translated

    add_mug_to_cart(page, live_server.url)
    page.get_by_label("Language").select_option("zh-hans")
    page.get_by_role("button", name="Change").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    page.goto(live_server.url + "/checkout/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")

    fields = ["email", "full_name", "address_line1", "city", "country"]
    for name, value in zip(fields, DETAILS.values(), strict=True):
        page.get_by_label(labels[name], exact=True).fill(value)
    page.get_by_label(labels["payment_method"]).fill(GOOD_CARD)
    page.get_by_role("button", name=pay_button, exact=True).click()

    expect(page).to_have_url(ORDER_URL)
    expect(page.locator("#order-status")).to_contain_text(paid_text)
    expect(page.locator("table.lines")).to_contain_text("US$12.00")
    order = single_order()
    assert order.status == OrderStatus.PAID
    assert order.language == "zh-hans"
    assert order.total == 1200
    assert attempts_of(order) == [("card", AttemptStatus.SUCCEEDED)]


# --- 8. no third-party requests ---------------------------------------------------------------


def test_no_third_party_requests_in_simulator_mode(live_shop, live_server, page: Page):
    requests: list[str] = []
    page.context.on("request", lambda r: requests.append(r.url))

    add_mug_to_cart(page, live_server.url)
    open_checkout(page, live_server.url)
    fill_details(page, GOOD_CARD)
    pay(page)
    expect_paid_status_page(page)
    assert single_order().status == OrderStatus.PAID

    here = urlsplit(live_server.url)
    assert live_server.url + "/checkout/" in requests
    assert any("/static/" in url for url in requests)  # the page's own CSS and JS
    elsewhere = [
        url for url in requests if (urlsplit(url).scheme, urlsplit(url).netloc) != here[:2]
    ]
    assert elsewhere == [], f"requests left the shop's host: {elsewhere}"

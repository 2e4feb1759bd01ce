"""The checkout journeys a customer walks, in a real browser: pay, be declined and retry,
fix a validation error, pass 3-D Secure, switch language, press Pay twice, and do it all
without JavaScript."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from checkout.models import Order, OrderStatus
from payments.models import AttemptStatus, PaymentAttempt, SimulatedCharge

pytestmark = pytest.mark.browser

DETAILS = {
    "Email address": "dana@example.com",
    "Full name": "Dana Buyer",
    "Billing address": "1 Harbour Street",
    "City": "Wellington",
    "Country or region": "New Zealand",
}
ORDER_HEADING = re.compile(r"^Order CK-[A-Z0-9]{8}$")


# --- helpers ---------------------------------------------------------------------------------


def add_mug_and_checkout(page: Page, base_url: str) -> None:
    page.goto(base_url + "/")
    page.get_by_role("button", name="Add to cart").and_(
        page.locator("[aria-describedby='product-mug']")
    ).click()
    expect(page.get_by_text("Added to your cart.")).to_be_visible()
    page.get_by_role("link", name=re.compile(r"^Cart\b")).click()
    expect(page.get_by_role("heading", name="Your cart")).to_be_visible()
    page.get_by_role("link", name="Go to checkout").click()
    expect(page.get_by_role("heading", level=1, name="Checkout")).to_be_visible()
    expect(page).to_have_url(base_url + "/checkout/")


def card_field(page: Page):
    return page.get_by_label("Card number")


def fill_details(page: Page, card: str, **overrides: str) -> None:
    for label, value in (DETAILS | overrides).items():
        page.get_by_label(label, exact=True).fill(value)
    card_field(page).fill(card)


def pay(page: Page) -> None:
    page.get_by_role("button", name="Pay $12.00").click()


def expect_paid_status_page(page: Page) -> str:
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text(ORDER_HEADING)
    expect(page.locator("#order-status")).to_contain_text("Paid — thank you!")
    return heading.inner_text().removeprefix("Order ").strip()


def assert_single_paid_order(number: str) -> Order:
    assert Order.objects.count() == 1
    order = Order.objects.get()
    assert order.number == number
    assert order.status == OrderStatus.PAID
    assert order.email == DETAILS["Email address"]
    assert order.total == 1200
    return order


# --- journeys --------------------------------------------------------------------------------


def test_pay_by_card_succeeds(live_shop, live_server, page: Page):
    add_mug_and_checkout(page, live_server.url)
    fill_details(page, "4242 4242 4242 4242")
    pay(page)

    number = expect_paid_status_page(page)
    order = assert_single_paid_order(number)
    attempts = list(order.attempts.all())
    assert [a.status for a in attempts] == [AttemptStatus.SUCCEEDED]
    assert SimulatedCharge.objects.count() == 1


def test_declined_card_keeps_details_then_retry_pays_same_order(live_shop, live_server, page: Page):
    add_mug_and_checkout(page, live_server.url)
    fill_details(page, "4000 0000 0000 9995")
    pay(page)

    failure = page.locator("#payment-failure")
    expect(failure).to_be_visible()
    expect(failure).to_have_attribute("role", "alert")
    expect(failure).to_contain_text("The card does not have enough funds for this payment.")
    expect(failure).to_be_focused()
    assert page.evaluate("document.activeElement.id") == "payment-failure"
    # Still the checkout page, everything typed still there, the card number never echoed.
    expect(page.get_by_role("heading", level=1, name="Checkout")).to_be_visible()
    for label, value in DETAILS.items():
        expect(page.get_by_label(label, exact=True)).to_have_value(value)
    expect(card_field(page)).to_have_value("")
    assert "9995" not in page.content()

    card_field(page).fill("4242424242424242")
    pay(page)

    number = expect_paid_status_page(page)
    order = assert_single_paid_order(number)
    statuses = sorted(a.status for a in PaymentAttempt.objects.filter(order=order))
    assert statuses == sorted([AttemptStatus.FAILED, AttemptStatus.SUCCEEDED])
    assert PaymentAttempt.objects.count() == 2


def test_missing_email_shows_focused_error_summary_and_keeps_fields(
    live_shop, live_server, page: Page
):
    add_mug_and_checkout(page, live_server.url)
    fill_details(page, "4242 4242 4242 4242", **{"Email address": ""})
    pay(page)

    summary = page.get_by_role("alert")
    expect(summary).to_have_attribute("id", "error-summary")
    expect(summary).to_contain_text("Please check these details")
    expect(summary).to_be_focused()
    link = summary.get_by_role("link", name=re.compile("Email address"))
    expect(link).to_have_attribute("href", "#id_email")
    expect(link).to_contain_text("Enter your email address so we can send the receipt.")

    email = page.get_by_label("Email address", exact=True)
    expect(email).to_have_attribute("aria-invalid", "true")
    for label, value in DETAILS.items():
        if label != "Email address":
            expect(page.get_by_label(label, exact=True)).to_have_value(value)
    expect(card_field(page)).to_have_value("")

    # The summary's link takes keyboard users straight to the field.
    link.click()
    expect(email).to_be_focused()
    assert Order.objects.count() == 0
    assert SimulatedCharge.objects.count() == 0


def test_three_d_secure_approve_pays(live_shop, live_server, page: Page):
    add_mug_and_checkout(page, live_server.url)
    fill_details(page, "4000 0027 6000 3184")
    pay(page)

    expect(page.get_by_role("heading", level=1)).to_have_text("Verify this payment with your bank")
    expect(page).to_have_url(re.compile(r"/payments/simulator/[^/]+/$"))
    assert Order.objects.get().status == OrderStatus.PENDING
    page.get_by_role("button", name="Approve").click()

    number = expect_paid_status_page(page)
    order = assert_single_paid_order(number)
    assert [a.status for a in order.attempts.all()] == [AttemptStatus.SUCCEEDED]


def test_language_switcher_sets_html_lang(live_shop, live_server, page: Page):
    page.goto(live_server.url + "/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_label("Language").select_option(label="简体中文")
    page.get_by_role("button", name="Change").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page).to_have_url(live_server.url + "/")
    # The choice sticks for the next page too.
    page.goto(live_server.url + "/cart/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")


def test_double_press_charges_once(live_shop, live_server, page: Page):
    add_mug_and_checkout(page, live_server.url)
    fill_details(page, "4242 4242 4242 4242")
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)

    # Press Pay, press it again, then submit once more the way the Enter key would, all before
    # the browser can leave the page: once the POST is on its way, neither Playwright nor CDP
    # gets to run script in the page until the answer arrives, so all presses go in one task.
    # A listener added after the page's own records whether each submission was let through.
    state = page.get_by_role("button", name="Pay $12.00").evaluate(
        """button => {
            const form = button.form;
            const prevented = [];
            form.addEventListener("submit", e => prevented.push(e.defaultPrevented));
            button.click();
            const after = {text: button.textContent.trim(),
                           ariaDisabled: button.getAttribute("aria-disabled")};
            button.click();
            form.requestSubmit();
            return {after, prevented};
        }"""
    )
    assert state["after"] == {"text": "Confirming your payment…", "ariaDisabled": "true"}
    assert state["prevented"] == [False, True, True], "checkout.js let a second submission through"

    number = expect_paid_status_page(page)
    assert posts == [live_server.url + "/checkout/"]
    assert_single_paid_order(number)
    assert SimulatedCharge.objects.count() == 1
    assert PaymentAttempt.objects.count() == 1


def test_checkout_works_without_javascript(live_shop, live_server, new_context):
    context = new_context(java_script_enabled=False)
    page = context.new_page()
    add_mug_and_checkout(page, live_server.url)
    fill_details(page, "4242 4242 4242 4242")
    pay(page)

    number = expect_paid_status_page(page)
    assert_single_paid_order(number)
    assert SimulatedCharge.objects.count() == 1


def test_inline_hints_help_while_typing_and_never_block(live_shop, live_server, page: Page):
    add_mug_and_checkout(page, live_server.url)
    email = page.get_by_label("Email address", exact=True)
    email.fill("dana@")
    page.get_by_label("Full name", exact=True).focus()  # leave the field
    hint = page.locator("#id_email-error")
    expect(hint).to_have_text("Enter an email address like name@example.com.")
    expect(email).to_have_attribute("aria-invalid", "true")
    assert "id_email-error" in email.get_attribute("aria-describedby")
    email.fill("dana@example.com")
    page.get_by_label("Full name", exact=True).focus()
    expect(hint).to_have_count(0)
    # Leaving a required field empty hints too, but Pay still reaches the server.
    city = page.get_by_label("City", exact=True)
    city.focus()
    page.get_by_label("Billing address", exact=True).focus()
    expect(page.locator("#id_city-error")).to_have_text("Enter your city.")
    fill_details(page, "4242 4242 4242 4242", **{"City": ""})
    pay(page)
    expect(page.locator("#error-summary")).to_contain_text("Enter your city.")


def test_failure_box_offers_another_way_and_it_pays(live_shop, live_server, page: Page):
    add_mug_and_checkout(page, live_server.url)
    fill_details(page, "4000 0000 0000 0002")
    pay(page)
    box = page.locator("#payment-failure")
    expect(box).to_contain_text("Your bank did not approve this payment.")
    box.get_by_role("button", name="Pay with WeChat Pay").click()
    expect(page.get_by_role("heading", name="Scan the QR code with WeChat Pay")).to_be_visible()
    page.get_by_role("button", name="Approve").click()
    number = expect_paid_status_page(page)
    order = assert_single_paid_order(number)
    assert [a.method.code for a in order.attempts.order_by("created_at")] == ["card", "wechat_pay"]

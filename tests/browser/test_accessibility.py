"""Automated accessibility checks: axe-core, run inside Chromium, finds no WCAG 2.0, 2.1 or 2.2
level A or AA violation on any page a customer sees, in each state that page can be in.

axe-core is the copy bundled with the locked `axe_playwright_python` package: only its
`axe.min.js` is used (injected into the page and run with `axe.run`), never the package's Python
wrappers. The rule set is exactly the WCAG A/AA tags below; no rule is disabled.

A failing test's message lists, for every violation, the rule id, its impact, what it asks for,
axe's explanation and the first offending elements (their selector and HTML), which is enough to
find and fix the template without re-running anything.

Automated checks find only part of the problems; the keyboard test below covers one thing they
cannot (the skip link moves focus to the main content).
"""

from __future__ import annotations

import importlib.resources
import re
from functools import cache

import pytest
from django.utils import translation
from playwright.sync_api import Page, WebSocketRoute, expect

from checkout.forms import CheckoutForm
from payments.gateways import simulator
from payments.models import AttemptStatus, PaymentAttempt

pytestmark = pytest.mark.browser

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
NODES_SHOWN = 3

# Checkout form fields by name; their visible labels come from the form in the page's language.
DETAILS = {
    "email": "dana@example.com",
    "full_name": "Dana Buyer",
    "address_line1": "1 Harbour Street",
    "city": "Wellington",
    "country": "New Zealand",
}
LANGUAGES = ["en", "zh-hans"]

DECLINED_CARD = "4000 0000 0000 9995"
THREE_D_SECURE_CARD = "4000 0027 6000 3184"
GOOD_CARD = "4242 4242 4242 4242"


# --- axe-core ---------------------------------------------------------------------------------


@cache
def axe_source() -> str:
    return importlib.resources.files("axe_playwright_python").joinpath("axe.min.js").read_text()


def run_axe(page: Page) -> dict:
    """axe.run on the whole document with the WCAG A/AA rules; returns axe's results object."""
    page.wait_for_load_state("load")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Evaluated through DevTools, as axe-playwright-python does: an inline <script> tag
        # would be refused by the page's Content-Security-Policy, as it should be.
        page.evaluate(axe_source())
    results = page.evaluate(
        """tags => axe.run(document, {
            runOnly: {type: "tag", values: tags},
            resultTypes: ["violations"],
        })""",
        WCAG_TAGS,
    )
    # A run in which no rule applied would pass vacuously (a wrong tag, an empty page).
    assert results["passes"], f"axe-core checked nothing on {page.url}"
    return results


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_violations(results: dict, where: str) -> str:
    violations = results["violations"]
    lines = [
        f"{len(violations)} axe-core {results['testEngine']['version']} WCAG A/AA violation(s) "
        f"on {where} ({results['url']}):"
    ]
    for v in violations:
        nodes = v["nodes"]
        lines.append("")
        lines.append(f"* {v['id']} [{v['impact']}] {v['help']}")
        lines.append(f"  tags: {', '.join(t for t in v['tags'] if t.startswith('wcag'))}")
        lines.append(f"  more: {v['helpUrl']}")
        lines.append(f"  {len(nodes)} element(s); the first {min(len(nodes), NODES_SHOWN)}:")
        for node in nodes[:NODES_SHOWN]:
            lines.append(f"    - target: {' '.join(map(str, node['target']))}")
            lines.append(f"      html:   {_one_line(node['html'])}")
            if node.get("failureSummary"):
                # "Fix any of the following:\n  reason\n  reason" -> one line, reasons apart.
                parts = [p.strip() for p in node["failureSummary"].splitlines() if p.strip()]
                why = parts[0] + " " + "; ".join(parts[1:]) if len(parts) > 1 else parts[0]
                lines.append(f"      why:    {_one_line(why, 600)}")
    return "\n".join(lines)


def duplicate_ids(page: Page) -> dict[str, int]:
    """Ids used more than once in the page, with their counts. Checked in the DOM itself: axe's
    duplicate-id rules are not in the WCAG 2.2 tags run above (WCAG 2.2 dropped 4.1.1), yet a
    second id="id_message" makes a <label for> name the wrong box."""
    return page.evaluate(
        """() => {
            const seen = {};
            for (const el of document.querySelectorAll("[id]")) {
                seen[el.id] = (seen[el.id] || 0) + 1;
            }
            return Object.fromEntries(Object.entries(seen).filter(([, n]) => n > 1));
        }"""
    )


def assert_no_violations(page: Page, where: str) -> None:
    results = run_axe(page)
    assert not results["violations"], describe_violations(results, where)
    repeated = duplicate_ids(page)
    assert not repeated, f"ids used more than once on {where} ({page.url}): {repeated}"


def test_axe_reports_what_it_finds(page: Page):
    """The harness itself: a page with known faults fails, and the message names each fault
    with the offending element."""
    page.set_content(
        "<html><head><title>Faulty</title></head><body><main>"
        '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">'
        '<input type="text" name="q">'
        "</main></body></html>"
    )
    results = run_axe(page)
    ids = {v["id"] for v in results["violations"]}
    assert {"html-has-lang", "image-alt", "label"} <= ids
    message = describe_violations(results, "a faulty page")
    assert "* image-alt [critical] Images must have alternative text" in message
    assert '<input type="text" name="q">' in message


def test_a_repeated_id_fails_the_check(page: Page):
    page.set_content(
        '<html lang="en"><head><title>Twice</title></head><body><main><h1>Twice</h1>'
        '<label for="id_message">One</label><textarea id="id_message"></textarea>'
        '<label for="id_message">Two</label><textarea id="id_message"></textarea>'
        "</main></body></html>"
    )
    with pytest.raises(AssertionError, match=r"ids used more than once.*'id_message': 2"):
        assert_no_violations(page, "a page with a repeated id")


# --- the shop, in a given language ------------------------------------------------------------


class Labels:
    """The checkout form's visible texts in one language, read from the form and the catalogue
    of translations, so the same steps drive the English and the Chinese page."""

    def __init__(self, language: str) -> None:
        with translation.override(language):
            self.field = {
                name: str(CheckoutForm.base_fields[name].label)
                for name in [*DETAILS, "payment_method"]
            }
            pay = translation.gettext("Pay %(amount)s").split("%(amount)s")[0]
        self.pay = re.compile("^" + re.escape(pay))

    def label(self, page: Page, name: str):
        # The card field is optional, so its label reads "Card number (optional)".
        return page.get_by_label(self.field[name], exact=name != "payment_method")


def add_mug_to_cart(page: Page, base_url: str) -> None:
    page.goto(base_url + "/")
    page.get_by_role("button", name="Add to cart").and_(
        page.locator("[aria-describedby='product-mug']")
    ).click()
    expect(page.get_by_text("Added to your cart.")).to_be_visible()


def switch_language(page: Page, language: str) -> None:
    """Through the header's switcher, as a customer would (the choice then sticks)."""
    if language == "en":
        return
    page.get_by_label("Language").select_option(language)
    page.get_by_role("button", name="Change").click()
    expect(page.locator("html")).to_have_attribute("lang", language)


def open_checkout(page: Page, base_url: str, language: str = "en") -> Labels:
    add_mug_to_cart(page, base_url)
    switch_language(page, language)
    page.goto(base_url + "/checkout/")
    expect(page.locator("html")).to_have_attribute("lang", language)
    expect(page.locator("#checkout-form")).to_be_visible()
    return Labels(language)


def fill_and_pay(page: Page, labels: Labels, card: str, **overrides: str) -> None:
    for name, value in (DETAILS | overrides).items():
        labels.label(page, name).fill(value)
    labels.label(page, "payment_method").fill(card)
    page.get_by_role("button", name=labels.pay).click()


def pay_with_card(page: Page, base_url: str, card: str) -> None:
    labels = open_checkout(page, base_url)
    fill_and_pay(page, labels, card)


def keep_live_status_socket_open(page: Page) -> None:
    """The live server speaks HTTP only, so order_status.js's websocket would fail and the page
    would fall back to reloading itself every 5 s, possibly in the middle of axe's run. Answer
    the socket from the test instead (it stays open and silent, as it would in production while
    the payment is still being confirmed), so the page stays still while it is checked."""

    def accept(ws: WebSocketRoute) -> None:
        pass  # Not connected to the server: Playwright keeps the socket open, mocked.

    page.route_web_socket(re.compile(r"/ws/orders/"), accept)


# --- pages ------------------------------------------------------------------------------------


def test_product_list(live_shop, live_server, page: Page):
    page.goto(live_server.url + "/")
    expect(page.get_by_role("heading", level=1, name="Products")).to_be_visible()
    assert_no_violations(page, "the product list")


def test_cart_with_one_item(live_shop, live_server, page: Page):
    add_mug_to_cart(page, live_server.url)
    page.goto(live_server.url + "/cart/")
    expect(page.get_by_role("heading", level=1, name="Your cart")).to_be_visible()
    expect(page.get_by_role("rowheader", name="Mug")).to_be_visible()
    assert_no_violations(page, "the cart with one item")


@pytest.mark.parametrize("language", LANGUAGES)
def test_checkout_fresh(live_shop, live_server, page: Page, language: str):
    open_checkout(page, live_server.url, language)
    assert_no_violations(page, f"the fresh checkout page [{language}]")


@pytest.mark.parametrize("language", LANGUAGES)
def test_checkout_error_summary(live_shop, live_server, page: Page, language: str):
    labels = open_checkout(page, live_server.url, language)
    fill_and_pay(page, labels, GOOD_CARD, email="")

    summary = page.locator("#error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()
    expect(labels.label(page, "email")).to_have_attribute("aria-invalid", "true")
    assert_no_violations(page, f"the checkout page with an error summary [{language}]")


@pytest.mark.parametrize("language", LANGUAGES)
def test_checkout_declined_payment(live_shop, live_server, page: Page, language: str):
    labels = open_checkout(page, live_server.url, language)
    fill_and_pay(page, labels, DECLINED_CARD)

    failure = page.locator("#payment-failure")
    expect(failure).to_be_visible()
    expect(failure).to_be_focused()
    expect(page.locator("html")).to_have_attribute("lang", language)
    assert_no_violations(page, f"the checkout page after a declined payment [{language}]")


def test_checkout_paused_by_the_security_check(live_shop, live_server, page: Page, settings):
    """No method is offered: the box says until when and offers a review, the form has no
    radio buttons and no Pay button."""
    settings.RISK_FAILURE_STREAK = 1
    labels = open_checkout(page, live_server.url)
    fill_and_pay(page, labels, DECLINED_CARD)

    failure = page.locator("#payment-failure")
    expect(failure).to_be_focused()
    expect(failure).to_contain_text("new payments with your email address are paused until")
    expect(failure.get_by_role("link", name="Ask us to review it")).to_be_visible()
    expect(page.get_by_role("radio")).to_have_count(0)
    assert_no_violations(page, "the checkout page while payments are paused")


def test_three_d_secure_simulator(live_shop, live_server, page: Page):
    pay_with_card(page, live_server.url, THREE_D_SECURE_CARD)

    expect(page).to_have_url(re.compile(r"/payments/simulator/[^/]+/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Verify this payment with your bank")
    assert_no_violations(page, "the simulator's 3-D Secure page")


def test_alipay_simulator(live_shop, live_server, page: Page):
    labels = open_checkout(page, live_server.url)
    page.get_by_label("Alipay", exact=True).check()
    fill_and_pay(page, labels, "")

    expect(page).to_have_url(re.compile(r"/payments/simulator/[^/]+/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Approve the payment in Alipay")
    assert_no_violations(page, "the simulator's Alipay page")


def test_order_status_paid(live_shop, live_server, page: Page):
    pay_with_card(page, live_server.url, GOOD_CARD)

    expect(page).to_have_url(re.compile(r"/orders/CK-[A-Z0-9]{8}/$"))
    expect(page.locator("#order-status")).to_contain_text("Paid — thank you!")
    assert_no_violations(page, "the status page of a paid order")


def test_order_status_confirming(live_shop, live_server, page: Page, monkeypatch):
    # Tasks run eagerly in tests, so the simulator would report the slow payment as settled
    # before the redirect. Hold its callback back (the provider has not answered yet) to see the
    # page a customer sees meanwhile.
    monkeypatch.setattr(simulator, "_schedule_settle", lambda charge: None)
    keep_live_status_socket_open(page)
    pay_with_card(page, live_server.url, "pm_sim_processing")

    expect(page).to_have_url(re.compile(r"/orders/CK-[A-Z0-9]{8}/$"))
    expect(page.locator("#order-status")).to_contain_text("We are confirming your payment")
    assert PaymentAttempt.objects.get().status == AttemptStatus.PROCESSING
    assert_no_violations(page, "the status page of an order whose payment is being confirmed")


def test_login_fresh(live_server, transactional_db, page: Page):
    page.goto(live_server.url + "/accounts/login/")
    expect(page.get_by_role("heading", level=1, name="Sign in")).to_be_visible()
    assert_no_violations(page, "the sign-in page")


def test_login_wrong_password(live_server, transactional_db, page: Page):
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Email address", exact=True).fill("nobody@example.com")
    page.get_by_label("Password", exact=True).fill("not-the-password")
    page.get_by_role("main").get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("alert")).to_contain_text("do not match an account")
    assert_no_violations(page, "the sign-in page after a wrong password")


@pytest.mark.parametrize("language", LANGUAGES)
def test_support_page_fresh_and_with_errors(live_server, transactional_db, page: Page, language):
    from support.seed import seed_support

    seed_support()
    page.goto(live_server.url + "/")
    switch_language(page, language)
    page.goto(live_server.url + "/support/?code=expired_card")
    expect(page.locator(".articles a").first).to_be_visible()  # the suggested article
    assert_no_violations(page, f"the support page ({language})")
    page.locator("form[action$='/tickets/new/'] button[type=submit]").click()
    expect(page.locator("#error-summary")).to_be_focused()
    assert_no_violations(page, f"the support page with errors ({language})")


def test_help_article_and_search(live_server, transactional_db, page: Page):
    from support.seed import seed_support

    seed_support()
    page.goto(live_server.url + "/support/help/?q=bank")
    expect(page.get_by_role("status")).to_contain_text("found")
    assert_no_violations(page, "the help search results")
    page.locator(".articles a").first.click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert_no_violations(page, "a help article")


@pytest.mark.parametrize("language", LANGUAGES)
def test_ticket_page_with_a_reply_and_the_rating(
    live_server, transactional_db, page: Page, language, bob
):
    from support import services

    ticket = services.ticket_open(
        email="dana@example.com", subject="Card declined", body="Why?", language=language
    )
    services.ticket_agent_reply(ticket=ticket, agent=bob, body="Ask your bank, please.")
    services.ticket_set_status(ticket=ticket, actor=bob, status="resolved")
    page.goto(live_server.url + "/")
    switch_language(page, language)
    page.goto(f"{live_server.url}/support/tickets/{ticket.number}/?key={ticket.access_key}")
    expect(page.get_by_text("Ask your bank, please.")).to_be_visible()
    expect(page.locator("#rate")).to_be_visible()
    assert_no_violations(page, f"a resolved ticket with its rating form ({language})")
    page.locator("form:not([action]) button[type=submit]").click()  # an empty reply
    expect(page.locator("#error-summary")).to_be_focused()
    assert_no_violations(page, f"a ticket reply with errors ({language})")


def test_closed_ticket_page(live_server, transactional_db, page: Page, bob):
    from support import services

    ticket = services.ticket_open(email="dana@example.com", subject="Refund", body="Where?")
    services.ticket_set_status(ticket=ticket, actor=bob, status="closed")
    page.goto(f"{live_server.url}/support/tickets/{ticket.number}/?key={ticket.access_key}")
    expect(page.get_by_role("heading", name="This request is closed")).to_be_visible()
    expect(page.get_by_role("link", name="Open a new request")).to_be_visible()
    assert_no_violations(page, "a closed ticket, which offers a new request instead of a reply")


def test_wallet_top_up_and_its_failure(live_shop, live_server, page: Page, client):
    from tests.factories import UserFactory

    buyer = UserFactory(email="wallet-buyer@example.com")
    client.force_login(buyer)
    session = client.cookies["sessionid"].value
    page.context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])
    page.goto(live_server.url + "/wallet/top-up/")
    expect(page.get_by_role("heading", level=1, name="Top up your wallet")).to_be_visible()
    assert_no_violations(page, "the wallet top-up page")
    page.get_by_label("Amount").fill("10")
    page.get_by_label("Card number").fill("4000 0000 0000 9995")
    page.get_by_role("button", name="Add to wallet").click()
    expect(page.locator("#payment-failure")).to_be_focused()
    assert_no_violations(page, "the wallet top-up page after a declined card")


@pytest.mark.parametrize(
    ("path", "heading"),
    [
        ("/accounts/register/", "Create an account"),
        ("/accounts/password-reset/", "Reset your password"),
    ],
)
def test_account_pages(live_server, transactional_db, page: Page, path: str, heading: str):
    page.goto(live_server.url + path)
    expect(page.get_by_role("heading", level=1, name=heading)).to_be_visible()
    assert_no_violations(page, f"the page {path}")
    page.get_by_role("main").get_by_role("button").first.click()  # submit it empty
    expect(page.locator("#error-summary")).to_be_focused()
    assert_no_violations(page, f"the page {path} with errors")


def test_account_overview(live_shop, live_server, page: Page, client):
    from tests.factories import OrderFactory, UserFactory

    buyer = UserFactory(email="overview@example.com")
    OrderFactory(user=buyer)
    client.force_login(buyer)
    session = client.cookies["sessionid"].value
    page.context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])
    page.goto(live_server.url + "/accounts/profile/")
    expect(page.get_by_role("heading", level=1, name="Your account")).to_be_visible()
    assert_no_violations(page, "the account page")


# --- keyboard ---------------------------------------------------------------------------------


def test_skip_link_is_first_and_moves_focus_to_main(live_shop, live_server, page: Page):
    open_checkout(page, live_server.url)  # Freshly loaded by a GET: nothing has focus yet.
    assert page.evaluate("document.activeElement === document.body")

    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()  # Shown when focused, not left off-screen.

    page.keyboard.press("Enter")
    expect(page.locator("#main")).to_be_focused()
    assert page.evaluate("document.activeElement.id") == "main"
    assert page.url.endswith("/checkout/#main")


@pytest.mark.parametrize("language", LANGUAGES)
def test_chat_page_while_waiting_with_its_leave_form(
    live_server, transactional_db, page: Page, monkeypatch, language
):
    """The chat's own box and the "leave us a message" box each have their own label."""
    from support import tasks as support_tasks

    # Eager Celery would run the accept-window timer at once and turn the chat away.
    monkeypatch.setattr(support_tasks.expire_conversation, "apply_async", lambda *a, **kw: None)
    page.goto(live_server.url + "/")
    switch_language(page, language)
    page.goto(live_server.url + "/support/chat/new/")
    with translation.override(language):
        email, help_, wait, anything, yours = (
            translation.gettext(text)
            for text in (
                "Email address",
                "How can we help?",
                "Wait for an agent anyway",
                "Anything to add?",
                "Your message",
            )
        )
    page.get_by_label(email).fill("waiting@example.com")
    page.get_by_label(help_).fill("Is my order paid?")
    page.get_by_role("button", name=wait).click()
    expect(page.locator("[data-chat-leave]")).to_be_visible()
    assert_no_violations(page, f"the chat page while waiting ({language})")
    # Each label names its own box: the leave form's, not the chat's.
    leave_box = page.get_by_label(anything)
    expect(leave_box).to_have_count(1)
    assert leave_box.evaluate("el => el.closest('[data-chat-leave]') !== null")
    chat_box = page.get_by_label(yours, exact=True)
    expect(chat_box).to_have_count(1)
    assert chat_box.evaluate("el => el.closest('[data-chat-leave]') === null")

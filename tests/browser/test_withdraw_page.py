"""Cashing out the wallet in a browser: the three steps read right, pass the WCAG A/AA checks,
and work with JavaScript switched off."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from payments.models import Withdrawal
from tests.payments.test_withdrawals import top_up

from .test_accessibility import assert_no_violations

pytestmark = pytest.mark.browser


def signed_in(page: Page, client, live_server, user) -> None:
    client.force_login(user)
    session = client.cookies["sessionid"].value
    page.context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])


@pytest.fixture
def funded(live_shop, shop, alice):
    top_up(alice, 3000, shop, days_ago=10)
    top_up(alice, 2000, shop, days_ago=5)
    top_up(alice, 1000, shop, days_ago=400)  # past the refund window: a ticket instead
    return alice


def test_withdraw_steps_are_accessible(funded, live_server, page: Page, client):
    signed_in(page, client, live_server, funded)
    page.goto(live_server.url + "/wallet/withdraw/")
    expect(page.get_by_role("heading", level=1, name="Withdraw from your wallet")).to_be_visible()
    expect(page.get_by_role("link", name="Ask our support team to pay this out")).to_be_visible()
    assert_no_violations(page, "the withdraw page")
    page.get_by_label("Amount to withdraw").fill("60")
    page.get_by_role("button", name="Review where it goes").click()
    expect(page.locator("#error-summary")).to_be_focused()
    expect(page.locator("#error-summary")).to_contain_text(
        "You can withdraw at most $50.00 right now."
    )
    assert_no_violations(page, "the withdraw page with an error")
    page.get_by_label("Amount to withdraw").fill("42")
    page.get_by_role("button", name="Review where it goes").click()
    parts = page.locator(".withdrawal-parts li")
    expect(parts).to_have_text(
        [
            "$30.00 to Visa ···4242, usually 5–10 business days",
            "$12.00 to Visa ···4242, usually 5–10 business days",
        ]
    )
    assert_no_violations(page, "the withdraw review step")
    page.get_by_role("button", name="Withdraw $42.00").click()
    expect(page).to_have_url(re.compile(r"/wallet/withdrawals/[0-9a-f-]{36}/$"))
    expect(page.get_by_role("table", name="Where each part goes").get_by_role("row")).to_have_count(
        3
    )
    assert_no_violations(page, "the withdrawal status page")


def test_withdraw_without_javascript(funded, live_server, browser: Browser, client):
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    signed_in(page, client, live_server, funded)
    page.goto("/wallet/withdraw/")
    page.get_by_label("Amount to withdraw").fill("10")
    page.get_by_role("button", name="Review where it goes").click()
    page.get_by_role("button", name="Withdraw $10.00").click()
    expect(page).to_have_url(re.compile(r"/wallet/withdrawals/[0-9a-f-]{36}/$"))
    assert Withdrawal.objects.get().amount == 1000
    context.close()

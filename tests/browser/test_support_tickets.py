"""A customer whose card was declined writes to support from the failure screen; an agent
answers from Django admin; the customer reads the answer on the ticket page."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from playwright.sync_api import Browser, Page, expect

from support.models import Ticket

from .test_accessibility import DECLINED_CARD, assert_no_violations, pay_with_card

pytestmark = pytest.mark.browser


def test_declined_customer_writes_and_the_agent_answers_from_admin(
    live_shop, live_server, page: Page, browser: Browser, bob
):
    bob.set_password("agent-pass-1234")
    bob.save()
    bob.user_permissions.add(*Permission.objects.filter(content_type__app_label="support"))

    pay_with_card(page, live_server.url, DECLINED_CARD)
    expect(page.locator("#payment-failure")).to_be_focused()
    page.get_by_role("link", name="Write to support").click()
    # What the checkout knows is already there: email, category, subject.
    expect(page.get_by_label("Email address")).to_have_value("dana@example.com")
    expect(page.get_by_label("Subject")).to_have_value(
        "My payment for order " + page.url.split("order=")[1].split("&")[0] + " did not go through"
    )
    page.get_by_label("Your message").fill("The bank says everything is fine. What now?")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Request T-")
    ticket = Ticket.objects.get()
    assert ticket.attempt is not None and ticket.failure_code == "card_declined"

    agent = browser.new_context(base_url=live_server.url)
    desk = agent.new_page()
    desk.goto("/admin/login/")
    desk.get_by_label("Email address").fill("bob@example.com")
    desk.get_by_label("Password").fill("agent-pass-1234")
    desk.get_by_role("button", name="Log in").click()
    desk.goto("/admin/support/ticket/?queue=unassigned")
    desk.get_by_role("link", name=ticket.number).click()
    # The payment's story is beside the conversation.
    expect(desk.locator("#attempt-timeline")).to_contain_text("Provider answered")
    desk.get_by_label("Message").fill("Your bank's fraud team blocked it; please call them.")
    desk.get_by_role("button", name="Send").click()
    expect(desk.get_by_text("Reply sent.")).to_be_visible()
    agent.close()

    page.reload()
    expect(page.get_by_text("Your bank's fraud team blocked it")).to_be_visible()
    expect(page.locator(".ticket-status")).to_have_text("Waiting on customer")
    assert_no_violations(page, "the ticket page after the agent's answer")

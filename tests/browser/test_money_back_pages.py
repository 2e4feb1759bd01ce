"""The money back pages (the list, a refund's status in each step, the order page's refund rows
and refund request form, with its errors) pass the WCAG A/AA checks, in English and Chinese."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from payments import services
from payments.gateways import RefundResult

from .test_accessibility import LANGUAGES, assert_no_violations, switch_language

pytestmark = pytest.mark.browser


def refund(attempt, amount, key, result=None):
    made = services.refund_create(
        attempt=attempt,
        amount=amount,
        destination="original",
        reason="asked",
        actor="staff:carol@example.com",
        idempotency_key=key,
    )
    return services.refund_settle(refund=made, result=result) if result else made


@pytest.mark.parametrize("language", LANGUAGES)
def test_money_back_pages(live_shop, live_server, page: Page, client, language):
    from tests.factories import OrderFactory, UserFactory

    buyer = UserFactory(email=f"money-back-{language}@example.com")
    order = OrderFactory(user=buyer, email=buyer.email, total=2400)
    attempt = services.attempt_pay(
        order=order,
        method=live_shop["methods"]["card"],
        idempotency_key=f"pay-{language}",
        payment_method="pm_sim_refund_no_answer",
    )
    requested = refund(attempt, 300, "requested")
    sent = refund(attempt, 400, "sent", RefundResult(False, "re_sent", pending=True))
    failed = refund(
        attempt, 500, "failed", RefundResult(False, "re_no", failure_reason="lost_or_stolen_card")
    )
    client.force_login(buyer)
    session = client.cookies["sessionid"].value
    page.context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])
    page.goto(live_server.url + "/money-back/")
    switch_language(page, language)
    expect(page.get_by_role("table")).to_be_visible()
    assert_no_violations(page, f"the money back list ({language})")

    for item, step in ((requested, "requested"), (sent, "sent"), (failed, "failed")):
        page.goto(f"{live_server.url}/money-back/{item.public_id}/")
        expect(page.locator("html")).to_have_attribute("lang", language)
        expect(page.locator("[aria-current=step]")).to_have_count(1)
        assert_no_violations(page, f"a refund's status page, {step} ({language})")

    page.goto(f"{live_server.url}/orders/{order.number}/")
    expect(page.locator("table.refunds tbody tr")).to_have_count(3)
    expect(page.locator("#refund-requests form")).to_be_visible()
    assert_no_violations(page, f"an order page with refunds and the refund form ({language})")
    page.locator("#refund-requests button[type=submit]").click()  # no reason given
    expect(page.locator("#error-summary")).to_be_visible()
    assert_no_violations(page, f"the refund request form with an error ({language})")
    page.locator("#id_reason").fill("The mug arrived broken.")
    page.locator("#refund-requests button[type=submit]").click()
    expect(page.locator("p.refund-request")).to_have_count(1)
    assert_no_violations(page, f"an order page with an open refund request ({language})")

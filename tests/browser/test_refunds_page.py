"""The order status page with refunds on it passes the same WCAG A/AA checks."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from payments import services
from payments.models import PaymentAttempt

from .test_accessibility import GOOD_CARD, assert_no_violations, pay_with_card

pytestmark = pytest.mark.browser


def test_order_status_with_refunds(live_shop, live_server, page: Page):
    pay_with_card(page, live_server.url, GOOD_CARD)
    expect(page).to_have_url(re.compile(r"/orders/CK-[A-Z0-9]{8}/$"))
    attempt = PaymentAttempt.objects.get()
    for amount, key in ((300, "a"), (200, "b")):
        services.refund_create(
            attempt=attempt,
            amount=amount,
            destination="original",
            reason="asked",
            actor="staff:carol@example.com",
            idempotency_key=key,
        )
    page.reload()
    table = page.get_by_role("table", name="Refunds")
    expect(table).to_contain_text("Original payment method")
    expect(table.get_by_role("row")).to_have_count(3)
    assert_no_violations(page, "the status page of a partially refunded order")

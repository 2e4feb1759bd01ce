"""Back from Stripe's 3D Secure page: the status page's GET writes nothing; with JavaScript the
page checks at once (a POST) and shows the answer, without it the customer presses the button."""

from __future__ import annotations

import pytest
import stripe
from playwright.sync_api import Page, expect

from payments import services
from payments.gateways import stripe as stripe_gateway
from payments.models import PaymentAttempt, PaymentMethod
from tests.factories import OrderFactory
from tests.payments.fake_stripe import FakeStripe

pytestmark = pytest.mark.browser


@pytest.fixture
def waiting(live_shop, settings, monkeypatch):
    """An order whose card payment waits on Stripe's 3D Secure page, which the customer passed."""
    settings.STRIPE_SECRET_KEY = "sk_test_fake"
    PaymentMethod.objects.exclude(kind="wallet").update(provider="stripe")
    fake = FakeStripe()
    monkeypatch.setattr(
        stripe_gateway,
        "make_client",
        lambda: stripe.StripeClient("sk_test_fake", max_network_retries=0, http_client=fake),
    )
    order = OrderFactory(total=1200)
    attempt = services.attempt_pay(
        order=order,
        method=PaymentMethod.objects.get(code="card"),
        idempotency_key="3ds",
        payment_method="pm_card_threeDSecure2Required",
        return_url=f"/orders/{order.number}/",
    )
    assert attempt.status == PaymentAttempt.Status.REQUIRES_ACTION
    fake.intents[attempt.provider_reference]["status"] = "succeeded"
    return order, attempt


def return_url(live_server, order, attempt) -> str:
    return (
        f"{live_server.url}/orders/{order.number}/?key={order.client_secret}"
        f"&payment_intent={attempt.provider_reference}&redirect_status=succeeded"
    )


def test_with_javascript_the_page_checks_at_once(live_server, waiting, page: Page):
    order, attempt = waiting
    page.goto(return_url(live_server, order, attempt))
    expect(page.locator("#order-status")).to_contain_text("Paid — thank you!")
    attempt.refresh_from_db()
    assert attempt.status == PaymentAttempt.Status.SUCCEEDED


def test_without_javascript_one_press_checks(live_server, waiting, new_context):
    order, attempt = waiting
    page = new_context(java_script_enabled=False).new_page()
    page.goto(return_url(live_server, order, attempt))
    expect(page.locator("#order-status")).to_contain_text("Waiting for you to approve")
    attempt.refresh_from_db()
    assert attempt.status == PaymentAttempt.Status.REQUIRES_ACTION  # the GET asked nobody
    page.get_by_role("button", name="Check my payment now").click()
    expect(page.locator("#order-status")).to_contain_text("Paid — thank you!")

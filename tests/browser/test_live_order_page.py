"""The order page while a payment settles: with JavaScript every change arrives over the
websocket and updates the page in place (no reload); without JavaScript the page refreshes
itself until the payment is settled, in English and in Chinese."""

from __future__ import annotations

import json
import re

import pytest
from django.db import transaction
from playwright.sync_api import Browser, Page, expect

from checkout.models import Order
from payments import services
from payments.gateways import ChargeResult, Outcome, simulator
from payments.models import PaymentAttempt, PaymentMethod
from tests.factories import OrderFactory

pytestmark = pytest.mark.browser

# Quicker than the 5-second poll: only the websocket can deliver a change this fast.
PUSHED = 4000


def start_payment(method: str, token: str) -> tuple[Order, str]:
    """An order whose payment is under way, and its emailed link's query (works in any browser)."""
    order = OrderFactory(total=1200, currency="USD")
    services.attempt_pay(
        order=order,
        method=PaymentMethod.objects.get(code=method),
        idempotency_key=f"live-{method}",
        payment_method=token,
    )
    return order, f"/orders/{order.number}/?key={order.client_secret}"


def provider_says(outcome: Outcome) -> None:
    attempt = PaymentAttempt.objects.get()
    with transaction.atomic():
        services.attempt_apply_result(
            attempt=attempt,
            result=ChargeResult(
                outcome, attempt.provider_reference, amount=attempt.amount, currency="USD"
            ),
            actor="provider:simulator",
        )


@pytest.fixture
def asgi_shop(transactional_db, shop):
    return shop


def test_the_order_page_updates_twice_over_the_websocket_without_reloading(
    asgi_shop, asgi_server, page: Page
):
    order, link = start_payment("wechat_pay", "pm_sim_wechat_pay")
    frames: list[str] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda frame: frames.append(frame)))
    navigations: list[str] = []
    page.on(
        "framenavigated",
        lambda frame: navigations.append(frame.url) if frame == page.main_frame else None,
    )
    page.goto(asgi_server + link)
    status = page.locator("#order-status")
    expect(status).to_contain_text("Waiting for you to approve the payment")
    page.wait_for_function("true")
    for _ in range(50):  # the socket is open and has told the current status
        if frames:
            break
        page.wait_for_timeout(100)
    assert frames, "the websocket never answered"

    provider_says(Outcome.PROCESSING)
    expect(status).to_contain_text("We are confirming your payment", timeout=PUSHED)
    provider_says(Outcome.SUCCEEDED)
    expect(status).to_contain_text("Paid — thank you!", timeout=PUSHED)

    # Both changes arrived on the one page load: no reload, same page.
    assert navigations == [asgi_server + link]
    # Each change came over the socket (the provider's answers were applied in this test's
    # thread, as a Celery worker would in its own process: the consumer's watch delivers them).
    told = [json.loads(frame) for frame in frames]
    states = [(m["status"], m["attempt"]) for m in told if m["status"] and m["attempt"]]
    assert list(dict.fromkeys(states)) == [
        ("pending", "requires_action"),
        ("pending", "processing"),
        ("paid", "succeeded"),
    ]
    assert Order.objects.get(pk=order.pk).status == "paid"


@pytest.mark.parametrize(
    ("language", "confirming", "updates", "paid"),
    [
        (
            "en",
            "We are confirming your payment",
            "This page updates by itself.",
            "Paid — thank you!",
        ),
        ("zh-hans", "正在确认您的付款", "此页面会自动更新", "已支付，谢谢您！"),
    ],
)
def test_without_javascript_the_page_refreshes_itself_until_settled(
    live_shop, live_server, browser: Browser, monkeypatch, language, confirming, updates, paid
):
    # The simulator's callback is held back: the provider answers when the test says so.
    monkeypatch.setattr(simulator, "_schedule_settle", lambda charge: None)
    order, link = start_payment("card", "pm_sim_processing")
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
    page = context.new_page()
    loads: list[str] = []
    page.on("load", lambda _page: loads.append("load"))
    page.goto(link)
    status = page.locator("#order-status")
    expect(status).to_contain_text(confirming)
    expect(status).to_contain_text(updates)
    # What does the refreshing, with JavaScript off: a meta refresh (allowed by the CSP).
    assert page.locator("meta[http-equiv='refresh']").count() == 1

    simulator.simulator_settle(PaymentAttempt.objects.get().provider_reference)
    expect(status).to_contain_text(paid, timeout=15000)
    assert len(loads) >= 2  # it was the page refreshing itself that showed it
    # Settled: no more refreshing.
    assert page.locator("meta[http-equiv='refresh']").count() == 0
    expect(page).to_have_url(re.compile(re.escape(link) + "$"))
    context.close()

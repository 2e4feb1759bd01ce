"""While the risk rules would refuse a buyer's next payment, nothing offers a way to pay: the page
and the API say until when, and offer a review instead. When the time comes, paying works."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from payments import risk, services
from payments.failures import failure_for
from payments.models import AttemptStatus, PaymentAttempt
from payments.selectors import alternatives_for
from tests.checkout.helpers import BILLING, checkout_form, fill_cart
from tests.factories import OrderFactory, UserFactory

pytestmark = pytest.mark.django_db
S = AttemptStatus
DECLINED = "pm_card_visa_chargeDeclined"
START = datetime(2026, 3, 2, 13, 5, tzinfo=UTC)


@pytest.fixture(autouse=True)
def thresholds(settings):
    settings.TIME_ZONE = "UTC"
    settings.RISK_FAILURE_STREAK = 3
    settings.RISK_FAILURE_STREAK_MINUTES = 60
    settings.RISK_VELOCITY_WINDOW_MINUTES = 10
    settings.RISK_VELOCITY_REVIEW = 50
    settings.RISK_VELOCITY_REFUSE = 100


def failure_box(response) -> str:
    return response.content.decode().split('id="payment-failure"')[1].split("</div>")[0]


def press_pay(client, previous=None, **fields):
    """Press Pay on the page as it was last rendered (a fresh page the first time)."""
    if previous is None:
        tokens = checkout_form(client)
    else:
        initial = previous.context["form"].initial
        tokens = {k: initial[k] for k in ("checkout_token", "idempotency_key")}
    data = {**BILLING, **tokens, "method": "card", "payment_method": DECLINED, **fields}
    return client.post(reverse("checkout:checkout"), data)


def decline(client, times):
    response = None
    for _ in range(times):
        response = press_pay(client, response)
        assert response.status_code == 402
    return response


@pytest.fixture
def shopper(shop):
    client = Client()
    fill_cart(client, "mug")
    return client


def test_one_decline_short_of_the_streak_still_offers_other_ways(shopper):
    with time_machine.travel(START, tick=False):
        box = failure_box(decline(shopper, 2))
    assert 'name="switch_method" value="alipay"' in box
    assert "paused" not in box


def test_after_the_streak_the_page_offers_no_way_to_pay_and_says_until_when(shopper):
    with time_machine.travel(START, tick=False):
        response = decline(shopper, 3)
    page = response.content.decode()
    box = failure_box(response)
    assert (
        "For your security, new payments with your email address are paused until 14:05 UTC." in box
    )
    assert "switch_method" not in box  # no "Pay with Alipay", no "Try again"
    assert 'href="#id_payment_method"' not in box  # no "check the card and try again"
    assert "Try another card or payment method." not in box  # the decline's advice is moot
    assert "appeal=1" in box and "Ask us to review it" in box
    assert "failure_streak" not in page and "3 attempts" not in page  # rules stay secret
    # The form below offers no method and no Pay button either.
    assert 'type="radio" name="method"' not in page and "pay-button" not in page


def test_coming_back_to_checkout_while_paused_offers_no_way_to_pay(shopper):
    """ "Back to checkout" from the order page, or a new tab: still paused, still says so."""
    with time_machine.travel(START, tick=False):
        decline(shopper, 3)
        response = shopper.get(reverse("checkout:checkout"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "paused until 14:05 UTC." in failure_box(response)
    assert 'type="radio" name="method"' not in page and "pay-button" not in page
    with time_machine.travel(datetime(2026, 3, 2, 14, 5, tzinfo=UTC), tick=False):
        page = shopper.get(reverse("checkout:checkout")).content.decode()
    assert "paused" not in page and 'type="radio" name="method"' in page


def test_paying_another_way_anyway_is_refused_and_still_says_until_when(shopper):
    with time_machine.travel(START, tick=False):
        declined = decline(shopper, 3)
        response = press_pay(shopper, declined, switch_method="alipay", payment_method="")
    assert response.status_code == 402
    alipay = PaymentAttempt.objects.get(method__code="alipay")
    assert (alipay.status, alipay.failure_code) == (S.FAILED, "risk_refused")
    assert "paused until 14:05 UTC." in failure_box(response)


def test_when_the_pause_lifts_methods_are_offered_again_and_paying_works(shopper):
    with time_machine.travel(START, tick=False):
        declined = decline(shopper, 3)
    with time_machine.travel(datetime(2026, 3, 2, 14, 4, 59, tzinfo=UTC), tick=False):
        still = press_pay(shopper, declined, switch_method="alipay", payment_method="")
        assert still.status_code == 402 and "paused until 14:05 UTC." in failure_box(still)
    with time_machine.travel(datetime(2026, 3, 2, 14, 5, tzinfo=UTC), tick=False):
        again = press_pay(shopper, still)  # one more decline, now alone in the window
        box = failure_box(again)
        assert "paused" not in box
        assert 'name="switch_method" value="alipay"' in box
        paid = press_pay(shopper, again, switch_method="alipay", payment_method="")
    alipay = PaymentAttempt.objects.filter(method__code="alipay").latest("created_at")
    assert alipay.status == S.REQUIRES_ACTION and alipay.risk_outcome == "allow"
    assert paid.status_code == 302 and paid["Location"] == alipay.action_url


def test_a_signed_in_buyer_reads_it_about_their_account(shopper, alice):
    shopper.force_login(alice)
    with time_machine.travel(START, tick=False):
        box = failure_box(decline(shopper, 3))
    assert "new payments from your account are paused until 14:05 UTC." in box


def test_the_api_offers_nothing_and_says_when_to_retry(shop):
    api = APIClient()
    with time_machine.travel(START, tick=False):
        order = api.post(
            "/api/v1/orders/",
            {"email": "api@example.com", "items": [{"sku": "mug", "quantity": 1}]},
            format="json",
        ).json()
        api.credentials(HTTP_X_CLIENT_SECRET=order["client_secret"])
        url = f"/api/v1/orders/{order['number']}/payments/"
        bodies = [
            api.post(
                url,
                {"method": "card", "payment_method": DECLINED},
                format="json",
                HTTP_IDEMPOTENCY_KEY=f"k{n}",
            ).json()
            for n in range(3)
        ]
    second, third = bodies[1]["failure"], bodies[2]["failure"]
    assert [alt["method"] for alt in second["alternatives"]] == ["alipay", "wechat_pay"]
    assert second["retry_after"] is None
    assert third["alternatives"] == []
    assert third["retry_same_method"] is False
    assert third["retry_after"] == "2026-03-02T14:05:00+00:00"
    assert third["guidance"] == [
        "For your security, new payments with your email address are paused until 14:05 UTC.",
        "If you think this is a mistake, ask us to review it.",
    ]
    detail = f"/api/v1/payments/{bodies[2]['id']}/"
    with time_machine.travel(datetime(2026, 3, 2, 14, 5, tzinfo=UTC), tick=False):
        lifted = api.get(detail).json()["failure"]
        assert [alt["method"] for alt in lifted["alternatives"]] == ["alipay", "wechat_pay"]
        assert lifted["retry_after"] is None
        paid = api.post(url, {"method": "alipay"}, format="json", HTTP_IDEMPOTENCY_KEY="k-after")
    assert paid.status_code == 201 and paid.json()["status"] == "requires_action"


def test_velocity_lifts_when_the_attempt_that_reached_the_limit_leaves_the_window(shop, settings):
    """Asked without an attempt, counted the way the rule counts when one is made."""
    settings.RISK_VELOCITY_REFUSE = 3
    made = []
    for minute in (0, 2, 4):
        with time_machine.travel(datetime(2026, 3, 2, 13, minute, tzinfo=UTC), tick=False):
            made.append(
                services.attempt_pay(
                    order=OrderFactory(email="quick@example.com"),
                    method=shop["methods"]["alipay"],
                    idempotency_key=f"quick-{minute}",
                )
            )
    assert [a.risk_outcome for a in made] == ["allow", "allow", "allow"]
    with time_machine.travel(datetime(2026, 3, 2, 13, 9, 59, tzinfo=UTC), tick=False):
        refusal = risk.refusal_for(attempt=made[-1])
        assert (refusal.rule, refusal.until) == (
            "velocity",
            datetime(2026, 3, 2, 13, 10, tzinfo=UTC),
        )
        refused = services.attempt_pay(
            order=OrderFactory(email="quick@example.com"),
            method=shop["methods"]["alipay"],
            idempotency_key="quick-refused",
        )
        assert (refused.status, refused.risk_rule) == (S.FAILED, "velocity")
    with time_machine.travel(datetime(2026, 3, 2, 13, 10, tzinfo=UTC), tick=False):
        # The refused attempt counts too: 13:02, 13:04 and 13:09:59 are three in the window.
        assert risk.refusal_for(attempt=made[-1]).until == datetime(2026, 3, 2, 13, 12, tzinfo=UTC)
    with time_machine.travel(datetime(2026, 3, 2, 13, 12, tzinfo=UTC), tick=False):
        assert risk.refusal_for(attempt=made[-1]) is None


def test_a_new_accounts_large_order_is_paused_until_the_account_is_old_enough(
    client, shop, settings
):
    settings.RISK_NEW_ACCOUNT_HOURS = 24
    settings.RISK_NEW_ACCOUNT_REFUSE_AMOUNT = 1000
    with time_machine.travel(START, tick=False):
        newcomer = UserFactory(email="newcomer@example.com")
        client.force_login(newcomer)
        fill_cart(client, "mug")
        response = press_pay(client, payment_method="pm_card_visa")
    box = failure_box(response)
    assert "new payments from your account are paused until March 3, 2026 13:05 UTC." in box
    assert "switch_method" not in box


def paid_with(shop, *, email, token, method="card"):
    return services.attempt_pay(
        order=OrderFactory(email=email),
        method=shop["methods"][method],
        idempotency_key=f"{email}-{PaymentAttempt.objects.count()}",
        payment_method=token,
    )


def test_alternatives_are_empty_for_every_caller_while_paused(shop):
    failed = [paid_with(shop, email="s@example.com", token=DECLINED) for _ in range(3)]
    entry = failure_for(failed[-1].failure_code, failed[-1].decline_code)
    assert alternatives_for(attempt=failed[-1], entry=entry) == []


def test_the_same_card_is_not_offered_again_when_it_alone_would_be_refused(shop, settings):
    """Card testing is counted on the card: other ways stay open to this buyer, that card not."""
    settings.RISK_VELOCITY_REFUSE = 3
    short = "pm_card_chargeDeclinedInsufficientFunds"
    paid_with(shop, email="first@example.com", token=short)
    paid_with(shop, email="second@example.com", token=short)
    mine = paid_with(shop, email="third@example.com", token=short)
    assert (mine.status, mine.risk_outcome) == (S.FAILED, "allow")
    entry = failure_for(mine.failure_code, mine.decline_code)
    assert entry.retry_same_method  # insufficient funds: the same card may work after a top-up
    offered = [alt.method.code for alt in alternatives_for(attempt=mine, entry=entry)]
    assert offered == ["alipay", "wechat_pay"]

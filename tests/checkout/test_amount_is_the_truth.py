"""The amount charged is the only truth: totals freeze once an order has an attempt, a Pay press
charges what it was shown or nothing, and paying uses the attempt's amount."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from checkout import services as checkout_services
from checkout.models import Order
from payments import services
from payments.models import PaymentAttempt, PaymentEvent, SimulatedCharge, Wallet, WalletEntry
from tests.factories import OrderFactory

from .helpers import checkout_form, fill_cart, pay

pytestmark = pytest.mark.django_db
S = PaymentAttempt.Status
TOP_UP = "/wallet/top-up/"


def top_up_key(client) -> str:
    return client.get(TOP_UP).context["form"].initial["idempotency_key"]


def test_a_retried_top_up_charges_and_credits_the_new_amount(client, shop, alice):
    """Declined at 99.00, the customer types 10.00: 10.00 is charged and credited."""
    client.force_login(alice)
    declined = {
        "amount": "99.00",
        "method": "card",
        "payment_method": "4000 0000 0000 9995",
        "idempotency_key": top_up_key(client),
    }
    assert client.post(TOP_UP, declined).status_code == 402
    retry = {**declined, "amount": "10.00", "payment_method": "4242 4242 4242 4242"}
    retry["idempotency_key"] = top_up_key(client)
    response = client.post(TOP_UP, retry)
    assert response.status_code == 302
    charges = sorted(SimulatedCharge.objects.values_list("amount", "status"))
    assert charges == [(1000, "succeeded"), (9900, "failed")]
    assert Wallet.objects.get(user=alice).balance == 1000
    # Two orders: the first keeps the total it was charged for.
    assert sorted(Order.objects.values_list("total", "status")) == [
        (1000, "paid"),
        (9900, "pending"),
    ]


def test_an_order_total_never_changes_after_an_attempt(shop, alice):
    order = checkout_services.wallet_top_up_order_create(
        user=alice, amount=9900, currency="USD", language="en", checkout_token="tab"
    )
    services.attempt_pay(
        order=order,
        method=shop["methods"]["card"],
        idempotency_key="k1",
        payment_method="pm_card_visa_chargeDeclinedInsufficientFunds",
        user=alice,
    )
    again = checkout_services.wallet_top_up_order_create(
        user=alice, amount=1000, currency="USD", language="en", checkout_token="tab"
    )
    assert again.pk != order.pk and again.total == 1000 and again.checkout_token != "tab"
    order.refresh_from_db()
    assert order.total == 9900
    # Without an attempt yet, the same page may still change its amount.
    fresh = checkout_services.wallet_top_up_order_create(
        user=alice, amount=500, currency="USD", language="en", checkout_token="other"
    )
    same = checkout_services.wallet_top_up_order_create(
        user=alice, amount=700, currency="USD", language="en", checkout_token="other"
    )
    assert same.pk == fresh.pk and same.total == 700


def test_a_pay_press_charges_what_it_was_shown_or_nothing(shop, alice):
    order = OrderFactory(user=alice, total=2400)
    with pytest.raises(services.AmountChanged):
        services.attempt_pay(
            order=order,
            method=shop["methods"]["card"],
            idempotency_key="k",
            payment_method="pm_card_visa",
            user=alice,
            expected_amount=100,
        )
    assert not PaymentAttempt.objects.exists() and not SimulatedCharge.objects.exists()


def test_a_top_up_changed_in_another_tab_is_refused_with_a_clear_message(
    client, shop, alice, monkeypatch
):
    """Tab B rewrote the amount between this tab's order lookup and its charge."""
    client.force_login(alice)
    real = checkout_services.wallet_top_up_order_create

    def rewritten_meanwhile(**kwargs):
        order = real(**kwargs)
        Order.objects.filter(pk=order.pk).update(total=1_000_000)
        return order

    monkeypatch.setattr(checkout_services, "wallet_top_up_order_create", rewritten_meanwhile)
    data = {
        "amount": "1.00",
        "method": "card",
        "payment_method": "4242 4242 4242 4242",
        "idempotency_key": top_up_key(client),
    }
    response = client.post(TOP_UP, data)
    assert response.status_code == 409
    assert "The amount was changed in another window." in response.content.decode()
    assert not SimulatedCharge.objects.exists()
    assert not Wallet.objects.filter(user=alice, balance__gt=0).exists()


def test_a_changed_cart_after_a_failed_payment_is_a_new_order(client, shop):
    fill_cart(client, "mug")
    tokens = checkout_form(client)
    assert pay(client, tokens, payment_method="pm_card_visa_chargeDeclined").status_code == 402
    first = Order.objects.get()
    fill_cart(client, "tea")
    response = pay(client, {**tokens, "idempotency_key": "second-press"})
    assert response.status_code == 302
    second = Order.objects.exclude(pk=first.pk).get()
    first.refresh_from_db()
    assert (first.total, first.status) == (1200, "pending")
    assert (second.total, second.status) == (1200 + 1850, "paid")
    assert sorted(second.lines.values_list("sku", flat=True)) == ["mug", "tea"]
    assert list(first.lines.values_list("sku", flat=True)) == ["mug"]


def test_a_late_confirmation_pays_the_order_it_was_charged_for(client, shop, settings):
    """Given up on, then the cart changes, then the provider says the first charge went through:
    the first order (with its own lines) is paid; the new cart is its own order."""
    settings.PAYMENTS_HEALTH_MIN_VOLUME = 1000
    fill_cart(client, "mug")
    tokens = checkout_form(client)
    pay(client, tokens, payment_method="pm_sim_outage")
    first = Order.objects.get()
    attempt = first.attempts.get()
    assert attempt.status == S.UNKNOWN
    with time_machine.travel(timezone.now() + timedelta(minutes=31), tick=False):
        services.reconcile_attempts()
    attempt.refresh_from_db()
    assert attempt.failure_code == "confirmation_timeout"
    fill_cart(client, "tea")  # 1200 of mug + 1850 of tea
    pay(
        client, {**tokens, "idempotency_key": "again"}, payment_method="pm_card_visa_chargeDeclined"
    )
    from payments.gateways import ChargeResult, Outcome

    services.attempt_apply_result(
        attempt=attempt,
        result=ChargeResult(Outcome.SUCCEEDED, "sim_late", amount=1200, currency="USD"),
        actor="webhook:simulator:evt_late",
    )
    first.refresh_from_db()
    assert (first.status, first.total) == ("paid", 1200)
    assert list(first.lines.values_list("sku", flat=True)) == ["mug"]
    second = Order.objects.exclude(pk=first.pk).get()
    assert (second.status, second.total) == ("pending", 3050)


def test_a_charge_that_does_not_match_its_order_closes_it_and_tells_staff(
    shop, settings, django_capture_on_commit_callbacks
):
    """Should an order's total ever differ from what its attempt charged, nothing is given for the
    wrong amount: the order closes unpaid and the charge is flagged for refund, once."""
    settings.ADMINS = [("Ops", "ops@example.com")]
    order = OrderFactory(total=2400)
    attempt = services.attempt_pay(
        order=order,
        method=shop["methods"]["card"],
        idempotency_key="k",
        payment_method="pm_sim_timeout_then_succeeded",
    )
    Order.objects.filter(pk=order.pk).update(total=99_900)  # what the old bug allowed
    from payments.gateways import ChargeResult, Outcome

    result = ChargeResult(Outcome.SUCCEEDED, attempt.provider_reference or "sim_x", amount=2400)
    with django_capture_on_commit_callbacks(execute=True):
        services.attempt_apply_result(attempt=attempt, result=result, actor="reconciliation")
        services.attempt_apply_result(attempt=attempt, result=result, actor="reconciliation")
    order.refresh_from_db()
    attempt.refresh_from_db()
    assert (attempt.status, order.status) == (S.SUCCEEDED, "canceled")
    assert attempt.events.filter(kind=PaymentEvent.Kind.REFUND_NEEDED).count() == 1
    assert [m.subject for m in mail.outbox if "ops@example.com" in m.to] == [
        f"[Django] Refund needed: order {order.number}"
    ]
    assert not [m for m in mail.outbox if order.email in m.to]  # no receipt for it


def test_a_top_up_credits_the_attempts_amount(shop, alice):
    order = checkout_services.wallet_top_up_order_create(
        user=alice, amount=2500, currency="USD", language="en"
    )
    attempt = services.attempt_pay(
        order=order,
        method=shop["methods"]["card"],
        idempotency_key="k",
        payment_method="pm_card_visa",
        user=alice,
    )
    entry = WalletEntry.objects.get(kind="top_up")
    assert (entry.amount, entry.attempt_id) == (2500, attempt.pk)


class TestZeroDecimalCurrency:
    @pytest.fixture(autouse=True)
    def yen(self, settings, shop):
        settings.SHOP_CURRENCY = "JPY"

    def test_a_fraction_of_a_yen_is_a_clear_400(self, client, alice):
        client.force_login(alice)
        data = {
            "amount": "20.50",
            "method": "card",
            "payment_method": "4242 4242 4242 4242",
            "idempotency_key": top_up_key(client),
        }
        response = client.post(TOP_UP, data)
        assert response.status_code == 400
        assert "Enter a whole amount: JPY has no smaller unit." in response.content.decode()
        assert not Order.objects.exists()

    def test_whole_yen_are_charged_as_they_are(self, client, alice):
        client.force_login(alice)
        data = {
            "amount": "2000",
            "method": "card",
            "payment_method": "4242 4242 4242 4242",
            "idempotency_key": top_up_key(client),
        }
        response = client.post(TOP_UP, data)
        assert response.status_code == 302
        assert list(SimulatedCharge.objects.values_list("amount", "currency")) == [(2000, "JPY")]
        assert Wallet.objects.get(user=alice, currency="JPY").balance == 2000


def test_the_currency_tables_are_stripes():
    from payments.money import THREE_DECIMAL, ZERO_DECIMAL, to_minor

    assert sorted(ZERO_DECIMAL) == [
        "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA",
        "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF",
    ]  # fmt: skip
    assert sorted(THREE_DECIMAL) == ["BHD", "JOD", "KWD", "OMR", "TND"]
    assert (to_minor("20", "XOF"), to_minor("1.234", "OMR"), to_minor("1.23", "ISK")) == (
        20,
        1234,
        123,
    )
    with pytest.raises(ValueError):
        to_minor("20.5", "UGX")


class TestOnlyTheOwnerSpendsTheWallet:
    @pytest.fixture
    def order(self, shop, alice):
        services.wallet_move(
            user=alice, currency="USD", amount=5000, kind="adjustment", actor="t", reference="s"
        )
        return OrderFactory(user=alice, total=2400)

    @pytest.mark.parametrize("who", ["bob", "mallory", "anonymous"])
    def test_nobody_else_may_spend_it(self, request, order, shop, who):
        from django.contrib.auth.models import AnonymousUser

        user = AnonymousUser() if who == "anonymous" else request.getfixturevalue(who)
        with pytest.raises(services.MethodUnavailable) as excinfo:
            services.attempt_pay(
                order=order, method=shop["methods"]["wallet"], idempotency_key="w", user=user
            )
        assert excinfo.value.reason == "wallet_owner_only"
        assert Wallet.objects.get(user=order.user).balance == 5000

    def test_the_owner_may(self, order, shop, alice):
        attempt = services.attempt_pay(
            order=order, method=shop["methods"]["wallet"], idempotency_key="w", user=alice
        )
        assert attempt.status == S.SUCCEEDED
        assert Wallet.objects.get(user=alice).balance == 2600

    def test_a_key_holder_cannot_spend_it_through_the_api(self, client, order, shop):
        response = client.post(
            f"/api/v1/orders/{order.number}/payments/",
            {"method": "wallet"},
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY="w",
            HTTP_X_CLIENT_SECRET=order.client_secret,
        )
        assert response.status_code == 409
        assert response.json()["reason"] == "wallet_owner_only"
        assert Wallet.objects.get(user=order.user).balance == 5000

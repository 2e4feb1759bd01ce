"""Every non-final state has a deadline and a way out: a payment step nobody finishes expires, the
customer can leave it at once, and no provider error leaves an attempt `sent` or gives a 500."""

from __future__ import annotations

from datetime import timedelta

import pytest
import stripe
import time_machine
from django.urls import reverse
from django.utils import timezone

from checkout.models import Order
from payments import services
from payments.gateways import stripe as stripe_gateway
from payments.models import PaymentAttempt, PaymentEvent, PaymentMethod, SimulatedCharge
from payments.tasks import reconcile_payments
from tests.checkout.helpers import checkout_form, fill_cart, pay
from tests.factories import OrderFactory

from .fake_stripe import FakeStripe

pytestmark = pytest.mark.django_db
S = PaymentAttempt.Status


def later(minutes: float):
    return time_machine.travel(timezone.now() + timedelta(minutes=minutes), tick=False)


def alipay_waiting(client):
    """A shopper chose Alipay at checkout and never came back from Alipay's page."""
    fill_cart(client, "mug")
    tokens = checkout_form(client)
    response = pay(client, tokens, method="alipay", payment_method="")
    attempt = PaymentAttempt.objects.get()
    assert attempt.status == S.REQUIRES_ACTION
    assert response["Location"] == attempt.action_url
    return tokens, attempt


class TestAnAbandonedStepExpires:
    def test_it_is_canceled_after_the_limit_and_checkout_is_free_again(self, client, shop):
        tokens, attempt = alipay_waiting(client)
        with later(14):
            assert reconcile_payments()["expired"] == 0
        attempt.refresh_from_db()
        assert attempt.status == S.REQUIRES_ACTION
        with later(16):
            assert reconcile_payments()["expired"] == 1
        attempt.refresh_from_db()
        assert (attempt.status, attempt.failure_code) == (
            S.CANCELED,
            "payment_intent_payment_attempt_expired",
        )
        # Canceled at the provider too: finishing it there now cannot take money.
        assert SimulatedCharge.objects.get().status == "failed"
        # Another way, at once: the same order, paid by card.
        response = pay(client, {**tokens, "idempotency_key": "card-now"})
        order = Order.objects.get()
        assert response["Location"] == reverse("checkout:order_status", args=[order.number])
        assert order.status == "paid"
        assert list(order.attempts.values_list("method__code", "status")) == [
            ("card", "succeeded"),
            ("alipay", "canceled"),
        ]

    def test_the_status_page_says_it_was_canceled_and_not_charged(self, client, shop):
        _tokens, attempt = alipay_waiting(client)
        with later(16):
            reconcile_payments()
        page = client.get(reverse("checkout:order_status", args=[attempt.order.number]))
        assert "The payment took too long to complete, so you were not charged." in (
            page.content.decode()
        )


class TestTheCustomerChoosesAnotherWayAtOnce:
    def test_from_the_status_page(self, client, shop):
        tokens, attempt = alipay_waiting(client)
        order = attempt.order
        status = client.get(reverse("checkout:order_status", args=[order.number])).content.decode()
        assert "Pay another way" in status
        response = client.post(reverse("checkout:order_cancel_payment", args=[order.number]))
        assert response["Location"] == reverse("checkout:checkout")
        attempt.refresh_from_db()
        assert (attempt.status, attempt.failure_code) == (S.CANCELED, "canceled")
        page = client.get(reverse("checkout:checkout")).content.decode()
        assert "The unfinished payment was canceled. You were not charged." in page
        response = pay(client, {**tokens, "idempotency_key": "card"})
        order.refresh_from_db()
        assert order.status == "paid"
        assert SimulatedCharge.objects.filter(status="succeeded").count() == 1

    def test_from_checkout_which_says_what_will_happen(self, client, shop):
        tokens, attempt = alipay_waiting(client)
        page = client.get(reverse("checkout:checkout")).content.decode()
        assert "Your Alipay payment is not finished" in page
        assert "we will cancel the Alipay payment first" in page
        response = pay(client, {**tokens, "idempotency_key": "card"})
        order = Order.objects.get()
        assert response["Location"] == reverse("checkout:order_status", args=[order.number])
        attempt.refresh_from_db()
        assert attempt.status == S.CANCELED and order.status == "paid"
        assert SimulatedCharge.objects.get(pk__isnull=False, status="failed").failure_code == (
            "canceled"
        )

    def test_a_step_finished_meanwhile_is_paid_not_canceled(self, client, shop):
        tokens, attempt = alipay_waiting(client)
        charge = SimulatedCharge.objects.get()
        charge.status = "succeeded"  # approved on Alipay's page a moment ago
        charge.save()
        response = client.post(
            reverse("checkout:order_cancel_payment", args=[attempt.order.number])
        )
        assert response["Location"] == reverse("checkout:order_status", args=[attempt.order.number])
        attempt.refresh_from_db()
        assert attempt.status == S.SUCCEEDED
        assert attempt.order.status == "paid"
        # Paying again from the old checkout cannot charge twice.
        pay(client, {**tokens, "idempotency_key": "card"})
        assert SimulatedCharge.objects.count() == 1

    def test_a_signed_in_stranger_cannot_cancel_it(self, client, shop, mallory):
        _tokens, attempt = alipay_waiting(client)
        stranger = client.__class__()
        stranger.force_login(mallory)
        response = stranger.post(
            reverse("checkout:order_cancel_payment", args=[attempt.order.number])
        )
        assert response.status_code == 404
        attempt.refresh_from_db()
        assert attempt.status == S.REQUIRES_ACTION


@pytest.fixture
def fake(settings, monkeypatch, shop):
    settings.STRIPE_SECRET_KEY = "sk_test_fake"
    settings.PAYMENTS_HEALTH_MIN_VOLUME = 1000
    PaymentMethod.objects.exclude(kind="wallet").update(provider="stripe")
    transport = FakeStripe()
    monkeypatch.setattr(
        stripe_gateway,
        "make_client",
        lambda: stripe.StripeClient("sk_test_fake", max_network_retries=0, http_client=transport),
    )
    return transport


def stripe_pay(key="k", token="pm_card_visa", method="card"):
    order = OrderFactory()
    return services.attempt_pay(
        order=order,
        method=PaymentMethod.objects.get(code=method),
        idempotency_key=key,
        payment_method=token,
        return_url=f"/orders/{order.number}/",
    )


class TestEveryStripeErrorIsAnAnswer:
    @pytest.mark.parametrize("error", ["400", "401", "403"])
    def test_a_refused_request_fails_the_attempt_not_the_page(self, fake, error):
        fake.fail_next = [error]
        attempt = stripe_pay()
        assert (attempt.status, attempt.failure_code, attempt.failure_category) == (
            S.FAILED,
            "provider_rejected",
            "another_method",
        )
        # Counted against the method's health as ours, not the customer's.
        assert attempt.events.filter(kind=PaymentEvent.Kind.PROVIDER_ERROR).count() == 1

    def test_an_idempotency_error_is_unknown_never_failed(self, fake):
        """The key was used before and that request may have charged: confirm, never guess."""
        fake.fail_next = ["idempotency"]
        attempt = stripe_pay()
        assert attempt.status == S.UNKNOWN

    def test_the_checkout_page_explains_a_refused_request(self, client, fake):
        fake.fail_next = ["401"]
        fill_cart(client, "mug")
        response = pay(client, checkout_form(client), payment_method="pm_card_visa")
        assert response.status_code == 402
        assert "because of a problem on our side. You were not charged." in (
            response.content.decode()
        )

    def test_reconciliation_gives_up_by_age_however_the_provider_errs(self, fake):
        fake.fail_next = ["timeout"]
        attempt = stripe_pay()
        assert attempt.status == S.UNKNOWN and not attempt.provider_reference
        for minutes in (2, 10, 20):
            fake.fail_next = ["idempotency"]
            with later(minutes):
                services.reconcile_attempts()
            attempt.refresh_from_db()
            assert attempt.status == S.UNKNOWN
        fake.fail_next = ["idempotency"]
        with later(31):
            services.reconcile_attempts()
        attempt.refresh_from_db()
        assert (attempt.status, attempt.failure_code) == (S.FAILED, "confirmation_timeout")

    def test_a_retrieve_that_keeps_failing_is_given_up_by_age(self, fake):
        attempt = stripe_pay(token="pm_card_authenticationRequired")
        PaymentAttempt.objects.filter(pk=attempt.pk).update(status=S.PROCESSING)
        fake.fail_next = ["401"] * 3
        with later(31):
            services.reconcile_attempts()
        attempt.refresh_from_db()
        assert (attempt.status, attempt.failure_code) == (S.FAILED, "confirmation_timeout")

    def test_a_waiting_stripe_step_is_canceled_at_stripe(self, fake):
        attempt = stripe_pay(method="alipay", token="")
        assert attempt.status == S.REQUIRES_ACTION
        attempt = services.attempt_cancel(attempt=attempt, actor="test")
        assert attempt.status == S.CANCELED
        cancel = [r for r in fake.requests if r["path"].endswith("/cancel")]
        assert [r["path"] for r in cancel] == [
            f"/v1/payment_intents/{attempt.provider_reference}/cancel"
        ]
        assert fake.intents[attempt.provider_reference]["status"] == "canceled"

    def test_a_stripe_step_paid_meanwhile_is_honoured(self, fake):
        attempt = stripe_pay(method="alipay", token="")
        fake.intents[attempt.provider_reference]["status"] = "succeeded"
        attempt = services.attempt_cancel(attempt=attempt, actor="test")
        assert attempt.status == S.SUCCEEDED
        assert Order.objects.get().status == "paid"

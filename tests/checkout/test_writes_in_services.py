"""Writes happen in services, never as a side effect of reading a page: the Stripe return asks
the provider on a POST, the checkout visit is counted once, the reminder opt-out is a service
write."""

from __future__ import annotations

from datetime import timedelta

import pytest
import stripe
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from checkout.models import CheckoutVisit, Order
from payments.gateways import stripe as stripe_gateway
from payments.models import PaymentAttempt, PaymentMethod
from tests.checkout.helpers import checkout_form, fill_cart, pay
from tests.factories import OrderFactory
from tests.payments.fake_stripe import FakeStripe

pytestmark = pytest.mark.django_db
S = PaymentAttempt.Status


@pytest.fixture
def fake(settings, monkeypatch, shop):
    settings.STRIPE_SECRET_KEY = "sk_test_fake"
    PaymentMethod.objects.exclude(kind="wallet").update(provider="stripe")
    transport = FakeStripe()
    monkeypatch.setattr(
        stripe_gateway,
        "make_client",
        lambda: stripe.StripeClient("sk_test_fake", max_network_retries=0, http_client=transport),
    )
    return transport


def reads_of(fake: FakeStripe, intent: str) -> int:
    return sum(
        1
        for r in fake.requests
        if r["method"] == "get" and r["path"] == f"/v1/payment_intents/{intent}"
    )


def three_d_secure(client: Client, fake: FakeStripe) -> PaymentAttempt:
    """A shopper paid with a 3D Secure card, went to the bank's page and approved there."""
    fill_cart(client, "mug")
    response = pay(client, checkout_form(client), payment_method="pm_card_threeDSecure2Required")
    attempt = PaymentAttempt.objects.get()
    assert attempt.status == S.REQUIRES_ACTION
    assert response["Location"] == "https://stripe.test/3ds/pi_fake_0001"
    fake.intents["pi_fake_0001"].update(status="succeeded", next_action=None)
    return attempt


class TestBackFromStripe:
    def test_the_return_get_asks_nobody_and_writes_nothing(self, client, fake):
        attempt = three_d_secure(client, fake)
        events = list(attempt.events.values_list("pk", flat=True))
        url = reverse("checkout:order_status", args=[attempt.order.number])
        page = client.get(f"{url}?payment_intent=pi_fake_0001&redirect_status=succeeded")
        assert page.status_code == 200
        assert reads_of(fake, "pi_fake_0001") == 0
        attempt.refresh_from_db()
        assert attempt.status == S.REQUIRES_ACTION
        assert list(attempt.events.values_list("pk", flat=True)) == events  # nothing new
        body = page.content.decode()
        # The way on: a POST the status script sends at once, a button without JavaScript.
        check = reverse("checkout:order_check_payment", args=[attempt.order.number])
        assert f'action="{check}"' in body and "Check my payment now" in body
        assert 'name="payment_intent" value="pi_fake_0001"' in body

    def test_the_check_post_settles_it_and_shows_the_status(self, client, fake):
        attempt = three_d_secure(client, fake)
        number = attempt.order.number
        response = client.post(
            reverse("checkout:order_check_payment", args=[number]),
            {"payment_intent": "pi_fake_0001"},
        )
        assert response.status_code == 302
        assert response["Location"] == reverse("checkout:order_status", args=[number])
        assert reads_of(fake, "pi_fake_0001") == 1
        attempt.refresh_from_db()
        assert attempt.status == S.SUCCEEDED
        assert Order.objects.get().status == Order.Status.PAID
        # Pressing it again (a refresh of the POST) asks nobody: the attempt no longer waits.
        client.post(
            reverse("checkout:order_check_payment", args=[number]),
            {"payment_intent": "pi_fake_0001"},
        )
        assert reads_of(fake, "pi_fake_0001") == 1
        page = client.get(response["Location"]).content.decode()
        assert "Paid — thank you!" in page

    def test_a_stranger_cannot_make_us_ask(self, client, fake, mallory):
        attempt = three_d_secure(client, fake)
        stranger = Client()
        stranger.force_login(mallory)
        response = stranger.post(
            reverse("checkout:order_check_payment", args=[attempt.order.number]),
            {"payment_intent": "pi_fake_0001"},
        )
        assert response.status_code == 404
        assert reads_of(fake, "pi_fake_0001") == 0
        attempt.refresh_from_db()
        assert attempt.status == S.REQUIRES_ACTION

    def test_another_intent_asks_nobody(self, client, fake):
        attempt = three_d_secure(client, fake)
        client.post(
            reverse("checkout:order_check_payment", args=[attempt.order.number]),
            {"payment_intent": "pi_someone_else"},
        )
        assert reads_of(fake, "pi_someone_else") + reads_of(fake, "pi_fake_0001") == 0

    def test_the_check_is_post_only(self, client, fake):
        attempt = three_d_secure(client, fake)
        url = reverse("checkout:order_check_payment", args=[attempt.order.number])
        assert client.get(f"{url}?payment_intent=pi_fake_0001").status_code == 405
        assert reads_of(fake, "pi_fake_0001") == 0


class TestTheCheckoutVisit:
    def test_counted_once_per_checkout(self, client, shop):
        fill_cart(client, "mug")
        first = checkout_form(client)
        assert CheckoutVisit.objects.count() == 1
        # A refresh, a second look, the page after a failed payment: the same checkout.
        again = checkout_form(client)
        checkout_form(client)
        assert again["checkout_token"] == first["checkout_token"]
        assert list(CheckoutVisit.objects.values_list("token", flat=True)) == [
            first["checkout_token"]
        ]

    def test_an_empty_cart_counts_nothing(self, client, shop):
        response = client.get(reverse("checkout:checkout"))
        assert response.status_code == 302
        assert CheckoutVisit.objects.count() == 0


class TestNoReminders:
    def test_the_opt_out_is_saved_with_its_time_and_repeats_safely(self, client, shop):
        order = OrderFactory()
        url = reverse("checkout:order_no_reminders", args=[order.number])
        before = order.updated_at
        later = timezone.now() + timedelta(minutes=5)
        with time_machine.travel(later, tick=False):
            response = client.post(url, {"key": order.client_secret})
        assert response.status_code == 200
        order.refresh_from_db()
        assert order.follow_up_opt_out is True
        # A model save (the old queryset .update() left updated_at behind).
        assert order.updated_at == later and order.updated_at != before
        with time_machine.travel(later + timedelta(minutes=5), tick=False):
            assert client.post(url, {"key": order.client_secret}).status_code == 200
        order.refresh_from_db()
        assert order.updated_at == later  # nothing to change the second time

    def test_a_stranger_cannot_opt_someone_out(self, shop, mallory):
        order = OrderFactory()
        stranger = Client()
        stranger.force_login(mallory)
        url = reverse("checkout:order_no_reminders", args=[order.number])
        assert stranger.post(url, {"key": "guess"}).status_code == 404
        order.refresh_from_db()
        assert order.follow_up_opt_out is False

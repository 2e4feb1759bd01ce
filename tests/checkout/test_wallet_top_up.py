from __future__ import annotations

import pytest
from django.urls import reverse

from checkout.models import Order
from payments.models import Wallet

pytestmark = pytest.mark.django_db
URL = "/wallet/top-up/"


def form_key(client) -> str:
    return client.get(URL).context["form"].initial["idempotency_key"]


def test_top_up_needs_sign_in(client, shop):
    response = client.get(URL)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_top_up_by_card_credits_the_wallet_and_shows_the_balance(client, shop, alice):
    client.force_login(alice)
    page = client.get(URL).content.decode()
    assert "Your balance: $0.00" in page and 'value="wallet"' not in page
    key = form_key(client)
    data = {
        "amount": "25.50",
        "method": "card",
        "payment_method": "4242 4242 4242 4242",
        "idempotency_key": key,
    }
    response = client.post(URL, data)
    order = Order.objects.get()
    assert response["Location"] == reverse("checkout:order_status", args=[order.number])
    assert (order.kind, order.total, order.status) == ("wallet_top_up", 2550, "paid")
    assert Wallet.objects.get(user=alice).balance == 2550
    # Pressing the button twice credits once.
    client.post(URL, data)
    assert Wallet.objects.get(user=alice).balance == 2550
    assert "Your balance: $25.50" in client.get(URL).content.decode()


def test_declined_top_up_keeps_the_amount_and_says_why(client, shop, alice):
    client.force_login(alice)
    response = client.post(
        URL,
        {
            "amount": "10",
            "method": "card",
            "payment_method": "4000000000009995",
            "idempotency_key": form_key(client),
        },
    )
    assert response.status_code == 402
    body = response.content.decode()
    assert "The card does not have enough funds for this payment." in body
    assert 'value="10' in body
    assert not Wallet.objects.filter(user=alice, balance__gt=0).exists()


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("", "Enter how much to add."),
        ("0.5", "The smallest top-up is 1."),
        ("abc", "Enter an amount like 20 or 20.50."),
    ],
)
def test_bad_amounts_are_explained(client, shop, alice, amount, message):
    client.force_login(alice)
    response = client.post(
        URL,
        {
            "amount": amount,
            "method": "card",
            "payment_method": "pm_card_visa",
            "idempotency_key": form_key(client),
        },
    )
    assert response.status_code == 400 and message in response.content.decode()
    assert not Order.objects.exists()


def test_checkout_links_to_top_up_when_the_wallet_is_short(client, shop, alice):
    client.force_login(alice)
    client.post(reverse("checkout:cart_update"), {"sku": "mug"})
    page = client.get(reverse("checkout:checkout")).content.decode()
    assert 'href="/wallet/top-up/"' in page and "Top up your wallet" in page


class TestAPaymentErrorIsSaidNotSwallowed:
    """A PaymentError used to send the top-up page back to itself with no word of why."""

    def test_an_amount_over_the_methods_limit_says_so_and_keeps_the_form(self, client, shop, alice):
        from payments.models import PaymentAttempt, PaymentMethod

        PaymentMethod.objects.filter(code="card").update(max_amount=5000)
        client.force_login(alice)
        data = {
            "amount": "80",
            "method": "card",
            "payment_method": "pm_card_visa",
            "idempotency_key": form_key(client),
        }
        response = client.post(URL, data)
        assert response.status_code == 409  # the API's status for method_unavailable
        body = response.content.decode()
        # The same words the API says for this reason, in the error summary that takes focus.
        assert "This order is over the limit for this method." in body
        assert 'id="error-summary"' in body
        assert 'value="80' in body  # what was typed is kept
        # The next press gets its own key; nothing was charged.
        assert f'value="{data["idempotency_key"]}"' not in body
        assert not PaymentAttempt.objects.exists()
        assert not Wallet.objects.filter(user=alice, balance__gt=0).exists()

    def test_in_chinese(self, client, shop, alice):
        from payments.models import PaymentMethod

        PaymentMethod.objects.filter(code="card").update(max_amount=5000)
        client.force_login(alice)
        key = form_key(client)
        data = {
            "amount": "80",
            "method": "card",
            "payment_method": "pm_card_visa",
            "idempotency_key": key,
        }
        response = client.post(URL, data, HTTP_ACCEPT_LANGUAGE="zh-hans")
        assert response.status_code == 409
        assert "此订单金额超出该支付方式的限额。" in response.content.decode()

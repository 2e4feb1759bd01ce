"""The checkout page offers part of the wallet when it holds less than the total; the order page,
the failure box and the receipt say what each part did."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.urls import reverse

from checkout.models import Order
from payments import services
from payments.models import Wallet, WalletEntry

from .helpers import checkout_form, fill_cart, pay

pytestmark = pytest.mark.django_db

CHECKBOX = 'name="wallet_amount"'
OFFER = "Use $8.00 from your wallet and pay the remaining $16.00 with the method you choose."
GIVEN_BACK = "The $8.00 from your wallet was not spent: it is back in your balance."


def fund(user, amount):
    services.wallet_move(
        user=user, currency="USD", amount=amount, kind="adjustment", actor="test", reference="seed"
    )


def balance(user):
    return Wallet.objects.get(user=user, currency="USD").balance


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_the_checkbox_shows_the_split_to_the_owner(client, shop, alice):
    fund(alice, 800)
    client.force_login(alice)
    fill_cart(client, "mug", "mug")  # 2 x 12.00
    page = text(client.get(reverse("checkout:checkout")))
    assert '<input type="checkbox" name="wallet_amount" value="800" id="id_wallet_amount"' in page
    assert "Use my wallet balance ($8.00)" in page
    assert OFFER in page


@pytest.mark.parametrize(("who", "funds"), [("guest", 800), ("alice", 0), ("alice", 2400)])
def test_no_checkbox_for_a_guest_an_empty_wallet_or_one_that_covers_it_all(
    client, shop, alice, who, funds
):
    if funds:
        fund(alice, funds)
    if who == "alice":
        client.force_login(alice)
    fill_cart(client, "mug", "mug")
    page = text(client.get(reverse("checkout:checkout")))
    assert CHECKBOX not in page
    assert "Use my wallet balance" not in page


def test_a_stranger_signed_in_is_not_offered_someone_elses_wallet(client, shop, alice, mallory):
    fund(alice, 800)
    client.force_login(mallory)
    fill_cart(client, "mug", "mug")
    assert CHECKBOX not in text(client.get(reverse("checkout:checkout")))
    # A crafted post with a wallet part: mallory has no balance, so nothing is charged.
    response = pay(client, checkout_form(client), wallet_amount="800")
    assert response.status_code == 409  # as for a wallet too short to pay a whole order
    assert "Your wallet balance is not enough for this order." in text(response)
    assert balance(alice) == 800
    assert not Order.objects.filter(status=Order.Status.PAID).exists()


def test_a_declined_second_part_spends_nothing_and_the_box_says_so(client, shop, alice):
    fund(alice, 800)
    client.force_login(alice)
    fill_cart(client, "mug", "mug")
    response = pay(
        client,
        checkout_form(client),
        wallet_amount="800",
        payment_method="pm_card_visa_chargeDeclined",
    )
    assert response.status_code == 402
    page = text(response)
    assert "Your payment did not go through" in page
    assert GIVEN_BACK in page
    assert balance(alice) == 800
    assert list(WalletEntry.objects.exclude(reference="seed").values_list("kind", "amount")) == [
        ("payment", -800),
        ("release", 800),
    ]
    # The box stays ticked for the next try, and the order page says the same.
    assert 'value="800" id="id_wallet_amount" aria-describedby="wallet-split-help" checked' in page
    order = Order.objects.get()
    assert GIVEN_BACK in text(client.get(reverse("checkout:order_status", args=[order.number])))


def test_paying_with_part_of_the_wallet_pays_the_order_and_shows_both_parts(
    client, shop, alice, django_capture_on_commit_callbacks
):
    fund(alice, 800)
    client.force_login(alice)
    fill_cart(client, "mug", "mug")
    with django_capture_on_commit_callbacks(execute=True):
        response = pay(client, checkout_form(client), wallet_amount="800")
    order = Order.objects.get()
    assert response.status_code == 302
    assert order.status == Order.Status.PAID
    assert balance(alice) == 0
    page = text(client.get(reverse("checkout:order_status", args=[order.number])))
    assert 'Paid from your wallet</th><td class="num">$8.00' in page
    assert 'Paid with Visa ···4242</th><td class="num">$16.00' in page
    receipts = [m for m in mail.outbox if order.number in m.subject]
    assert len(receipts) == 1
    assert "Paid from your wallet: $8.00" in receipts[0].body
    assert "Paid with Visa ···4242: $16.00" in receipts[0].body
    html = receipts[0].alternatives[0][0]
    assert "Paid from your wallet" in html and "$16.00" in html


def test_a_balance_that_shrank_since_the_page_was_shown_charges_nothing(client, shop, alice):
    fund(alice, 800)
    client.force_login(alice)
    fill_cart(client, "mug", "mug")
    tokens = checkout_form(client)
    services.wallet_move(
        user=alice, currency="USD", amount=-300, kind="adjustment", actor="t", reference="spent"
    )
    response = pay(client, tokens, wallet_amount="800")
    assert response.status_code == 409
    page = text(response)
    assert "Your wallet balance is not enough for this order." in page
    # The page offers what the wallet holds now.
    assert "Use $5.00 from your wallet and pay the remaining $19.00" in page
    assert balance(alice) == 500
    assert not Order.objects.filter(status=Order.Status.PAID).exists()


@pytest.mark.parametrize("value", ["abc", "-5", "0"])
def test_a_garbled_wallet_part_is_explained_not_a_500(client, shop, alice, value):
    fund(alice, 800)
    client.force_login(alice)
    fill_cart(client, "mug", "mug")
    response = pay(client, checkout_form(client), wallet_amount=value)
    assert response.status_code == 400
    assert "Tick the wallet box again, or leave it empty, and press Pay." in text(response)
    assert balance(alice) == 800


def test_while_the_second_part_waits_the_order_page_says_the_wallet_part_is_set_aside(
    client, shop, alice
):
    fund(alice, 800)
    client.force_login(alice)
    fill_cart(client, "mug", "mug")
    pay(
        client,
        checkout_form(client),
        wallet_amount="800",
        payment_method="pm_card_authenticationRequired",
    )
    order = Order.objects.get()
    page = text(client.get(reverse("checkout:order_status", args=[order.number])))
    assert (
        "$8.00 from your wallet is set aside for this order, and $16.00 is being paid with "
        "Visa ···3184. If that does not go through, the $8.00 goes back to your balance."
    ) in page
    assert balance(alice) == 0
    # "Pay another way" cancels the step: the part is back, and the account page says why.
    client.post(reverse("checkout:order_cancel_payment", args=[order.number]))
    assert balance(alice) == 800
    account = text(client.get(reverse("account")))
    assert "Returned (payment not completed)" in account

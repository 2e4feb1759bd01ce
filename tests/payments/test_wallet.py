"""The wallet: a ledger whose sum is the balance, never negative, topped up through the engine."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.urls import reverse

from checkout.models import Order
from checkout.services import CheckoutError, wallet_top_up_order_create
from payments import services
from payments.models import AttemptStatus, PaymentMethod, Wallet, WalletEntry
from tests.checkout.helpers import checkout_form, fill_cart, pay
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db
S = AttemptStatus


def top_up(user, amount, shop, key="top-up"):
    order = wallet_top_up_order_create(user=user, amount=amount, currency="USD", language="en")
    return services.attempt_pay(
        order=order,
        method=shop["methods"]["card"],
        idempotency_key=key,
        payment_method="pm_card_visa",
    )


def ledger_matches(user):
    for wallet in Wallet.objects.filter(user=user):
        total = wallet.entries.aggregate(total=Sum("amount"))["total"] or 0
        assert total == wallet.balance
        assert wallet.balance >= 0


def test_top_up_paid_by_card_credits_the_wallet_once(alice, shop):
    attempt = top_up(alice, 5000, shop)
    assert attempt.status == S.SUCCEEDED
    wallet = Wallet.objects.get(user=alice)
    assert wallet.balance == 5000
    entry = wallet.entries.get()
    assert (entry.kind, entry.amount, entry.attempt) == ("top_up", 5000, attempt)
    # The same top-up replayed (same key) credits nothing more.
    services.attempt_pay(
        order=attempt.order,
        method=shop["methods"]["card"],
        idempotency_key="top-up",
        payment_method="pm_card_visa",
    )
    wallet.refresh_from_db()
    assert wallet.balance == 5000
    ledger_matches(alice)


def test_declined_top_up_credits_nothing(alice, shop):
    order = wallet_top_up_order_create(user=alice, amount=5000, currency="USD", language="en")
    attempt = services.attempt_pay(
        order=order,
        method=shop["methods"]["card"],
        idempotency_key="k",
        payment_method="pm_card_visa_chargeDeclined",
    )
    assert attempt.status == S.FAILED
    assert not WalletEntry.objects.exists()


def test_a_top_up_needs_an_account_and_a_sane_amount(alice):
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(CheckoutError):
        wallet_top_up_order_create(user=AnonymousUser(), amount=100, currency="USD", language="en")
    for amount in (0, -5, 10_000_000):
        with pytest.raises(CheckoutError):
            wallet_top_up_order_create(user=alice, amount=amount, currency="USD", language="en")


def test_a_top_up_cannot_be_paid_from_the_wallet_itself(alice, shop):
    top_up(alice, 5000, shop)
    order = wallet_top_up_order_create(user=alice, amount=100, currency="USD", language="en")
    with pytest.raises(services.MethodUnavailable) as excinfo:
        services.attempt_pay(
            order=order, method=shop["methods"]["wallet"], user=alice, idempotency_key="w"
        )
    assert excinfo.value.reason == "not_for_top_up"


def test_paying_with_the_wallet_debits_it_once(alice, shop):
    top_up(alice, 5000, shop)
    order = OrderFactory(user=alice, total=2400)
    attempt = services.attempt_pay(
        order=order, method=shop["methods"]["wallet"], user=alice, idempotency_key="pay"
    )
    assert attempt.status == S.SUCCEEDED
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID
    again = services.attempt_pay(
        order=order, method=shop["methods"]["wallet"], user=alice, idempotency_key="pay"
    )
    assert again.pk == attempt.pk
    assert Wallet.objects.get(user=alice).balance == 2600
    debit = WalletEntry.objects.get(kind="payment")
    assert (debit.amount, debit.attempt) == (-2400, attempt)
    ledger_matches(alice)


def test_short_balance_makes_the_wallet_unavailable_with_the_reason(alice, shop):
    top_up(alice, 1000, shop)
    order = OrderFactory(user=alice, total=2400)
    with pytest.raises(services.MethodUnavailable) as excinfo:
        services.attempt_pay(
            order=order, method=shop["methods"]["wallet"], user=alice, idempotency_key="w"
        )
    assert excinfo.value.reason == "wallet_insufficient"
    assert Wallet.objects.get(user=alice).balance == 1000


def test_a_race_past_the_availability_check_fails_cleanly(alice, shop):
    """The balance is re-checked under the wallet lock: a spend that lost the race fails."""
    top_up(alice, 3000, shop)
    order = OrderFactory(user=alice, total=2400)
    attempt, _ = services.attempt_create(
        order=order, method=shop["methods"]["wallet"], user=alice, idempotency_key="w"
    )
    services.wallet_move(
        user=alice,
        currency="USD",
        amount=-1000,
        kind="adjustment",
        actor="staff:carol",
        reference="adj-1",
    )
    attempt = services.attempt_send(attempt=attempt)
    assert (attempt.status, attempt.failure_code) == (S.FAILED, "wallet_insufficient")
    assert Wallet.objects.get(user=alice).balance == 2000
    ledger_matches(alice)


def test_the_database_refuses_a_negative_balance(alice, shop):
    top_up(alice, 100, shop)
    with pytest.raises(IntegrityError), transaction.atomic():
        Wallet.objects.filter(user=alice).update(balance=-1)


def test_entries_are_append_only(alice, shop):
    top_up(alice, 100, shop)
    entry = WalletEntry.objects.get()
    entry.amount = 1_000_000
    with pytest.raises(ValueError, match="append-only"):
        entry.save()


def test_checkout_shows_the_balance_and_pays_with_the_wallet(client, alice, shop):
    top_up(alice, 5000, shop)
    client.force_login(alice)
    fill_cart(client, "mug")
    page = client.get(reverse("checkout:checkout")).content.decode()
    assert "Balance: $50.00" in page and 'value="wallet"' in page
    response = pay(
        client, checkout_form(client), email="alice@example.com", method="wallet", payment_method=""
    )
    assert response.status_code == 302
    assert Wallet.objects.get(user=alice).balance == 5000 - 1200


def test_guests_see_the_wallet_as_unavailable(client, shop):
    fill_cart(client, "mug")
    page = client.get(reverse("checkout:checkout")).content.decode()
    assert "Sign in to pay with your wallet." in page and "Balance:" not in page
    assert PaymentMethod.objects.filter(code="wallet").exists()

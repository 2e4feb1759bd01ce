"""Paying with part of the wallet: the wallet part is held when the attempt is created, given back
when the attempt ends unpaid, taken again on a late success, and refunded to where it came from."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import AnonymousUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from checkout.models import Order
from payments import services
from payments.gateways import ChargeResult, Outcome
from payments.models import (
    AttemptStatus,
    PaymentEvent,
    Refund,
    SimulatedCharge,
    SimulatedRefund,
    Wallet,
    WalletEntry,
)
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db
S = AttemptStatus


def fund(user, amount):
    services.wallet_move(
        user=user, currency="USD", amount=amount, kind="adjustment", actor="test", reference="seed"
    )


def balance(user):
    return Wallet.objects.get(user=user, currency="USD").balance


def entries(user):
    """The wallet's ledger as (kind, amount), oldest first."""
    return list(
        WalletEntry.objects.filter(wallet__user=user)
        .exclude(reference="seed")
        .values_list("kind", "amount")
    )


def pay(shop, order, user, wallet_amount, token="pm_card_visa", key="k", method="card"):
    return services.attempt_pay(
        order=order,
        method=shop["methods"][method],
        idempotency_key=key,
        payment_method=token,
        user=user,
        wallet_amount=wallet_amount,
    )


# balance, order total, wallet part -> provider charged, balance after paying
SPLITS = [
    (800, 2400, 800, 1600, 0),
    (2000, 2400, 1500, 900, 500),
    (1000, 2400, 1, 2399, 999),
    (2399, 2400, 2399, 1, 0),
]


@pytest.mark.parametrize(("start", "total", "part", "charged", "after"), SPLITS)
def test_the_split_charges_the_rest_and_spends_the_wallet_once(
    shop, alice, start, total, part, charged, after
):
    fund(alice, start)
    order = OrderFactory(user=alice, total=total)
    attempt = pay(shop, order, alice, part)
    assert (attempt.status, attempt.amount, attempt.wallet_amount) == (S.SUCCEEDED, charged, part)
    assert SimulatedCharge.objects.get().amount == charged
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert balance(alice) == after
    assert entries(alice) == [("payment", -part)]
    # The same press replayed (a refresh, a double press): nothing moves again.
    again = pay(shop, order, alice, part)
    assert again.pk == attempt.pk
    assert balance(alice) == after
    assert SimulatedCharge.objects.count() == 1
    assert entries(alice) == [("payment", -part)]


# who asks, method, wallet part, balance -> the reason refused
REFUSED = [
    ("alice", "card", 2400, 3000, "wallet_covers_order"),
    ("alice", "card", 9000, 3000, "wallet_covers_order"),
    ("alice", "card", 900, 800, "wallet_insufficient"),
    ("alice", "wallet", 800, 3000, "wallet_split_invalid"),
    ("mallory", "card", 800, 3000, "wallet_owner_only"),
    ("guest", "card", 800, 3000, "wallet_owner_only"),
]


@pytest.mark.parametrize(("who", "method", "part", "start", "reason"), REFUSED)
def test_a_wallet_part_that_cannot_be_taken_charges_nothing(
    shop, alice, mallory, who, method, part, start, reason
):
    fund(alice, start)
    user = {"alice": alice, "mallory": mallory, "guest": AnonymousUser()}[who]
    order = OrderFactory(user=alice, total=2400)
    with pytest.raises(services.MethodUnavailable) as raised:
        pay(shop, order, user, part, method=method)
    assert raised.value.reason == reason
    assert balance(alice) == start
    assert not order.attempts.exists()
    assert not SimulatedCharge.objects.exists()


def test_a_decline_gives_the_wallet_part_back_in_the_same_transaction(shop, alice):
    fund(alice, 800)
    order = OrderFactory(user=alice, total=2400)
    attempt = pay(shop, order, alice, 800, token="pm_card_visa_chargeDeclined")
    assert attempt.status == S.FAILED
    assert balance(alice) == 800
    assert entries(alice) == [("payment", -800), ("release", 800)]
    assert WalletEntry.objects.filter(attempt=attempt, kind="release").count() == 1
    assert attempt.events.filter(kind=PaymentEvent.Kind.WALLET).count() == 1
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING


def test_the_release_and_the_failure_commit_together(shop, alice, monkeypatch):
    """A crash after the failure is written but before the transaction ends leaves neither:
    the attempt is still sent and the part still held, never failed with the money kept."""
    fund(alice, 800)
    order = OrderFactory(user=alice, total=2400)
    attempt, _ = services.attempt_create(
        order=order, method=shop["methods"]["card"], idempotency_key="k", user=alice,
        payment_method="pm_card_visa", wallet_amount=800,
    )  # fmt: skip
    services.attempt_transition(attempt=attempt, to=S.SENT, actor="test")
    declined = ChargeResult(Outcome.FAILED, "ch_1", failure_code="card_declined")

    def crash(**kwargs):
        raise RuntimeError("worker died")

    monkeypatch.setattr("payments.services.transition._count_move", crash)
    with pytest.raises(RuntimeError):
        services.attempt_apply_result(attempt=attempt, result=declined, actor="test")
    attempt.refresh_from_db()
    assert attempt.status == S.SENT
    assert (balance(alice), entries(alice)) == (0, [("payment", -800)])
    monkeypatch.undo()
    services.attempt_apply_result(attempt=attempt, result=declined, actor="test")
    assert (balance(alice), entries(alice)) == (800, [("payment", -800), ("release", 800)])
    # The same decline delivered again (a webhook after the answer) gives back nothing more.
    services.attempt_apply_result(attempt=attempt, result=declined, actor="webhook")
    assert (balance(alice), entries(alice)) == (800, [("payment", -800), ("release", 800)])


def test_the_database_lets_a_release_happen_once_per_attempt(shop, alice):
    fund(alice, 800)
    order = OrderFactory(user=alice, total=2400)
    attempt = pay(shop, order, alice, 800, token="pm_card_visa_chargeDeclined")
    wallet = Wallet.objects.get(user=alice)
    with pytest.raises(IntegrityError), transaction.atomic():
        WalletEntry.objects.create(
            wallet=wallet, kind="release", amount=800, attempt=attempt, created_by="test"
        )


def test_canceling_a_step_the_customer_left_gives_the_part_back(shop, alice):
    fund(alice, 800)
    order = OrderFactory(user=alice, total=2400)
    attempt = pay(shop, order, alice, 800, token="pm_card_authenticationRequired")
    assert attempt.status == S.REQUIRES_ACTION
    assert balance(alice) == 0  # held while the customer approves
    attempt = services.attempt_cancel(attempt=attempt, actor="customer:alice@example.com")
    assert attempt.status == S.CANCELED
    assert (balance(alice), entries(alice)) == (800, [("payment", -800), ("release", 800)])


def test_giving_up_on_an_unanswered_payment_gives_the_part_back(shop, alice):
    fund(alice, 800)
    order = OrderFactory(user=alice, total=2400)
    attempt = pay(shop, order, alice, 800, token="pm_sim_outage")
    assert attempt.status == S.UNKNOWN
    assert balance(alice) == 0
    with time_machine.travel(timezone.now() + timedelta(minutes=31), tick=False):
        services.reconcile_attempts()
    attempt.refresh_from_db()
    assert attempt.status == S.FAILED
    assert (balance(alice), entries(alice)) == (800, [("payment", -800), ("release", 800)])


def confirm_late(attempt):
    return services.attempt_apply_result(
        attempt=attempt,
        result=ChargeResult(outcome=Outcome.SUCCEEDED, reference="sim_late", amount=1600),
        actor="webhook:simulator:evt_late",
    )


def test_a_late_success_takes_the_wallet_part_again_and_pays_the_order(shop, alice):
    fund(alice, 800)
    order = OrderFactory(user=alice, total=2400)
    attempt = pay(shop, order, alice, 800, token="pm_card_visa_chargeDeclined")
    assert balance(alice) == 800
    late = confirm_late(attempt)
    assert late.status == S.SUCCEEDED
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert balance(alice) == 0
    assert entries(alice) == [("payment", -800), ("release", 800), ("retake", -800)]
    # Told again: nothing more is taken.
    confirm_late(late)
    assert balance(alice) == 0
    assert len(entries(alice)) == 3


def test_a_late_success_after_the_part_was_spent_is_flagged_for_refund(shop, alice):
    fund(alice, 800)
    order = OrderFactory(user=alice, total=2400)
    attempt = pay(shop, order, alice, 800, token="pm_card_visa_chargeDeclined")
    # The customer spends the given-back balance on another order meanwhile.
    other = OrderFactory(user=alice, total=500)
    assert pay(shop, other, alice, 0, token="", key="w", method="wallet").status == S.SUCCEEDED
    assert balance(alice) == 300
    late = confirm_late(attempt)
    assert late.status == S.FAILED
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING
    assert balance(alice) == 300
    assert late.events.filter(kind=PaymentEvent.Kind.REFUND_NEEDED).count() == 1
    assert not WalletEntry.objects.filter(attempt=attempt, kind="retake").exists()


@pytest.fixture
def split_paid(shop, alice):
    """Order of 2400 paid 1600 by card and 800 from the wallet."""
    fund(alice, 800)
    attempt = pay(shop, OrderFactory(user=alice, total=2400), alice, 800)
    assert attempt.status == S.SUCCEEDED and balance(alice) == 0
    return attempt


def refund(attempt, amount, destination="original", key=None):
    return services.refund_create(
        attempt=attempt,
        amount=amount,
        destination=destination,
        reason="customer asked",
        actor="staff:carol@example.com",
        idempotency_key=key or f"r-{amount}-{Refund.objects.count()}",
    )


# refund amount -> (to the card, to the wallet), in order, each refund after the one before
REFUND_STEPS = [(1000, 1000, 0), (1000, 600, 400), (400, 0, 400)]


def test_refunds_of_a_split_payment_go_back_provider_part_first(split_paid, alice):
    card_total = wallet_total = 0
    for amount, to_card, to_wallet in REFUND_STEPS:
        done = refund(split_paid, amount)
        assert done.status == Refund.Status.SUCCEEDED
        assert done.wallet_amount == to_wallet
        card_total += to_card
        wallet_total += to_wallet
        provider = sum(SimulatedRefund.objects.values_list("amount", flat=True))
        assert (provider, balance(alice)) == (card_total, wallet_total)
    assert list(SimulatedRefund.objects.order_by("id").values_list("amount", flat=True)) == [
        1000,
        600,
    ]
    split_paid.refresh_from_db()
    assert split_paid.status == S.REFUNDED
    assert split_paid.refunded_amount == 2400
    assert split_paid.order.status == Order.Status.REFUNDED
    assert entries(alice) == [("payment", -800), ("refund", 400), ("refund", 400)]
    with pytest.raises(services.RefundNotAllowed):
        refund(split_paid, 1)


def test_a_whole_refund_returns_each_part_where_it_came_from(split_paid, alice):
    done = refund(split_paid, 2400)
    assert (done.status, done.wallet_amount) == (Refund.Status.SUCCEEDED, 800)
    assert list(SimulatedRefund.objects.values_list("amount", flat=True)) == [1600]
    assert balance(alice) == 800
    # Retried with its key: nothing moves again.
    again = refund(split_paid, 2400, key=done.idempotency_key)
    assert again.pk == done.pk
    assert balance(alice) == 800
    assert SimulatedRefund.objects.count() == 1


def test_a_refund_to_the_wallet_puts_all_of_it_in_the_wallet(split_paid, alice):
    done = refund(split_paid, 2000, destination="wallet")
    assert (done.status, done.wallet_amount) == (Refund.Status.SUCCEEDED, 400)
    assert balance(alice) == 2000
    assert not SimulatedRefund.objects.exists()


def test_a_failed_refund_gives_nothing_to_the_wallet(shop, alice):
    fund(alice, 800)
    attempt = pay(shop, OrderFactory(user=alice, total=2400), alice, 800, "pm_sim_refund_fails")
    done = refund(attempt, 2400)
    assert done.status == Refund.Status.FAILED
    assert balance(alice) == 0
    attempt.refresh_from_db()
    assert attempt.refunded_amount == 0


def test_refunds_can_never_exceed_both_parts(split_paid):
    with pytest.raises(services.RefundNotAllowed):
        refund(split_paid, 2401)
    with pytest.raises(IntegrityError), transaction.atomic():
        type(split_paid).objects.filter(pk=split_paid.pk).update(refunded_amount=2401)


def test_the_timeline_and_the_api_show_both_parts(split_paid, alice, client):
    created = split_paid.events.get(kind=PaymentEvent.Kind.CREATED)
    assert created.payload == {
        "method": "card",
        "amount": 1600,
        "wallet_amount": 800,
        "currency": "USD",
    }
    client.force_login(alice)
    body = client.get(f"/api/v1/payments/{split_paid.public_id}/").json()
    assert body["amount"] == {"amount": 1600, "currency": "USD"}
    assert body["wallet_amount"] == {"amount": 800, "currency": "USD"}


def test_the_admin_attempt_page_shows_both_parts(split_paid, client, carol):
    client.force_login(carol)
    url = f"/admin/payments/paymentattempt/{split_paid.pk}/change/"
    page = client.get(url).content.decode()
    assert "&quot;wallet_amount&quot;: 800" in page or '"wallet_amount": 800' in page
    assert "From the wallet (minor units)" in page


def test_the_api_pays_with_part_of_the_wallet_for_the_owner_only(shop, alice, mallory):
    from rest_framework.test import APIClient

    fund(alice, 800)
    order = OrderFactory(user=alice, total=2400)
    url = f"/api/v1/orders/{order.number}/payments/"
    body = {"method": "card", "payment_method": "pm_card_visa", "wallet_amount": 800}
    stranger = APIClient()
    stranger.force_authenticate(mallory)
    assert stranger.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="m").status_code == 404
    api = APIClient()
    api.force_authenticate(alice)
    too_much = api.post(
        url, body | {"wallet_amount": 2400}, format="json", HTTP_IDEMPOTENCY_KEY="a"
    )
    assert (too_much.status_code, too_much.json()["reason"]) == (409, "wallet_covers_order")
    assert balance(alice) == 800
    paid = api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="b")
    assert paid.status_code == 201
    assert paid.json()["amount"] == {"amount": 1600, "currency": "USD"}
    assert paid.json()["wallet_amount"] == {"amount": 800, "currency": "USD"}
    assert balance(alice) == 0
    again = api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="b")
    assert (again.status_code, balance(alice)) == (200, 0)


def test_an_attempt_created_but_never_sent_gives_the_part_back_after_the_limit(shop, alice):
    """The request died between creating and sending: after the confirmation limit the sweep
    cancels it (nothing reached the provider) and the held part goes back."""
    from payments.tasks import reconcile_payments

    fund(alice, 800)
    order = OrderFactory(user=alice, total=2400)
    attempt, _ = services.attempt_create(
        order=order, method=shop["methods"]["card"], idempotency_key="k", user=alice,
        payment_method="pm_card_visa", wallet_amount=800,
    )  # fmt: skip
    assert balance(alice) == 0
    with time_machine.travel(timezone.now() + timedelta(minutes=29), tick=False):
        assert reconcile_payments()["unsent"] == 0
    assert balance(alice) == 0
    with time_machine.travel(timezone.now() + timedelta(minutes=31), tick=False):
        assert reconcile_payments()["unsent"] == 1
        assert reconcile_payments()["unsent"] == 0
    attempt.refresh_from_db()
    assert (attempt.status, attempt.failure_code) == (S.CANCELED, "canceled")
    assert (balance(alice), entries(alice)) == (800, [("payment", -800), ("release", 800)])
    assert not SimulatedCharge.objects.exists()
    # The customer's retry with the same key is told it was canceled, and sends nothing.
    again = pay(shop, order, alice, 800)
    assert (again.pk, again.status) == (attempt.pk, S.CANCELED)
    assert not SimulatedCharge.objects.exists()


def test_a_pending_split_that_fails_later_is_emailed_with_the_part_given_back(
    shop, alice, django_capture_on_commit_callbacks
):
    from django.core import mail

    fund(alice, 800)
    order = OrderFactory(user=alice, total=2400)
    attempt = pay(shop, order, alice, 800, token="pm_sim_outage")
    assert attempt.status == S.UNKNOWN
    declined = ChargeResult(Outcome.FAILED, "ch_1", failure_code="card_declined")
    with django_capture_on_commit_callbacks(execute=True):
        services.attempt_apply_result(attempt=attempt, result=declined, actor="reconciliation")
    assert balance(alice) == 800
    [email] = [m for m in mail.outbox if order.email in m.to]
    assert "The $8.00 from your wallet was not spent: it is back in your balance." in email.body

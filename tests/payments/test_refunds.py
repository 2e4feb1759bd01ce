"""Refunds: never more than was paid, each an event, the order says refunded."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from rest_framework.test import APIClient

from checkout.models import Order
from checkout.services import wallet_top_up_order_create
from payments import services
from payments.models import AttemptStatus, PaymentEvent, Refund, SimulatedRefund, Wallet
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db
S = AttemptStatus


@pytest.fixture
def paid(shop, alice):
    order = OrderFactory(user=alice, total=2400)
    return services.attempt_pay(
        order=order,
        method=shop["methods"]["card"],
        idempotency_key="k",
        payment_method="pm_card_visa",
    )


def refund(attempt, amount, destination="original", actor="staff:carol@example.com"):
    return services.refund_create(
        attempt=attempt,
        amount=amount,
        destination=destination,
        reason="customer asked",
        actor=actor,
    )


def test_partial_then_full_refund_through_the_provider(paid):
    first = refund(paid, 1000)
    assert first.status == Refund.Status.SUCCEEDED and first.provider_reference.startswith("simre_")
    paid.refresh_from_db()
    assert (paid.status, paid.refunded_amount) == (S.PARTIALLY_REFUNDED, 1000)
    assert paid.order.status == Order.Status.PARTIALLY_REFUNDED
    refund(paid, 1400)
    paid.refresh_from_db()
    assert (paid.status, paid.refunded_amount) == (S.REFUNDED, 2400)
    assert Order.objects.get(pk=paid.order_id).status == Order.Status.REFUNDED
    # Each refund: requested (-> pending), then settled (pending -> succeeded).
    assert paid.events.filter(kind=PaymentEvent.Kind.REFUND).count() == 4
    assert SimulatedRefund.objects.count() == 2


@pytest.mark.parametrize("amount", [0, -1, 2401])
def test_refunds_can_never_exceed_what_was_paid(paid, amount):
    with pytest.raises(services.RefundNotAllowed):
        refund(paid, amount)
    paid.refresh_from_db()
    assert paid.refunded_amount == 0


def test_the_remaining_amount_shrinks_with_each_refund(paid):
    refund(paid, 2000)
    with pytest.raises(services.RefundNotAllowed, match="between 1 and 400"):
        refund(paid, 401)


def test_an_unpaid_attempt_cannot_be_refunded(shop):
    failed = services.attempt_pay(
        order=OrderFactory(),
        method=shop["methods"]["card"],
        idempotency_key="f",
        payment_method="pm_card_visa_chargeDeclined",
    )
    with pytest.raises(services.RefundNotAllowed):
        refund(failed, 100)


def test_refund_to_the_wallet(paid, alice):
    result = refund(paid, 500, destination="wallet")
    assert result.status == Refund.Status.SUCCEEDED
    assert Wallet.objects.get(user=alice).balance == 500
    assert not SimulatedRefund.objects.exists()


def test_guest_orders_cannot_be_refunded_to_a_wallet(shop):
    attempt = services.attempt_pay(
        order=OrderFactory(),
        method=shop["methods"]["card"],
        idempotency_key="g",
        payment_method="pm_card_visa",
    )
    with pytest.raises(services.RefundNotAllowed):
        refund(attempt, 100, destination="wallet")


def test_a_refund_the_provider_refuses_gives_the_amount_back(shop, alice):
    attempt = services.attempt_pay(
        order=OrderFactory(user=alice),
        method=shop["methods"]["card"],
        idempotency_key="r",
        payment_method="pm_sim_refund_fails",
    )
    result = refund(attempt, 1000)
    assert (result.status, result.failure_reason) == (
        Refund.Status.FAILED,
        "expired_or_canceled_card",
    )
    attempt.refresh_from_db()
    assert (attempt.status, attempt.refunded_amount) == (S.SUCCEEDED, 0)
    assert refund(attempt, 1000, destination="wallet").status == Refund.Status.SUCCEEDED


def test_wallet_payments_are_refunded_to_the_wallet(shop, alice):
    services.wallet_move(
        user=alice, currency="USD", amount=3000, kind="adjustment", actor="test", reference="seed"
    )
    attempt = services.attempt_pay(
        order=OrderFactory(user=alice, total=2400),
        method=shop["methods"]["wallet"],
        idempotency_key="w",
        user=alice,
    )
    refund(attempt, 2400)
    assert Wallet.objects.get(user=alice).balance == 3000


def test_refunding_a_top_up_takes_the_credit_back_and_not_what_was_spent(shop, alice):
    order = wallet_top_up_order_create(user=alice, amount=5000, currency="USD", language="en")
    top_up = services.attempt_pay(
        order=order,
        method=shop["methods"]["card"],
        idempotency_key="t",
        payment_method="pm_card_visa",
    )
    services.attempt_pay(
        order=OrderFactory(user=alice, total=4000),
        method=shop["methods"]["wallet"],
        idempotency_key="spend",
        user=alice,
    )
    with pytest.raises(services.RefundNotAllowed):
        refund(top_up, 5000)
    assert refund(top_up, 1000).status == Refund.Status.SUCCEEDED
    assert Wallet.objects.get(user=alice).balance == 0


@pytest.fixture
def carol_can_refund(carol):
    return carol  # a superuser has every permission


def test_staff_refund_from_admin(client, carol_can_refund, paid):
    client.force_login(carol_can_refund)
    url = reverse("admin:payments_paymentattempt_refund", args=[paid.pk])
    page = client.get(url)
    assert page.status_code == 200 and "24.00" in page.content.decode()
    form = {"amount": "5.50", "destination": "original", "reason": "late", "idempotency_key": "a1"}
    response = client.post(url, form)
    assert response.status_code == 302
    assert Refund.objects.get().amount == 550
    too_much = client.post(
        url, {"amount": "100", "destination": "original", "reason": "x", "idempotency_key": "a2"}
    )
    assert too_much.status_code == 200 and "between 1 and 1850" in too_much.content.decode()


def test_support_agents_without_the_permission_cannot_refund(client, bob, paid):
    client.force_login(bob)
    assert (
        client.get(reverse("admin:payments_paymentattempt_refund", args=[paid.pk])).status_code
        == 403
    )
    api = APIClient()
    api.force_authenticate(bob)
    response = api.post(
        f"/api/v1/payments/{paid.public_id}/refunds/", {"amount": 100, "reason": "x"}, format="json"
    )
    assert response.status_code == 403
    assert not Refund.objects.exists()


def test_staff_refund_api(bob, paid, alice):
    bob.user_permissions.add(Permission.objects.get(codename="add_refund"))
    api = APIClient()
    api.force_authenticate(bob)
    url = f"/api/v1/payments/{paid.public_id}/refunds/"
    response = api.post(
        url, {"amount": 400, "reason": "damaged"}, format="json", HTTP_IDEMPOTENCY_KEY="r1"
    )
    assert response.status_code == 201
    assert response.json()["status"] == "succeeded" and response.json()["amount"] == 400
    too_much = api.post(
        url, {"amount": 5000, "reason": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="r2"
    )
    assert too_much.status_code == 409
    zero = api.post(url, {"amount": 0, "reason": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="r3")
    assert zero.status_code == 400
    api.force_authenticate(alice)
    stranger = api.post(url, {"amount": 1, "reason": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="r4")
    assert stranger.status_code == 403

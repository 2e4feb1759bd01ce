"""Two tabs of one top-up page at once: one pays 1.00 while the other asks for 10,000.00. Whatever
the order of events, what is credited is what was charged, and each tab is told what happened.
Needs real row locks across connections, so PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from checkout import services as checkout_services
from checkout.models import Order
from payments import services
from payments.models import PaymentAttempt, PaymentMethod, SimulatedCharge, Wallet, WalletEntry
from tests.conftest import ON_POSTGRES
from tests.factories import PaymentMethodFactory, UserFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not ON_POSTGRES,
        reason="needs PostgreSQL row locks across connections: set DATABASE_URL=postgres://...",
    ),
]

ROUNDS = 20
SMALL, LARGE = 100, 1_000_000


def tab_a(user_id: int, token: str, told: dict[str, str], barrier: threading.Barrier) -> None:
    """The tab that typed 1.00 and presses Pay (as the top-up view does)."""
    from django.contrib.auth import get_user_model

    try:
        user = get_user_model().objects.get(pk=user_id)
        order = checkout_services.wallet_top_up_order_create(
            user=user, amount=SMALL, currency="USD", language="en", checkout_token=token
        )
        barrier.wait()
        attempt = services.attempt_pay(
            order=order,
            method=PaymentMethod.objects.get(code="card"),
            idempotency_key=f"a-{token}",
            payment_method="pm_card_visa",
            user=user,
            expected_amount=SMALL,
        )
        told["a"] = attempt.status
    except services.PaymentError as exc:
        told["a"] = exc.code
    except Exception as exc:  # noqa: BLE001 - any other error is what this test hunts for
        told["a"] = f"error:{type(exc).__name__}:{exc}"
    finally:
        connection.close()


def tab_b(user_id: int, token: str, told: dict[str, str], barrier: threading.Barrier) -> None:
    """The other tab, submitting 10,000.00 on the same page at the same moment."""
    from django.contrib.auth import get_user_model

    try:
        user = get_user_model().objects.get(pk=user_id)
        barrier.wait()
        order = checkout_services.wallet_top_up_order_create(
            user=user, amount=LARGE, currency="USD", language="en", checkout_token=token
        )
        told["b"] = "same order" if order.checkout_token == token else "new order"
    except services.PaymentError as exc:
        told["b"] = exc.code
    except Exception as exc:  # noqa: BLE001
        told["b"] = f"error:{type(exc).__name__}:{exc}"
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_two_tabs_topping_up_never_credit_what_was_not_charged(settings):
    # One customer topping up twenty times in a row: not what the risk rules are for here.
    settings.RISK_VELOCITY_REVIEW = settings.RISK_VELOCITY_REFUSE = 10_000
    PaymentMethodFactory(code="card")
    alice = UserFactory(email="alice@example.com")
    paid_rounds = 0
    for round_ in range(ROUNDS):
        token = f"page-{round_}"
        told: dict[str, str] = {}
        barrier = threading.Barrier(2, timeout=60)
        threads = [
            threading.Thread(target=tab, args=(alice.pk, token, told, barrier))
            for tab in (tab_a, tab_b)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        outcome = (told["a"], told["b"])
        # Tab A paid its 1.00 (and B's amount became a new order), or B changed the amount
        # first and A was told so, charging nothing. Nothing else is allowed.
        assert outcome in {
            ("succeeded", "new order"),
            ("succeeded", "payment_in_progress"),
            ("amount_changed", "same order"),
        }, outcome
        paid_rounds += told["a"] == "succeeded"
    # Every credit is exactly the charge behind it, and every charge is the order's own total.
    charged = sum(
        SimulatedCharge.objects.filter(status="succeeded").values_list("amount", flat=True)
    )
    credited = sum(WalletEntry.objects.filter(kind="top_up").values_list("amount", flat=True))
    assert charged == credited == Wallet.objects.get(user=alice).balance == SMALL * paid_rounds
    for attempt in PaymentAttempt.objects.select_related("order"):
        assert attempt.amount == attempt.order.total == SMALL
    assert not Order.objects.filter(status="paid", total=LARGE).exists()

"""The money rules of the payments engine, tested on the services directly."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from checkout.models import Order
from payments import services
from payments.gateways import ChargeResult, Outcome
from payments.models import ALLOWED, AttemptStatus, PaymentAttempt, PaymentEvent, SimulatedCharge
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db
S = AttemptStatus


@pytest.fixture
def order(shop):
    return OrderFactory()


def pay(order, shop, key="key-1", token="pm_card_visa", method="card"):
    return services.attempt_pay(
        order=order, method=shop["methods"][method], idempotency_key=key, payment_method=token
    )


def test_success_moves_created_sent_succeeded_and_pays_order(order, shop):
    attempt = pay(order, shop)
    assert attempt.status == S.SUCCEEDED
    moves = list(
        attempt.events.filter(kind=PaymentEvent.Kind.STATUS_CHANGED).values_list(
            "from_status", "to_status"
        )
    )
    assert moves == [("created", "sent"), ("sent", "succeeded")]
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert attempt.provider_reference.startswith("sim_")
    assert attempt.settled_at is not None


def test_provider_sees_a_key_derived_from_the_attempt(order, shop):
    attempt = pay(order, shop)
    charge = SimulatedCharge.objects.get()
    assert charge.idempotency_key == f"attempt-{attempt.public_id}"
    assert charge.amount == order.total and charge.currency == order.currency


def test_same_key_same_request_returns_the_same_attempt_without_a_second_charge(order, shop):
    first = pay(order, shop)
    again = pay(order, shop)
    assert again.pk == first.pk
    assert SimulatedCharge.objects.count() == 1


def test_same_key_different_request_is_a_conflict(order, shop):
    pay(order, shop, token="pm_card_visa_chargeDeclined")
    with pytest.raises(services.IdempotencyConflict):
        pay(order, shop, token="pm_card_visa")
    assert PaymentAttempt.objects.count() == 1


def test_paid_order_refuses_another_attempt(order, shop):
    pay(order, shop, key="a")
    with pytest.raises(services.OrderNotPayable):
        pay(order, shop, key="b")


def test_in_flight_attempt_blocks_a_second_one(order, shop):
    unknown = pay(order, shop, key="a", token="pm_sim_timeout_then_succeeded")
    assert unknown.status == S.UNKNOWN
    with pytest.raises(services.PaymentInProgress) as excinfo:
        pay(order, shop, key="b")
    assert excinfo.value.attempt.pk == unknown.pk
    assert SimulatedCharge.objects.count() == 1


@pytest.mark.parametrize("token", ["pm_sim_timeout_then_succeeded", "pm_sim_timeout_then_failed"])
def test_timeout_is_unknown_never_failed(order, shop, token):
    attempt = pay(order, shop, token=token)
    assert attempt.status == S.UNKNOWN
    assert attempt.events.filter(kind=PaymentEvent.Kind.PROVIDER_ERROR).exists()
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING


def test_outage_is_unknown_and_nothing_was_charged(order, shop):
    attempt = pay(order, shop, token="pm_sim_outage")
    assert attempt.status == S.UNKNOWN
    assert not SimulatedCharge.objects.exists()


def test_processing_stays_in_flight(order, shop):
    assert pay(order, shop, token="pm_sim_processing").status == S.PROCESSING


@pytest.mark.parametrize(
    ("token", "code", "decline", "category"),
    [
        ("pm_card_visa_chargeDeclined", "card_declined", "generic_decline", "contact_bank"),
        ("pm_card_chargeDeclinedExpiredCard", "expired_card", "expired_card", "another_method"),
        ("pm_card_chargeDeclinedIncorrectCvc", "incorrect_cvc", "incorrect_cvc", "fix_details"),
        ("pm_card_chargeDeclinedProcessingError", "processing_error", "processing_error", "retry"),
        ("pm_card_radarBlock", "card_declined", "fraudulent", "contact_bank"),
    ],
)
def test_declines_record_code_and_category(order, shop, token, code, decline, category):
    attempt = pay(order, shop, token=token)
    assert attempt.status == S.FAILED
    assert (attempt.failure_code, attempt.decline_code, attempt.failure_category) == (
        code,
        decline,
        category,
    )


def test_a_late_answer_never_moves_status_backwards(order, shop):
    attempt = pay(order, shop)
    late = ChargeResult(
        outcome=Outcome.FAILED, reference=attempt.provider_reference, failure_code="card_declined"
    )
    services.attempt_apply_result(attempt=attempt, result=late, actor="provider:simulator")
    attempt.refresh_from_db()
    assert attempt.status == S.SUCCEEDED
    assert attempt.events.filter(kind=PaymentEvent.Kind.IGNORED).exists()


def test_applying_the_same_answer_twice_changes_nothing(order, shop):
    attempt = pay(order, shop, token="pm_sim_timeout_then_succeeded")
    result = ChargeResult(outcome=Outcome.SUCCEEDED, reference="sim_x")
    services.attempt_apply_result(attempt=attempt, result=result, actor="reconciliation")
    services.attempt_apply_result(attempt=attempt, result=result, actor="reconciliation")
    attempt.refresh_from_db()
    assert attempt.status == S.SUCCEEDED
    assert attempt.events.filter(to_status="succeeded").count() == 1
    assert Order.objects.get().status == Order.Status.PAID


@pytest.mark.parametrize(
    ("start", "to"),
    [(s, t) for s in S.values for t in S.values if t not in ALLOWED[s]],
)
def test_every_move_outside_the_table_raises(order, shop, start, to):
    attempt = PaymentAttempt(order=order, method=shop["methods"]["card"], status=start)
    with pytest.raises(services.InvalidTransition):
        services.attempt_transition(attempt=attempt, to=to, actor="test")


def test_events_are_append_only(order, shop):
    event = pay(order, shop).events.first()
    event.message = "rewritten"
    with pytest.raises(ValueError, match="append-only"):
        event.save()


def _attempt(order, shop, key, status):
    return PaymentAttempt.objects.create(
        order=order,
        method=shop["methods"]["card"],
        amount=order.total,
        currency="USD",
        idempotency_key=key,
        request_fingerprint="x",
        provider="simulator",
        status=status,
    )


def test_database_allows_only_one_in_flight_attempt_per_order(order, shop):
    _attempt(order, shop, "a", S.SENT)
    with pytest.raises(IntegrityError), transaction.atomic():
        _attempt(order, shop, "b", S.UNKNOWN)
    _attempt(order, shop, "c", S.FAILED)  # finished attempts do not count


def test_database_allows_only_one_paid_attempt_per_order(order, shop):
    _attempt(order, shop, "a", S.SUCCEEDED)
    with pytest.raises(IntegrityError), transaction.atomic():
        _attempt(order, shop, "b", S.REFUNDED)


def test_database_refuses_a_reused_idempotency_key(order, shop):
    _attempt(order, shop, "same", S.FAILED)
    with pytest.raises(IntegrityError), transaction.atomic():
        _attempt(OrderFactory(), shop, "same", S.FAILED)


def test_unavailable_method_is_refused_with_its_reason(order, shop):
    method = shop["methods"]["card"]
    method.maintenance = True
    method.save()
    with pytest.raises(services.MethodUnavailable) as excinfo:
        pay(order, shop)
    assert excinfo.value.reason == "maintenance"
    assert not PaymentAttempt.objects.exists()

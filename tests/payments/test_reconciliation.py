"""Attempts left without an answer are settled from the provider, never charged twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from checkout.models import Order
from payments import services
from payments.models import AttemptStatus, PaymentAttempt, PaymentEvent, SimulatedCharge
from payments.tasks import reconcile_payments
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db
S = AttemptStatus


def start(shop, token, key="k"):
    return services.attempt_pay(
        order=OrderFactory(),
        method=shop["methods"]["card"],
        idempotency_key=key,
        payment_method=token,
    )


def later(minutes: float):
    return time_machine.travel(timezone.now() + timedelta(minutes=minutes), tick=False)


def test_nothing_is_touched_inside_the_window(shop):
    attempt = start(shop, "pm_sim_timeout_then_succeeded")
    assert services.reconcile_attempts() == 0
    attempt.refresh_from_db()
    assert attempt.status == S.UNKNOWN


def test_timeout_that_succeeded_settles_as_paid_without_a_second_charge(shop):
    attempt = start(shop, "pm_sim_timeout_then_succeeded")
    with later(2):
        assert reconcile_payments()["settled"] == 1
    attempt.refresh_from_db()
    assert attempt.status == S.SUCCEEDED
    assert attempt.order.status == Order.Status.PAID
    assert SimulatedCharge.objects.count() == 1
    assert attempt.events.filter(actor="reconciliation", to_status="succeeded").exists()


def test_timeout_that_failed_settles_as_failed_with_the_real_reason(shop):
    attempt = start(shop, "pm_sim_timeout_then_failed")
    with later(2):
        services.reconcile_attempts()
    attempt.refresh_from_db()
    assert (attempt.status, attempt.decline_code) == (S.FAILED, "processing_error")
    assert attempt.order.status == Order.Status.PENDING


def test_processing_settles_once_the_provider_has_finished(shop):
    attempt = start(shop, "pm_sim_processing")
    with later(2):
        services.reconcile_attempts()
    attempt.refresh_from_db()
    assert attempt.status == S.PROCESSING  # the provider is still working on it
    assert attempt.events.filter(kind=PaymentEvent.Kind.RECONCILED).exists()
    SimulatedCharge.objects.update(status="succeeded")
    with later(4):
        services.reconcile_attempts()
    attempt.refresh_from_db()
    assert attempt.status == S.SUCCEEDED


def test_a_worker_that_died_after_sent_loses_nothing(shop):
    """The process crashed between marking the attempt sent and calling the provider."""
    order = OrderFactory()
    attempt, _ = services.attempt_create(
        order=order,
        method=shop["methods"]["card"],
        idempotency_key="k",
        payment_method="pm_card_visa",
    )
    services.attempt_transition(attempt=attempt, to=S.SENT, actor="system")
    with later(2):
        services.reconcile_attempts()
        services.reconcile_attempts()  # and the task ran twice
    attempt.refresh_from_db()
    assert attempt.status == S.SUCCEEDED
    assert SimulatedCharge.objects.count() == 1


def test_no_answer_after_the_limit_fails_with_confirmation_timeout_and_tells_people(
    shop, settings, django_capture_on_commit_callbacks
):
    settings.ADMINS = [("Ops", "ops@example.com")]
    attempt = start(shop, "pm_sim_outage")
    with later(31), django_capture_on_commit_callbacks(execute=True):
        services.reconcile_attempts()
    attempt.refresh_from_db()
    assert (attempt.status, attempt.failure_code) == (S.FAILED, "confirmation_timeout")
    assert attempt.order.status == Order.Status.PENDING
    customer = [m for m in mail.outbox if attempt.order.email in m.to]
    admins = [m for m in mail.outbox if "ops@example.com" in m.to]
    assert len(customer) == 1 and attempt.order.number in customer[0].subject
    assert len(admins) == 1 and str(attempt.public_id) in admins[0].body


def test_a_new_attempt_is_possible_after_the_give_up(shop):
    attempt = start(shop, "pm_sim_outage")
    with later(31):
        services.reconcile_attempts()
    again = services.attempt_pay(
        order=attempt.order,
        method=shop["methods"]["card"],
        idempotency_key="k2",
        payment_method="pm_card_visa",
    )
    assert again.status == S.SUCCEEDED


def test_one_broken_attempt_does_not_stop_the_others(shop, monkeypatch):
    first = start(shop, "pm_sim_timeout_then_succeeded", key="a")
    second = start(shop, "pm_sim_timeout_then_succeeded", key="b")
    original = services.reconcile.attempt_reconcile

    def flaky(*, attempt):
        if attempt.pk == first.pk:
            raise RuntimeError("boom")
        return original(attempt=attempt)

    monkeypatch.setattr(services.reconcile, "attempt_reconcile", flaky)
    with later(2):
        services.reconcile_attempts()
    assert PaymentAttempt.objects.get(pk=second.pk).status == S.SUCCEEDED
    assert PaymentAttempt.objects.get(pk=first.pk).status == S.UNKNOWN


def confirm_late(attempt):
    from payments.gateways import ChargeResult, Outcome

    return services.attempt_apply_result(
        attempt=attempt,
        result=ChargeResult(outcome=Outcome.SUCCEEDED, reference="sim_late"),
        actor="webhook:simulator:evt_late",
    )


def test_a_charge_confirmed_after_we_gave_up_is_honoured(shop, django_capture_on_commit_callbacks):
    attempt = start(shop, "pm_sim_outage")
    with later(31):
        services.reconcile_attempts()
    attempt.refresh_from_db()
    assert attempt.failure_code == "confirmation_timeout"
    with django_capture_on_commit_callbacks(execute=True):
        attempt = confirm_late(attempt)
    assert (attempt.status, attempt.failure_code) == (S.SUCCEEDED, "")
    assert attempt.order.status == Order.Status.PAID
    assert any(attempt.order.number in m.subject for m in mail.outbox)  # the receipt


def test_a_late_charge_on_an_order_paid_meanwhile_alerts_admins(
    shop, settings, django_capture_on_commit_callbacks
):
    settings.ADMINS = [("Ops", "ops@example.com")]
    attempt = start(shop, "pm_sim_outage")
    with later(31):
        services.reconcile_attempts()
    services.attempt_pay(
        order=attempt.order,
        method=shop["methods"]["card"],
        idempotency_key="k2",
        payment_method="pm_card_visa",
    )
    with django_capture_on_commit_callbacks(execute=True):
        late = confirm_late(attempt)
    assert late.status == S.FAILED
    assert late.events.filter(kind=PaymentEvent.Kind.REFUND_NEEDED).count() == 1
    alerts = [m for m in mail.outbox if "ops@example.com" in m.to]
    assert len(alerts) == 1 and "Refund needed" in alerts[0].subject
    # The same answer delivered again flags nothing new and emails nobody.
    with django_capture_on_commit_callbacks(execute=True):
        confirm_late(late)
    assert late.events.filter(kind=PaymentEvent.Kind.REFUND_NEEDED).count() == 1
    assert len([m for m in mail.outbox if "ops@example.com" in m.to]) == 1


def test_a_success_after_a_decline_is_honoured_and_staff_are_told(
    shop, settings, django_capture_on_commit_callbacks
):
    """Whatever made us fail an attempt, the provider's word that the money was taken wins."""
    settings.ADMINS = [("Ops", "ops@example.com")]
    attempt = start(shop, "pm_card_visa_chargeDeclined")
    assert attempt.status == S.FAILED
    with django_capture_on_commit_callbacks(execute=True):
        late = confirm_late(attempt)
    assert (late.status, late.failure_code) == (S.SUCCEEDED, "")
    assert late.order.status == Order.Status.PAID
    alerts = [m for m in mail.outbox if "ops@example.com" in m.to]
    assert [m.subject for m in alerts] == [
        f"[Django] Late payment honoured: order {late.order.number}"
    ]


def test_a_late_move_is_only_for_the_providers_answer(shop):
    attempt = start(shop, "pm_card_visa_chargeDeclined")
    with pytest.raises(services.InvalidTransition):
        services.attempt_transition(attempt=attempt, to=S.SUCCEEDED, actor="test")


def test_a_pending_payment_that_fails_later_is_emailed_to_the_customer(
    shop, django_capture_on_commit_callbacks
):
    attempt = start(shop, "pm_sim_timeout_then_failed")
    with later(2), django_capture_on_commit_callbacks(execute=True):
        services.reconcile_attempts()
    attempt.refresh_from_db()
    assert attempt.status == S.FAILED
    sent = [m for m in mail.outbox if attempt.order.email in m.to]
    assert len(sent) == 1
    assert attempt.order.number in sent[0].subject and "did not go through" in sent[0].subject
    assert "Something went wrong while your bank processed the payment." in sent[0].body
    assert f"key={attempt.order.client_secret}" in sent[0].body


def test_no_failure_email_when_the_customer_saw_the_decline_on_the_page(
    shop, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        start(shop, "pm_card_visa_chargeDeclined")
    assert mail.outbox == []

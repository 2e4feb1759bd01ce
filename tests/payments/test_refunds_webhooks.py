"""Refund events from Stripe: ours are matched by the metadata we sent (or the refund id);
refunds made in Stripe's dashboard are recorded once, never beyond what was paid."""

from __future__ import annotations

import json

import pytest
import stripe
from django.core import mail

from checkout.models import Order
from payments import services
from payments.gateways import stripe as stripe_gateway
from payments.models import AttemptStatus, PaymentMethod, Refund, WebhookEvent
from tests.factories import OrderFactory

from .fake_stripe import FakeStripe

pytestmark = pytest.mark.django_db
S = AttemptStatus
SECRET = "whsec_test_refunds"


@pytest.fixture
def fake(settings, monkeypatch, shop):
    settings.STRIPE_SECRET_KEY = "sk_test_fake"
    settings.STRIPE_WEBHOOK_SECRET = SECRET
    settings.ADMINS = [("Ops", "ops@example.com")]
    PaymentMethod.objects.exclude(kind="wallet").update(provider="stripe")
    transport = FakeStripe()
    monkeypatch.setattr(
        stripe_gateway,
        "make_client",
        lambda: stripe.StripeClient("sk_test_fake", max_network_retries=2, http_client=transport),
    )
    return transport


@pytest.fixture
def paid(fake):
    return services.attempt_pay(
        order=OrderFactory(email="alice@example.com", total=2400),
        method=PaymentMethod.objects.get(code="card"),
        idempotency_key="pay",
        payment_method="pm_card_visa",
    )


@pytest.fixture
def deliver(client, django_capture_on_commit_callbacks):
    def send(event_id, event_type, obj):
        body = json.dumps({"id": event_id, "type": event_type, "data": {"object": obj}})
        header = stripe.WebhookSignature.generate_signature_header(body, SECRET)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                "/payments/webhooks/stripe/",
                body,
                content_type="application/json",
                HTTP_STRIPE_SIGNATURE=header,
            )
        assert response.status_code == 200
        return WebhookEvent.objects.get(event_id=event_id).outcome

    return send


def stripe_refund(refund_id, amount, *, status="succeeded", currency="usd", metadata=None):
    """A Refund object as Stripe sends it (the fields we read, with their real names)."""
    return {
        "id": refund_id,
        "object": "refund",
        "amount": amount,
        "currency": currency,
        "charge": "ch_fake_0001",
        "payment_intent": "pi_fake_0001",
        "metadata": metadata or {},
        "reason": "requested_by_customer",
        "status": status,
        "failure_reason": None,
    }


def stripe_charge(refunds, amount_refunded):
    return {
        "id": "ch_fake_0001",
        "object": "charge",
        "amount": 2400,
        "amount_refunded": amount_refunded,
        "currency": "usd",
        "payment_intent": "pi_fake_0001",
        "refunded": amount_refunded == 2400,
        "refunds": {"object": "list", "data": refunds, "has_more": False},
    }


def test_our_refund_is_matched_by_its_metadata_before_we_know_its_id(fake, paid, deliver):
    fake.fail_next = ["timeout"] * 3  # the library's retries too: we never hear back
    refund = services.refund_create(
        attempt=paid,
        amount=500,
        destination="original",
        reason="asked",
        actor="staff:carol",
        idempotency_key="k",
    )
    assert (refund.status, refund.provider_reference) == ("pending", "")
    sent = fake.requests[-1]["params"]
    assert sent["metadata[refund_key]"] == f"refund-{refund.public_id}"
    obj = stripe_refund("re_real_1", 500, metadata={"refund_key": f"refund-{refund.public_id}"})
    deliver("evt_1", "refund.updated", obj)
    refund.refresh_from_db()
    assert (refund.status, refund.provider_reference) == ("succeeded", "re_real_1")
    assert Refund.objects.count() == 1
    paid.refresh_from_db()
    assert (paid.status, paid.refunded_amount) == (S.PARTIALLY_REFUNDED, 500)


def test_a_dashboard_refund_is_recorded_once_whatever_tells_us(paid, deliver):
    obj = stripe_refund("re_dash_1", 600)
    deliver("evt_1", "refund.created", obj)
    deliver("evt_1", "refund.created", obj)  # redelivered
    deliver("evt_2", "charge.refunded", stripe_charge([obj], 600))
    deliver("evt_3", "refund.updated", obj)
    refund = Refund.objects.get()
    assert (refund.amount, refund.status, refund.provider_reference) == (
        600,
        "succeeded",
        "re_dash_1",
    )
    assert (refund.created_by, refund.destination) == ("provider:stripe", "original")
    paid.refresh_from_db()
    assert (paid.status, paid.refunded_amount) == (S.PARTIALLY_REFUNDED, 600)
    assert Order.objects.get(pk=paid.order_id).status == Order.Status.PARTIALLY_REFUNDED
    # The customer is told once.
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]


def test_charge_refunded_first_then_the_refund_event(paid, deliver):
    obj = stripe_refund("re_dash_2", 2400)
    deliver("evt_1", "charge.refunded", stripe_charge([obj], 2400))
    deliver("evt_2", "refund.created", obj)
    assert Refund.objects.count() == 1
    paid.refresh_from_db()
    assert (paid.status, paid.refunded_amount) == (S.REFUNDED, 2400)
    assert Order.objects.get(pk=paid.order_id).status == Order.Status.REFUNDED


def test_a_charge_event_without_its_refund_list_waits_for_the_refund_events(paid, deliver):
    charge = stripe_charge([], 600)
    del charge["refunds"]  # not expanded: Stripe's default since 2022-11-15
    outcome = deliver("evt_1", "charge.refunded", charge)
    assert outcome == "charge refunded: its refunds come as refund.* events"
    assert not Refund.objects.exists()


def test_a_pending_dashboard_refund_waits_for_its_outcome(paid, deliver):
    deliver("evt_1", "refund.created", stripe_refund("re_dash_3", 600, status="pending"))
    assert not Refund.objects.exists()
    deliver("evt_2", "refund.updated", stripe_refund("re_dash_3", 600))
    assert Refund.objects.get().status == "succeeded"


@pytest.mark.parametrize(
    ("amount", "currency", "why"),
    [
        (2401, "usd", "with the 0 already refunded it would exceed the 2400 paid"),
        (600, "eur", "its currency eur is not the payment's USD"),
    ],
)
def test_a_refund_that_cannot_be_true_is_not_recorded_and_staff_are_told(
    paid, deliver, amount, currency, why
):
    outcome = deliver("evt_1", "refund.created", stripe_refund("re_x", amount, currency=currency))
    assert outcome == "refund re_x not recorded: staff alerted"
    assert not Refund.objects.exists()
    paid.refresh_from_db()
    assert (paid.status, paid.refunded_amount) == (S.SUCCEEDED, 0)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ops@example.com"]
    assert why in mail.outbox[0].body and "re_x" in mail.outbox[0].body


def test_dashboard_refunds_after_ours_never_add_up_past_the_paid_amount(paid, deliver):
    services.refund_create(
        attempt=paid,
        amount=2000,
        destination="original",
        reason="asked",
        actor="staff:carol",
        idempotency_key="k",
    )
    mail.outbox.clear()
    deliver("evt_1", "refund.created", stripe_refund("re_dash_4", 500))
    assert Refund.objects.count() == 1
    paid.refresh_from_db()
    assert paid.refunded_amount == 2000
    assert len(mail.outbox) == 1 and "exceed" in mail.outbox[0].body


def test_an_event_for_a_payment_not_ours_is_ignored(paid, deliver):
    obj = {**stripe_refund("re_other", 500), "payment_intent": "pi_someone_else"}
    assert deliver("evt_1", "refund.created", obj) == "ignored: no payment of ours"
    assert not Refund.objects.exists()


def test_stripe_confirming_a_given_up_refund_records_it(
    fake, paid, deliver, django_capture_on_commit_callbacks
):
    fake.fail_next = ["timeout"] * 3
    refund = services.refund_create(
        attempt=paid,
        amount=500,
        destination="original",
        reason="asked",
        actor="staff:carol",
        idempotency_key="k",
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.refund_give_up(refund=refund)
    paid.refresh_from_db()
    assert paid.refunded_amount == 0
    mail.outbox.clear()
    obj = stripe_refund("re_late", 500, metadata={"refund_key": f"refund-{refund.public_id}"})
    deliver("evt_late", "refund.updated", obj)
    refund.refresh_from_db()
    assert (refund.status, refund.provider_reference) == ("succeeded", "re_late")
    paid.refresh_from_db()
    assert (paid.status, paid.refunded_amount) == (S.PARTIALLY_REFUNDED, 500)
    # Staff are told, and so is the customer, who was emailed that it had not gone.
    assert [m.subject for m in mail.outbox] == [
        f"Refund went through after all: order {paid.order.number}",
        f"Your refund of $5.00 for order {paid.order.number}",
    ]


def test_recording_a_provider_refund_twice_records_it_once(paid):
    # Two deliveries processed at once both miss the lookup by id; the second waits for the
    # attempt lock and must then find the first one's row.
    first = services.refund_record_external(
        attempt=paid, reference="re_twice", amount=700, currency="usd", actor="webhook:1"
    )
    second = services.refund_record_external(
        attempt=paid, reference="re_twice", amount=700, currency="usd", actor="webhook:2"
    )
    assert first.pk == second.pk and Refund.objects.count() == 1
    paid.refresh_from_db()
    assert paid.refunded_amount == 700


def test_the_database_keeps_one_row_per_provider_refund(paid):
    from django.db import IntegrityError, transaction

    services.refund_record_external(
        attempt=paid, reference="re_once", amount=700, currency="usd", actor="webhook:1"
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Refund.objects.create(
            attempt=paid, amount=1, currency="USD", reason="x", provider_reference="re_once"
        )

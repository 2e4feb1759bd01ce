"""Webhooks: verified, stored once, processed once, and harmless when late or out of order."""

from __future__ import annotations

import json
import random
import time

import pytest
import stripe

from checkout.models import Order
from payments import services
from payments.models import AttemptStatus, PaymentAttempt, PaymentEvent, WebhookEvent
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db
S = AttemptStatus
SECRET = "whsec_test_secret"


@pytest.fixture(autouse=True)
def secrets(settings):
    settings.STRIPE_WEBHOOK_SECRET = SECRET


def event(intent_id, status, *, event_id=None, key="", error=None, amount=2400, currency="usd"):
    return {
        "id": event_id or f"evt_{intent_id}_{status}",
        "object": "event",
        "type": {
            "succeeded": "payment_intent.succeeded",
            "processing": "payment_intent.processing",
            "requires_payment_method": "payment_intent.payment_failed",
            "requires_action": "payment_intent.requires_action",
        }[status],
        "data": {
            "object": {
                "id": intent_id,
                "object": "payment_intent",
                "status": status,
                "amount": amount,
                "currency": currency,
                "metadata": {"attempt_key": key},
                "last_payment_error": error,
            }
        },
    }


@pytest.fixture
def post(client, django_capture_on_commit_callbacks):
    """POST a signed event, then run what the request queued after commit (the task)."""

    def send(body: dict | bytes, *, secret=SECRET, signature=None, timestamp=None):
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        header = signature or stripe.WebhookSignature.generate_signature_header(
            raw.decode(), secret, timestamp=timestamp
        )
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                "/payments/webhooks/stripe/",
                raw,
                content_type="application/json",
                HTTP_STRIPE_SIGNATURE=header,
            )

    return send


@pytest.fixture
def waiting(shop):
    """An attempt our call never heard back about: `unknown`, no provider id yet."""
    order = OrderFactory()
    attempt = services.attempt_pay(
        order=order,
        method=shop["methods"]["card"],
        idempotency_key="k",
        payment_method="pm_sim_timeout_then_succeeded",
    )
    assert attempt.status == S.UNKNOWN
    # Carried by Stripe: the events below come from Stripe's endpoint.
    PaymentAttempt.objects.filter(pk=attempt.pk).update(provider="stripe")
    attempt.refresh_from_db()
    return attempt


def key_of(attempt):
    return f"attempt-{attempt.public_id}"


def test_success_event_settles_an_unknown_attempt_found_by_our_key(post, waiting):
    response = post(event("pi_1", "succeeded", key=key_of(waiting)))
    assert response.status_code == 200 and response.json() == {"received": True, "duplicate": False}
    waiting.refresh_from_db()
    assert waiting.status == S.SUCCEEDED
    assert waiting.provider_reference == "pi_1"
    assert Order.objects.get().status == Order.Status.PAID
    assert waiting.events.filter(actor__startswith="webhook:stripe:evt_pi_1").exists()


@pytest.mark.parametrize("signature", ["", "t=1,v1=deadbeef", "garbage"])
def test_bad_signature_is_400_and_stores_nothing(post, waiting, signature):
    response = post(event("pi_1", "succeeded", key=key_of(waiting)), signature=signature or "x")
    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()
    waiting.refresh_from_db()
    assert waiting.status == S.UNKNOWN


def test_wrong_secret_and_stale_timestamp_are_refused(post, waiting):
    body = event("pi_1", "succeeded", key=key_of(waiting))
    assert post(body, secret="whsec_other").status_code == 400
    assert post(body, timestamp=int(time.time()) - 3600).status_code == 400
    assert not WebhookEvent.objects.exists()


def test_malformed_body_is_refused(post):
    assert post(b"not json").status_code == 400
    assert post({"id": "evt_1"}).status_code == 400
    assert not WebhookEvent.objects.exists()


def test_same_event_ten_times_takes_effect_once(post, waiting):
    body = event("pi_1", "succeeded", key=key_of(waiting))
    answers = [post(body).json()["duplicate"] for _ in range(10)]
    assert answers == [False] + [True] * 9
    stored = WebhookEvent.objects.get()
    assert stored.deliveries == 10 and stored.processed_at is not None
    assert waiting.events.filter(to_status="succeeded").count() == 1
    assert waiting.events.filter(kind=PaymentEvent.Kind.ORDER_PAID).count() == 1


def test_shuffled_events_end_in_the_right_state(post, shop, settings):
    """Many attempts, each with its processing/succeeded or processing/failed events, shuffled."""
    settings.PAYMENTS_HEALTH_MIN_VOLUME = 1000  # six outages in a row: not what this tests
    attempts = []
    for i in range(6):
        order = OrderFactory()
        attempts.append(
            services.attempt_pay(
                order=order,
                method=shop["methods"]["card"],
                idempotency_key=f"k{i}",
                payment_method="pm_sim_outage",
            )
        )
    PaymentAttempt.objects.update(provider="stripe")  # carried by Stripe, as the events say
    bodies = []
    for i, attempt in enumerate(attempts):
        final = "succeeded" if i % 2 == 0 else "requires_payment_method"
        error = (
            None
            if final == "succeeded"
            else {"code": "card_declined", "decline_code": "insufficient_funds"}
        )
        for status in ("processing", final):
            bodies.append(
                event(
                    f"pi_{i}", status, key=key_of(attempt), error=error if status == final else None
                )
            )
    random.Random(7).shuffle(bodies)
    for body in bodies + bodies[:5]:  # and a few redeliveries
        assert post(body).status_code == 200
    for i, attempt in enumerate(attempts):
        attempt.refresh_from_db()
        if i % 2 == 0:
            assert attempt.status == S.SUCCEEDED and attempt.order.status == "paid"
        else:
            assert attempt.status == S.FAILED and attempt.decline_code == "insufficient_funds"
            assert attempt.order.status == "pending"
    assert WebhookEvent.objects.count() == len(bodies)
    assert WebhookEvent.objects.filter(processed_at__isnull=True).count() == 0


def test_event_for_an_unknown_intent_is_stored_and_ignored(post, db):
    assert post(event("pi_elsewhere", "succeeded")).status_code == 200
    assert WebhookEvent.objects.get().outcome == "ignored: no attempt of ours"


def test_other_event_types_are_acknowledged(post, db):
    body = {"id": "evt_x", "type": "customer.created", "data": {"object": {"id": "cus_1"}}}
    assert post(body).status_code == 200
    assert WebhookEvent.objects.get().outcome.startswith("ignored")


def test_a_lost_processing_task_is_requeued_by_the_sweeper(
    waiting, django_capture_on_commit_callbacks
):
    body = json.dumps(event("pi_1", "succeeded", key=key_of(waiting))).encode()
    header = stripe.WebhookSignature.generate_signature_header(body.decode(), SECRET)
    # Store it but drop the task, as if the worker died before running it.
    with django_capture_on_commit_callbacks(execute=False):
        services.webhook_ingest(provider="stripe", body=body, signature=header)
    WebhookEvent.objects.update(
        received_at=WebhookEvent.objects.get().received_at.replace(year=2020)
    )
    assert services.webhook_requeue_stale() == 1
    waiting.refresh_from_db()
    assert waiting.status == S.SUCCEEDED


def test_processing_twice_is_harmless(waiting, django_capture_on_commit_callbacks):
    body = json.dumps(event("pi_1", "succeeded", key=key_of(waiting))).encode()
    header = stripe.WebhookSignature.generate_signature_header(body.decode(), SECRET)
    with django_capture_on_commit_callbacks(execute=False):
        stored, _ = services.webhook_ingest(provider="stripe", body=body, signature=header)
    services.webhook_process(event_pk=stored.pk)
    services.webhook_process(event_pk=stored.pk)
    assert PaymentAttempt.objects.get().events.filter(to_status="succeeded").count() == 1


def test_simulator_events_use_the_same_path(client, shop, django_capture_on_commit_callbacks):
    """pm_sim_processing settles later: the simulator signs an event and we apply it."""
    order = OrderFactory()
    with django_capture_on_commit_callbacks(execute=True):
        attempt = services.attempt_pay(
            order=order,
            method=shop["methods"]["card"],
            idempotency_key="slow",
            payment_method="pm_sim_processing",
        )
    attempt.refresh_from_db()
    # In eager mode the delayed settle ran at once: the webhook moved the attempt on.
    assert attempt.status == S.SUCCEEDED
    stored = WebhookEvent.objects.get(provider="simulator")
    assert stored.type == "payment_intent.succeeded" and stored.processed_at is not None


def test_an_event_never_moves_another_providers_attempt(post, shop):
    """Our key in a Stripe event finds only an attempt Stripe carried."""
    attempt = services.attempt_pay(
        order=OrderFactory(),
        method=shop["methods"]["card"],
        idempotency_key="sim",
        payment_method="pm_sim_timeout_then_succeeded",
    )
    assert (attempt.provider, attempt.status) == ("simulator", S.UNKNOWN)
    response = post(event("pi_9", "succeeded", key=key_of(attempt)))
    assert response.status_code == 200
    attempt.refresh_from_db()
    assert attempt.status == S.UNKNOWN
    assert Order.objects.get().status == Order.Status.PENDING
    assert WebhookEvent.objects.get().outcome == "ignored: no attempt of ours"


@pytest.mark.parametrize(("amount", "currency"), [(100, "usd"), (2400, "eur")])
def test_a_success_for_another_amount_or_currency_is_flagged_not_paid(
    post, waiting, settings, amount, currency
):
    from django.core import mail

    settings.ADMINS = [("Ops", "ops@example.com")]
    body = event("pi_1", "succeeded", key=key_of(waiting), amount=amount, currency=currency)
    post(body)
    post({**body, "id": "evt_again"})  # delivered again under another id
    waiting.refresh_from_db()
    assert waiting.status == S.UNKNOWN
    assert Order.objects.get().status == Order.Status.PENDING
    assert waiting.events.filter(kind=PaymentEvent.Kind.REFUND_NEEDED).count() == 1
    alerts = [m for m in mail.outbox if "ops@example.com" in m.to]
    assert len(alerts) == 1 and "Refund needed" in alerts[0].subject

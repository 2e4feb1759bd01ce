"""Webhooks under hostile or broken input: what cannot be stored is a 400, an unexpected
object is ignored, a poison event is given up with one alert, and the simulator's door is shut
beside real money."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import stripe
from django.core import mail
from django.utils import timezone

from checkout.models import Order
from payments import services
from payments.models import AttemptStatus, WebhookEvent
from payments.services import webhooks
from tests.factories import OrderFactory

from . import test_webhooks as _webhooks
from .test_webhooks import SECRET, event, key_of

# The webhook tests' fixtures: a signed POST to /payments/webhooks/stripe/, the secret it is
# signed with, and an attempt left `unknown` that a success event settles.
post, secrets, waiting = _webhooks.post, _webhooks.secrets, _webhooks.waiting

pytestmark = pytest.mark.django_db
S = AttemptStatus
ROOT = Path(__file__).resolve().parent.parent.parent


# --- What cannot be stored is refused with a 400 -----------------------------------------------


def test_an_event_id_over_100_characters_is_400_and_stores_nothing(post):
    response = post(event("pi_1", "succeeded", event_id="evt_" + "x" * 97))  # 101 characters
    assert response.status_code == 400
    assert WebhookEvent.objects.count() == 0
    assert mail.outbox == []


def test_an_event_id_of_exactly_100_characters_is_stored(post):
    response = post(event("pi_1", "succeeded", event_id="evt_" + "x" * 96))
    assert response.status_code == 200
    assert len(WebhookEvent.objects.get().event_id) == 100


def test_an_event_type_over_100_characters_is_400(post):
    body = event("pi_1", "succeeded")
    body["type"] = "payment_intent." + "x" * 86  # 101 characters
    assert post(body).status_code == 400
    assert WebhookEvent.objects.count() == 0


@pytest.mark.parametrize("event_id", ["", "evt_\x00"])
def test_an_empty_or_nul_event_id_is_400(post, event_id):
    assert (
        post(event("pi_1", "succeeded", event_id=event_id or None) | {"id": event_id}).status_code
        == 400
    )
    assert WebhookEvent.objects.count() == 0


def test_a_nul_escape_anywhere_in_the_payload_is_400(post):
    """PostgreSQL's jsonb refuses \\u0000: it would be a 500 after the signature was checked."""
    body = event("pi_1", "succeeded")
    body["data"]["object"]["description"] = "tea\x00"
    assert post(body).status_code == 400
    assert WebhookEvent.objects.count() == 0


# --- An unexpected object is recorded as ignored, not a crash ----------------------------------


@pytest.mark.parametrize(
    ("obj", "outcome"),
    [
        (
            {"id": "ch_1", "object": "charge", "status": "succeeded"},
            "ignored: payment_intent.succeeded carries 'charge', not a payment_intent",
        ),
        ("pi_1", "ignored: payment_intent.succeeded carries 'str', not a payment_intent"),
        (None, "ignored: payment_intent.succeeded carries 'NoneType', not a payment_intent"),
        ([1, 2], "ignored: payment_intent.succeeded carries 'list', not a payment_intent"),
    ],
)
def test_an_intent_event_without_an_intent_is_ignored(post, waiting, obj, outcome):
    body = event("pi_1", "succeeded", key=key_of(waiting))
    body["data"]["object"] = obj
    assert post(body).status_code == 200
    stored = WebhookEvent.objects.get()
    assert (stored.outcome, stored.tries) == (outcome, 0)
    assert stored.processed_at is not None
    waiting.refresh_from_db()
    assert waiting.status == S.UNKNOWN


@pytest.mark.parametrize(
    ("event_type", "obj", "outcome"),
    [
        ("refund.updated", "re_1", "ignored: refund.updated carries 'str', not a refund"),
        (
            "charge.refunded",
            {"id": "pi_1", "object": "payment_intent"},
            "ignored: charge.refunded carries 'payment_intent', not a charge",
        ),
    ],
)
def test_refund_events_without_their_object_are_ignored(post, event_type, obj, outcome):
    body = {"id": "evt_r", "object": "event", "type": event_type, "data": {"object": obj}}
    assert post(body).status_code == 200
    assert WebhookEvent.objects.get().outcome == outcome


# --- A poison event is tried N times, then given up with one alert -----------------------------


@pytest.fixture
def poison(waiting, monkeypatch, settings, django_capture_on_commit_callbacks):
    """A stored event for our attempt whose processing fails every time (a bug of ours)."""
    settings.PAYMENTS_WEBHOOK_MAX_TRIES = 3

    def broken(**kwargs):
        raise RuntimeError("a bug in applying the result")

    monkeypatch.setattr(webhooks, "attempt_apply_result", broken)
    body = json.dumps(event("pi_1", "succeeded", key=key_of(waiting))).encode()
    header = stripe.WebhookSignature.generate_signature_header(body.decode(), SECRET)
    with django_capture_on_commit_callbacks(execute=False):  # the task is run by hand below
        stored, _ = services.webhook_ingest(provider="stripe", body=body, signature=header)
    return stored


def _sweep(django_capture_on_commit_callbacks) -> int:
    """The every-minute sweeper, with the events a minute old; runs the tasks it queues."""
    WebhookEvent.objects.update(received_at=timezone.now() - timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        return services.webhook_requeue_stale()


def test_a_failed_try_is_undone_and_counted(poison, waiting):
    stored = services.webhook_process(event_pk=poison.pk)
    assert (stored.tries, stored.processed_at) == (1, None)
    assert stored.outcome == "try 1 failed: RuntimeError: a bug in applying the result"
    # The provider id written before the crash was rolled back with the rest of the try.
    waiting.refresh_from_db()
    assert (waiting.provider_reference, waiting.status) == ("", S.UNKNOWN)
    assert mail.outbox == []


def test_a_poison_event_is_given_up_after_n_tries_with_one_alert(
    poison, django_capture_on_commit_callbacks
):
    swept = [_sweep(django_capture_on_commit_callbacks) for _ in range(6)]
    # Three tries (the limit), then nothing is left to re-queue.
    assert swept == [1, 1, 1, 0, 0, 0]
    stored = WebhookEvent.objects.get()
    assert stored.tries == 3
    assert stored.processed_at is not None
    assert stored.outcome == "gave up after 3 tries: RuntimeError: a bug in applying the result"
    assert [m.subject for m in mail.outbox] == [
        "[Django] Webhook event given up: stripe:evt_pi_1_succeeded payment_intent.succeeded"
    ]
    # Processing it again (a duplicate task, a redelivery) changes nothing and tells no one.
    with django_capture_on_commit_callbacks(execute=True):
        services.webhook_process(event_pk=stored.pk)
    assert WebhookEvent.objects.get().tries == 3
    assert len(mail.outbox) == 1


def test_a_try_that_succeeds_after_failures_settles_normally(
    poison, waiting, monkeypatch, django_capture_on_commit_callbacks
):
    services.webhook_process(event_pk=poison.pk)
    monkeypatch.undo()  # the bug is fixed and deployed
    _sweep(django_capture_on_commit_callbacks)
    stored = WebhookEvent.objects.get()
    assert stored.tries == 1 and stored.outcome.startswith(f"attempt {waiting.public_id} is ")
    waiting.refresh_from_db()
    assert waiting.status == S.SUCCEEDED
    assert Order.objects.get().status == Order.Status.PAID
    assert [m.subject for m in mail.outbox if m.subject.startswith("[Django]")] == []


# --- The simulator's webhook door --------------------------------------------------------------


def _simulator_post(client, settings):
    body = json.dumps(
        {
            "id": "evt_sim_1",
            "object": "event",
            "type": "payment_intent.succeeded",
            "data": {"object": {"id": "sim_x", "object": "payment_intent", "status": "succeeded"}},
        }
    )
    header = stripe.WebhookSignature.generate_signature_header(
        body, settings.SIMULATOR_WEBHOOK_SECRET
    )
    return client.post(
        "/payments/webhooks/simulator/",
        body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=header,
    )


def test_the_simulator_endpoint_answers_only_in_a_demo(client, settings):
    settings.DEBUG, settings.STRIPE_SECRET_KEY = True, ""
    assert _simulator_post(client, settings).status_code == 200


@pytest.mark.parametrize(
    ("debug", "stripe_key"), [(False, ""), (True, "sk_test_x"), (False, "sk_live_x")]
)
def test_the_simulator_endpoint_is_off_beside_stripe_or_in_production(
    client, settings, debug, stripe_key
):
    settings.DEBUG, settings.STRIPE_SECRET_KEY = debug, stripe_key
    assert _simulator_post(client, settings).status_code == 404
    assert WebhookEvent.objects.count() == 0


def test_the_simulator_still_delivers_its_events_with_its_endpoint_off(
    settings, shop, django_capture_on_commit_callbacks
):
    """It hands its signed events to webhook_ingest in-process, not over HTTP."""
    settings.DEBUG = False
    with django_capture_on_commit_callbacks(execute=True):
        attempt = services.attempt_pay(
            order=OrderFactory(),
            method=shop["methods"]["card"],
            idempotency_key="slow",
            payment_method="pm_sim_processing",
        )
    attempt.refresh_from_db()
    assert attempt.status == S.SUCCEEDED
    assert WebhookEvent.objects.get(provider="simulator").processed_at is not None


def test_the_simulator_secret_is_an_hmac_of_the_secret_key_not_a_slice():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "1",
        "SECRET_KEY": "test-key-0123456789abcdefghijklmnopqrstuvwxyz",
    }
    env.pop("SIMULATOR_WEBHOOK_SECRET", None)
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(settings.SIMULATOR_WEBHOOK_SECRET)",
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    # printf %s simulator-webhook | openssl dgst -sha256 -hmac "$SECRET_KEY" (the key above)
    assert out.stdout.strip() == "whsec_simulator_" + EXPECTED_HMAC, out.stderr
    assert "test-key" not in out.stdout


EXPECTED_HMAC = "8cded26bb3c732437527cd8b961ac50fc82c4319839b6a9bed48395971cc0692"

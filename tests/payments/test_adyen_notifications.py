"""Adyen's standard notifications: HMAC per item, stored once per pspReference+eventCode+success,
acted on forward only, answered `[accepted]`."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json

import pytest

from outbox.models import Message as OutboxMessage
from payments import services
from payments.models import AttemptStatus, PaymentMethod, Refund, WebhookEvent
from tests.factories import OrderFactory

from .fake_adyen import API_KEY, HMAC_KEY, MERCHANT, FakeAdyen

pytestmark = pytest.mark.django_db
S = AttemptStatus
URL = "/payments/webhooks/adyen/"


@pytest.fixture
def fake(settings, shop):
    server = FakeAdyen()
    settings.ADYEN_API_KEY = API_KEY
    settings.ADYEN_MERCHANT_ACCOUNT = MERCHANT
    settings.ADYEN_HMAC_KEY = HMAC_KEY
    settings.ADYEN_CHECKOUT_URL = server.url
    settings.ADYEN_HTTP_TIMEOUT_SECONDS = 1
    PaymentMethod.objects.filter(code="card").update(provider="adyen")
    yield server
    server.stop()


def pay(number="4111111111111111", key="k1"):
    order = OrderFactory(total=2400)
    return services.attempt_pay(
        order=order,
        method=PaymentMethod.objects.get(code="card"),
        idempotency_key=key,
        payment_method=f"adyen:test_{number}|test_03|test_2030|test_737",
        return_url=f"/orders/{order.number}/",
    )


def sign(item: dict) -> str:
    """Adyen's documented signing string, written out here (not the library's code)."""
    fields = [
        item["pspReference"],
        item.get("originalReference", ""),
        item["merchantAccountCode"],
        item["merchantReference"],
        str(item["amount"]["value"]),
        item["amount"]["currency"],
        item["eventCode"],
        item["success"],
    ]
    digest = hmac.new(
        binascii.a2b_hex(HMAC_KEY), ":".join(fields).encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()


def item(psp, code, reference, *, success="true", value=2400, original="", reason=""):
    entry = {
        "amount": {"currency": "USD", "value": value},
        "eventCode": code,
        "eventDate": "2026-11-27T17:00:00+01:00",
        "merchantAccountCode": MERCHANT,
        "merchantReference": reference,
        "pspReference": psp,
        "reason": reason,
        "success": success,
    }
    if original:
        entry["originalReference"] = original
    entry["additionalData"] = {"hmacSignature": sign(entry)}
    return entry


@pytest.fixture
def deliver(client, django_capture_on_commit_callbacks):
    def send(*items, tamper=None):
        body = {
            "live": "false",
            "notificationItems": [{"NotificationRequestItem": i} for i in items],
        }
        if tamper:
            tamper(body)
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(URL, json.dumps(body), content_type="application/json")

    return send


def test_authorisation_completes_a_3ds_payment_once_even_delivered_twice(fake, deliver):
    attempt = pay("4917610000000000")
    assert attempt.status == S.REQUIRES_ACTION
    note = item("FAKEPSP000000001", "AUTHORISATION", f"attempt-{attempt.public_id}")
    first = deliver(note)
    assert (first.status_code, first.content) == (200, b"[accepted]")
    second = deliver(note)
    assert (second.status_code, second.content) == (200, b"[accepted]")
    event = WebhookEvent.objects.get()
    assert (event.provider, event.event_id, event.deliveries) == (
        "adyen",
        "FAKEPSP000000001:AUTHORISATION:true",
        2,
    )
    attempt.refresh_from_db()
    assert attempt.status == S.SUCCEEDED
    assert attempt.order.status == "paid"
    assert OutboxMessage.objects.filter(kind="payments.webhook").count() == 1
    assert attempt.events.filter(to_status=S.SUCCEEDED).count() == 1


def test_a_failed_authorisation_after_success_does_not_move_it_back(fake, deliver):
    attempt = pay()
    assert attempt.status == S.SUCCEEDED
    deliver(
        item(
            "FAKEPSP000000001",
            "AUTHORISATION",
            f"attempt-{attempt.public_id}",
            success="false",
            reason="Not enough balance",
        )
    )
    attempt.refresh_from_db()
    assert attempt.status == S.SUCCEEDED
    assert WebhookEvent.objects.get().event_id == "FAKEPSP000000001:AUTHORISATION:false"


def test_a_refused_authorisation_fails_with_the_mapped_code(fake, deliver):
    attempt = pay("4917610000000000")
    deliver(
        item(
            "FAKEPSP000000001",
            "AUTHORISATION",
            f"attempt-{attempt.public_id}",
            success="false",
            reason="Expired Card",
        )
    )
    attempt.refresh_from_db()
    assert (attempt.status, attempt.failure_code) == (S.FAILED, "expired_card")


def test_a_hosted_link_payment_takes_the_payments_psp_reference(fake, deliver):
    attempt = pay("")  # no Adyen token: hosted page
    assert attempt.provider_reference == "link:PLFAKE0000000001"
    psp = fake.pay_link("PLFAKE0000000001")
    deliver(item(psp, "AUTHORISATION", f"attempt-{attempt.public_id}"))
    attempt.refresh_from_db()
    assert (attempt.status, attempt.provider_reference) == (S.SUCCEEDED, "FAKEPSP000000002")


@pytest.mark.parametrize(
    "tamper",
    [
        lambda b: b["notificationItems"][0]["NotificationRequestItem"]["amount"].update(value=1),
        lambda b: b["notificationItems"][0]["NotificationRequestItem"].update(success="false"),
        lambda b: b["notificationItems"][0]["NotificationRequestItem"].pop("additionalData"),
        lambda b: b["notificationItems"][1]["NotificationRequestItem"].update(eventCode="REFUND"),
    ],
    ids=["amount", "success", "no-signature", "second-item"],
)
def test_a_tampered_notification_is_refused_and_nothing_is_stored(fake, deliver, tamper):
    attempt = pay("4917610000000000")
    ref = f"attempt-{attempt.public_id}"
    response = deliver(
        item("FAKEPSP000000001", "AUTHORISATION", ref),
        item("FAKEPSP000000009", "AUTHORISATION", ref),
        tamper=tamper,
    )
    assert response.status_code == 400
    assert WebhookEvent.objects.count() == 0
    attempt.refresh_from_db()
    assert attempt.status == S.REQUIRES_ACTION


def test_garbage_is_a_400_not_a_500(fake, client):
    bodies = ["not json", "[]", '{"notificationItems": [{"x": 1}]}', '{"notificationItems": []}']
    for body in bodies:
        response = client.post(URL, body, content_type="application/json")
        assert response.status_code == 400, body
    assert WebhookEvent.objects.count() == 0


def test_without_an_hmac_key_the_door_is_closed(fake, client, settings):
    settings.ADYEN_HMAC_KEY = ""
    assert client.post(URL, "{}", content_type="application/json").status_code == 404


def refund_of(attempt):
    return services.refund_create(
        attempt=attempt,
        amount=500,
        destination="original",
        reason="asked",
        actor="staff:carol",
        idempotency_key="r1",
    )


def test_refund_received_then_settled_by_the_refund_notification(fake, deliver):
    attempt = pay()
    refund = refund_of(attempt)
    assert (refund.status, refund.provider_reference) == ("pending", "FAKEPSP000000002")
    note = item(
        "FAKEPSP000000002",
        "REFUND",
        f"refund-{refund.public_id}",
        value=500,
        original="FAKEPSP000000001",
    )
    deliver(note)
    deliver(note)
    refund.refresh_from_db()
    attempt.refresh_from_db()
    assert refund.status == "succeeded"
    assert (attempt.status, attempt.refunded_amount) == (S.PARTIALLY_REFUNDED, 500)
    assert Refund.objects.count() == 1
    assert WebhookEvent.objects.get().deliveries == 2


@pytest.mark.parametrize(
    ("code", "success"), [("REFUND", "false"), ("REFUND_FAILED", "true")], ids=["no", "failed"]
)
def test_a_refund_adyen_could_not_make_fails_and_gives_the_amount_back(
    fake, deliver, code, success
):
    attempt = pay()
    refund = refund_of(attempt)
    deliver(
        item(
            "FAKEPSP000000002",
            code,
            f"refund-{refund.public_id}",
            success=success,
            value=500,
            original="FAKEPSP000000001",
            reason="Insufficient balance on payment",
        )
    )
    refund.refresh_from_db()
    attempt.refresh_from_db()
    assert (refund.status, refund.failure_reason) == ("failed", "Insufficient balance on payment")
    assert (attempt.status, attempt.refunded_amount) == (S.SUCCEEDED, 0)


def test_a_refund_made_in_adyens_customer_area_is_recorded_once(fake, deliver):
    attempt = pay()
    note = item("FAKEPSP000000077", "REFUND", "manual", value=700, original="FAKEPSP000000001")
    deliver(note)
    deliver(note)
    (refund,) = Refund.objects.all()
    assert (refund.status, refund.amount, refund.provider_reference) == (
        "succeeded",
        700,
        "FAKEPSP000000077",
    )
    attempt.refresh_from_db()
    assert attempt.refunded_amount == 700


@pytest.mark.parametrize(
    ("cancel_success", "final"),
    [("true", S.CANCELED), ("false", S.SUCCEEDED)],
    ids=["voided", "stands"],
)
@pytest.mark.parametrize("order_of_events", ["authorisation-first", "cancellation-first"])
def test_a_payment_we_cancelled_then_authorised_waits_for_adyens_cancellation(
    fake, deliver, cancel_success, final, order_of_events
):
    attempt = pay("4917610000000000")
    attempt = services.attempt_cancel(attempt=attempt, actor="customer")
    assert attempt.status == S.CANCELED
    assert [c["paymentPspReference"] for c in fake.cancels] == ["FAKEPSP000000001"]
    authorised = item("FAKEPSP000000001", "AUTHORISATION", f"attempt-{attempt.public_id}")
    cancellation = item(
        "FAKEPSP000000001", "CANCELLATION", "cancel-FAKEPSP000000001", success=cancel_success
    )
    notes = [authorised, cancellation]
    if order_of_events == "cancellation-first":
        notes.reverse()
    deliver(notes[0])
    attempt.refresh_from_db()
    assert attempt.status == S.CANCELED  # neither alone moves it
    deliver(notes[1])
    attempt.refresh_from_db()
    assert attempt.status == final
    assert attempt.events.filter(to_status=S.SUCCEEDED).count() == (final == S.SUCCEEDED)

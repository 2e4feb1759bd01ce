"""Provider events: verified, stored once by event id, answered fast, processed in a task.

Events may come late, twice, or out of order. Each one is turned into the same `ChargeResult` a
direct answer would give and applied with `attempt_apply_result`, which only moves forward.
Refund events settle our refunds (found by the key we sent as metadata, or the refund id) and
record, once per provider refund, the refunds someone made at the provider without us.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import stripe
from django.conf import settings
from django.core.mail import mail_admins
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from config import metrics
from outbox.services import outbox_enqueue

from ..gateways import RefundResult
from ..gateways.stripe import result_from_intent
from ..models import (
    REFUND_KEY_PREFIX,
    PaymentAttempt,
    Refund,
    WebhookEvent,
    public_id_from_provider_key,
)
from . import direct_notifications
from .attempts import attempt_apply_result
from .errors import PaymentError

logger = logging.getLogger(__name__)

SIGNATURE_TOLERANCE_SECONDS = 300
# Events whose object is a Refund (charge.refund.updated is the older name some methods send).
REFUND_EVENTS = {"refund.created", "refund.updated", "refund.failed", "charge.refund.updated"}
INTENT_EVENTS = {
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.processing",
    "payment_intent.requires_action",
    "payment_intent.canceled",
}


class WebhookRejected(PaymentError):
    code = "webhook_rejected"


def webhook_secret(provider: str) -> str:
    return {
        "stripe": settings.STRIPE_WEBHOOK_SECRET,
        "simulator": settings.SIMULATOR_WEBHOOK_SECRET,
        # The simulator's second route signs with the same secret; its events are stored and
        # deduplicated under its own provider name.
        "simulator_b": settings.SIMULATOR_WEBHOOK_SECRET,
    }.get(provider, "")


def webhook_ingest(*, provider: str, body: bytes, signature: str) -> tuple[WebhookEvent, bool]:
    """Verify and store an event. Returns (event, created); a redelivery only counts itself.

    Nothing is stored when the signature or the body is wrong.
    """
    secret = webhook_secret(provider)
    if not secret:
        raise WebhookRejected(f"no webhook secret is configured for {provider}")
    try:
        text = body.decode("utf-8")
        stripe.WebhookSignature.verify_header(text, signature, secret, SIGNATURE_TOLERANCE_SECONDS)
        data = json.loads(text)
        event_id, event_type = str(data["id"]), str(data["type"])
        data["data"]["object"]  # noqa: B018 - the shape every event has
    except (stripe.SignatureVerificationError, UnicodeDecodeError) as exc:
        raise WebhookRejected("bad signature") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise WebhookRejected("malformed event") from exc
    _check_storable(event_id=event_id, event_type=event_type, text=text)
    return _store(provider=provider, event_id=event_id, event_type=event_type, data=data)


@dataclass(frozen=True)
class Notifications:
    """A provider whose notifications are its own shape, not Stripe's: `parse` verifies the
    raw request and returns (event id, type, payload) or raises ValueError (nothing is stored);
    `act` applies a stored event once and returns the outcome to record."""

    parse: Callable[[bytes, Mapping[str, str]], tuple[str, str, dict[str, Any]]]
    act: Callable[[WebhookEvent], str]


# One entry per provider with its own notification shape; the store, the dedupe by (provider,
# event id), the queue and the retries are the same for all.
NOTIFICATIONS: dict[str, Notifications] = {
    "alipay": Notifications(
        parse=direct_notifications.alipay_parse, act=direct_notifications.alipay_act
    ),
    "wechatpay": Notifications(
        parse=direct_notifications.wechatpay_parse, act=direct_notifications.wechatpay_act
    ),
}


def notification_ingest(
    *, provider: str, body: bytes, headers: Mapping[str, str]
) -> tuple[WebhookEvent, bool]:
    """Verify and store a notification of a provider in NOTIFICATIONS; like `webhook_ingest`,
    nothing is stored when it does not verify, and a redelivery only counts itself."""
    kind = NOTIFICATIONS.get(provider)
    if kind is None:
        raise WebhookRejected(f"{provider} has no notifications")
    try:
        event_id, event_type, data = kind.parse(body, headers)
        text = json.dumps(data)
    except (ValueError, KeyError, TypeError) as exc:
        raise WebhookRejected(f"refused: {exc}"[:200]) from exc
    _check_storable(event_id=event_id, event_type=event_type, text=text)
    return _store(provider=provider, event_id=event_id, event_type=event_type, data=data)


def _store(
    *, provider: str, event_id: str, event_type: str, data: dict[str, Any]
) -> tuple[WebhookEvent, bool]:
    with transaction.atomic():
        try:
            with transaction.atomic():
                event = WebhookEvent.objects.create(
                    provider=provider, event_id=event_id, type=event_type, payload=data
                )
            created = True
        except IntegrityError:
            WebhookEvent.objects.filter(provider=provider, event_id=event_id).update(
                deliveries=F("deliveries") + 1
            )
            event = WebhookEvent.objects.get(provider=provider, event_id=event_id)
            created = False
        if event.processed_at is None:
            _queue(event.pk)
    metrics.record_webhook(provider=provider, outcome="received" if created else "duplicate")
    return event, created


def _check_storable(*, event_id: str, event_type: str, text: str) -> None:
    """Refuse, with a 400, a signed event we could not store: the database would refuse it with
    a 500 after the signature was checked, and the provider would send it again forever."""
    id_limit = WebhookEvent._meta.get_field("event_id").max_length or 0
    type_limit = WebhookEvent._meta.get_field("type").max_length or 0
    if not event_id or len(event_id) > id_limit:
        raise WebhookRejected(f"event id must be 1 to {id_limit} characters")
    if not event_type or len(event_type) > type_limit:
        raise WebhookRejected(f"event type must be 1 to {type_limit} characters")
    # PostgreSQL refuses NUL in text and in jsonb, escaped or not.
    if "\x00" in event_id + event_type or "\\u0000" in text:
        raise WebhookRejected("malformed event")


def _queue(event_pk: int) -> None:
    # Stored with the event: accepted fast, processed after commit or by the outbox sweep.
    outbox_enqueue(
        kind="payments.webhook", payload={"event_id": event_pk}, key=f"webhook:{event_pk}"
    )


def _attempt_for(provider: str, intent: dict[str, Any]) -> PaymentAttempt | None:
    """Our attempt for a provider object: by the key we sent, else by the provider's id.

    The key comes first because an event can arrive before our own call has stored the id.
    """
    key = str((intent.get("metadata") or {}).get("attempt_key", ""))
    # Whichever route the key was sent on (`attempt-<id>` or `attempt-<id>:r2`).
    if public_id := public_id_from_provider_key(key):
        # Only an attempt this provider carried: another provider's event never moves it.
        attempt = PaymentAttempt.objects.filter(public_id=public_id, provider=provider).first()
        if attempt is not None:
            return attempt
    if intent.get("id"):
        return PaymentAttempt.objects.filter(
            provider=provider, provider_reference=intent["id"]
        ).first()
    return None


def _our_refund(provider: str, data: dict[str, Any]) -> Refund | None:
    """Our refund for a provider refund object: by the key we sent as metadata, else by the
    provider's id. The key comes first: the event can arrive before we stored the id."""
    key = str((data.get("metadata") or {}).get("refund_key", ""))
    if key.startswith(REFUND_KEY_PREFIX):
        try:
            public_id = uuid.UUID(key.removeprefix(REFUND_KEY_PREFIX))
        except ValueError:
            public_id = None
        if public_id is not None:
            refund = Refund.objects.filter(public_id=public_id, attempt__provider=provider).first()
            if refund is not None:
                return refund
    if data.get("id"):
        return Refund.objects.filter(
            attempt__provider=provider, provider_reference=data["id"]
        ).first()
    return None


def _refund_event(provider: str, data: dict[str, Any], actor: str) -> str:
    """A refund moved at the provider: ours settles; one we did not make is recorded."""
    from .refunds import refund_provider_update, refund_record_external, refund_settle

    status = str(data.get("status", ""))
    refund = _our_refund(provider, data)
    if refund is None:
        if status != "succeeded":
            return f"refund {data.get('id')} we did not make is {status}: waiting"
        attempt = None
        if data.get("payment_intent"):
            attempt = PaymentAttempt.objects.filter(
                provider=provider, provider_reference=data["payment_intent"]
            ).first()
        if attempt is None or not data.get("id"):
            return "ignored: no payment of ours"
        recorded = refund_record_external(
            attempt=attempt,
            reference=str(data["id"]),
            amount=int(data.get("amount") or 0),
            currency=str(data.get("currency") or ""),
            actor=actor,
        )
        if recorded is None:
            return f"refund {data['id']} not recorded: staff alerted"
        return f"refund {recorded.public_id} made at the provider is {recorded.status}"
    if status in {"pending", "processing", "requires_action"}:
        refund_provider_update(
            refund=refund, reference=str(data.get("id") or ""), provider_status=status
        )
        return f"refund {refund.public_id} still {status}"
    result = RefundResult(
        succeeded=status == "succeeded",
        reference=str(data.get("id", "")),
        failure_reason=data.get("failure_reason") or status,
    )
    refund = refund_settle(refund=refund, result=result, actor=actor)
    return f"refund {refund.public_id} is {refund.status}"


def _charge_refunded(provider: str, charge: dict[str, Any], actor: str) -> str:
    """`charge.refunded`: the charge carries its refunds only when they were expanded; each
    one is handled like a refund event (the refund.* events for it change nothing more)."""
    listed = (charge.get("refunds") or {}).get("data") or []
    if not listed:
        return "charge refunded: its refunds come as refund.* events"
    outcomes = [
        _refund_event(
            provider,
            {**item, "payment_intent": item.get("payment_intent") or charge.get("payment_intent")},
            actor,
        )
        for item in listed
    ]
    return "; ".join(outcomes)


# What `data.object` must be for each kind of event we act on (Stripe's `object` field).
_EXPECTED_OBJECT = {
    **{kind: "refund" for kind in REFUND_EVENTS},
    "charge.refunded": "charge",
    **{kind: "payment_intent" for kind in INTENT_EVENTS},
}


def _act_on(event: WebhookEvent) -> str:
    """What the event changes, as the outcome to record. Raises only on a fault of ours."""
    if event.provider in NOTIFICATIONS:
        return NOTIFICATIONS[event.provider].act(event)
    if event.provider == "adyen":
        # Each provider other than Stripe's shape reads its own events in its own module.
        from .webhooks_adyen import adyen_event_act

        return adyen_event_act(event)
    expected = _EXPECTED_OBJECT.get(event.type)
    if expected is None:
        return "ignored: not an event we act on"
    obj = (event.payload.get("data") or {}).get("object")
    if not isinstance(obj, dict) or obj.get("object") != expected:
        # Signed, so from the provider, but not what this type carries (an API version we do
        # not read, a test sent by hand): acting on it would crash on every try.
        found = obj.get("object") if isinstance(obj, dict) else type(obj).__name__
        return f"ignored: {event.type} carries {str(found)[:40]!r}, not a {expected}"
    actor = f"webhook:{event.provider}:{event.event_id}"
    if event.type in REFUND_EVENTS:
        return _refund_event(event.provider, obj, actor)
    if event.type == "charge.refunded":
        return _charge_refunded(event.provider, obj, actor)
    attempt = _attempt_for(event.provider, obj)
    if attempt is None:
        return "ignored: no attempt of ours"
    if not attempt.provider_reference and obj.get("id"):
        PaymentAttempt.objects.filter(pk=attempt.pk).update(provider_reference=obj["id"])
    attempt = attempt_apply_result(attempt=attempt, result=result_from_intent(obj), actor=actor)
    return f"attempt {attempt.public_id} is {attempt.status}"


@transaction.atomic
def webhook_process(*, event_pk: int) -> WebhookEvent:
    """Act on a stored event once. Safe to run twice: a processed event is left alone.

    A try that fails is undone and counted on the event; the sweeper tries it again. After
    PAYMENTS_WEBHOOK_MAX_TRIES failed tries the event is closed as given up and staff are told
    once: a poison event must not be re-queued every minute forever.
    """
    event = WebhookEvent.objects.select_for_update().get(pk=event_pk)
    if event.processed_at is not None:
        return event
    try:
        with transaction.atomic():  # a savepoint: a failed try leaves nothing half done
            outcome = _act_on(event)
    except Exception as exc:  # noqa: BLE001 - any fault is one failed try, counted below
        return _try_failed(event, exc)
    event.processed_at = timezone.now()
    event.outcome = outcome[:200]
    event.save(update_fields=["processed_at", "outcome"])
    logger.info("webhook %s %s (%s): %s", event.provider, event.event_id, event.type, outcome)
    metrics.record_webhook(
        provider=event.provider, outcome="ignored" if outcome.startswith("ignored") else "processed"
    )
    return event


def _try_failed(event: WebhookEvent, exc: Exception) -> WebhookEvent:
    logger.exception("Webhook event %s failed (try %s)", event, event.tries + 1)
    event.tries += 1
    error = f"{type(exc).__name__}: {exc}"
    fields = ["tries", "outcome"]
    if event.tries < settings.PAYMENTS_WEBHOOK_MAX_TRIES:
        event.outcome = f"try {event.tries} failed: {error}"[:200]
    else:
        # Closed under the row lock, so exactly one try gets here and staff hear once.
        event.processed_at = timezone.now()
        event.outcome = f"gave up after {event.tries} tries: {error}"[:200]
        fields.append("processed_at")
        label, tries = str(event), event.tries
        transaction.on_commit(
            lambda: mail_admins(
                f"Webhook event given up: {label}",
                f"Processing {label} failed {tries} times ({error}); it will not be tried "
                "again. Check what it says at the provider and settle the payment or refund "
                "it names by hand.",
            )
        )
    event.save(update_fields=fields)
    return event


def webhook_requeue_stale(*, older_than: timedelta = timedelta(minutes=1)) -> int:
    """Queue again the events whose processing task was lost (a worker died, a broker blip)."""
    stale = WebhookEvent.objects.filter(
        processed_at__isnull=True, received_at__lt=timezone.now() - older_than
    ).values_list("pk", flat=True)[:500]
    from ..tasks import process_webhook_event

    count = 0
    for pk in stale:
        process_webhook_event.delay(pk)
        count += 1
    return count

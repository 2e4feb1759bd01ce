"""Adyen's standard notifications (JSON): verified, stored once, acted on by the same task.

Adyen signs each NotificationRequestItem (HMAC-SHA256 over its documented fields, in
`additionalData.hmacSignature`); one item that does not verify refuses the whole delivery with a
400 and nothing is stored. Adyen documents that the same notification may come more than once
and that `eventCode` + `pspReference` identify it, with `success` telling apart a later item that
reverses it: `<pspReference>:<eventCode>:<success>` is the event id, unique per provider. The
answer Adyen expects is `[accepted]`.

AUTHORISATION moves the attempt (found by our key, sent as `merchantReference`) forward only;
REFUND and REFUND_FAILED settle our refund (found by its key, sent as the refund's `reference`).
A payment we cancelled (3-D Secure nobody finished) and Adyen then authorised is held until
Adyen's CANCELLATION says whether the cancel voided it (nothing taken) or not (it stands).
"""

from __future__ import annotations

import binascii
import json
import uuid
from typing import Any

from Adyen.util import is_valid_hmac_notification
from django.conf import settings
from django.db import transaction

from ..gateways import ChargeResult, Outcome, RefundResult
from ..gateways.adyen import LINK_PREFIX, as_dict, failure_code_for
from ..models import PROVIDER_KEY_PREFIX, REFUND_KEY_PREFIX, PaymentAttempt, Refund, WebhookEvent
from .attempts import attempt_apply_result
from .webhooks import WebhookRejected, _check_storable, _store

PROVIDER = "adyen"
ACCEPTED = "[accepted]"


def _items(body: bytes) -> list[dict[str, Any]]:
    try:
        data = json.loads(body.decode("utf-8"))
        items = [entry["NotificationRequestItem"] for entry in data["notificationItems"]]
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise WebhookRejected("malformed notification") from exc
    if not items or not all(isinstance(item, dict) for item in items):
        raise WebhookRejected("malformed notification")
    return items


def _verified(item: dict[str, Any], key: str) -> bool:
    try:
        signature = (item.get("additionalData") or {}).get("hmacSignature")
        if not isinstance(signature, str) or not signature:
            return False
        # The library checks one item at a time (given a whole batch it checks only the first).
        return bool(is_valid_hmac_notification(item, key))
    except (KeyError, TypeError, ValueError, AttributeError, binascii.Error):
        return False


def _event_id(item: dict[str, Any]) -> tuple[str, str]:
    try:
        psp, code, success = item["pspReference"], item["eventCode"], item["success"]
    except KeyError as exc:
        raise WebhookRejected("notification item without pspReference/eventCode") from exc
    if not all(isinstance(part, str) and part for part in (psp, code, success)):
        raise WebhookRejected("malformed notification")
    return f"{psp}:{code}:{success}", code


def adyen_notification_ingest(*, body: bytes) -> list[tuple[WebhookEvent, bool]]:
    """Verify every item, then store each once; returns (event, created) per item.

    Nothing is stored when any item's signature or shape is wrong: Adyen then delivers again.
    """
    key = settings.ADYEN_HMAC_KEY
    if not key:
        raise WebhookRejected("no HMAC key is configured for adyen")
    items = _items(body)
    if not all(_verified(item, key) for item in items):
        raise WebhookRejected("bad signature")
    named = [(_event_id(item), item) for item in items]
    for (event_id, code), _item in named:
        _check_storable(event_id=event_id, event_type=code, text=body.decode("utf-8"))
    # One batch, one transaction: the store's counts are added when it commits.
    with transaction.atomic():
        return [
            _store(provider=PROVIDER, event_id=event_id, event_type=code, data=item)
            for (event_id, code), item in named
        ]


def _amount(item: dict[str, Any]) -> tuple[int | None, str]:
    amount = as_dict(item.get("amount"))
    value = amount.get("value")
    return (
        value if isinstance(value, int) and not isinstance(value, bool) else None,
        str(amount.get("currency") or "").upper(),
    )


def _attempt_for(item: dict[str, Any]) -> PaymentAttempt | None:
    """By our key (merchantReference) first: the notification can beat our own call's answer."""
    key = str(item.get("merchantReference") or "")
    if key.startswith(PROVIDER_KEY_PREFIX):
        attempt = PaymentAttempt.objects.filter(
            public_id=key.removeprefix(PROVIDER_KEY_PREFIX), provider=PROVIDER
        ).first()
        if attempt is not None:
            return attempt
    return PaymentAttempt.objects.filter(
        provider=PROVIDER, provider_reference=str(item["pspReference"])
    ).first()


def _authorisation(item: dict[str, Any], actor: str) -> str:
    attempt = _attempt_for(item)
    if attempt is None:
        return "ignored: no attempt of ours"
    psp = str(item["pspReference"])
    if not attempt.provider_reference or attempt.provider_reference.startswith(LINK_PREFIX):
        # Paid on a hosted link, or before our call stored the id: refunds need this one.
        PaymentAttempt.objects.filter(pk=attempt.pk).update(provider_reference=psp)
    payload = {"pspReference": psp, "eventCode": "AUTHORISATION", "success": item["success"]}
    if item["success"] == "true" and _canceled_by_us(attempt, psp):
        # We sent /cancels for this payment: if Adyen cancelled it, the authorisation is void
        # and nothing was taken; only a cancel Adyen could not make lets it stand.
        if _stored(psp, "CANCELLATION", "true"):
            return f"ignored: attempt {attempt.public_id} was cancelled at Adyen, nothing taken"
        if not _stored(psp, "CANCELLATION", "false"):
            return f"held: attempt {attempt.public_id} was cancelled; its CANCELLATION decides"
    if item["success"] == "true":
        value, currency = _amount(item)
        result = ChargeResult(
            Outcome.SUCCEEDED, psp, payload=payload, amount=value, currency=currency
        )
    else:
        reason = str(item.get("reason") or "")
        result = ChargeResult(
            Outcome.FAILED,
            psp,
            failure_code=failure_code_for("Refused", reason),
            message=reason,
            payload={**payload, "reason": reason},
        )
    attempt = attempt_apply_result(attempt=attempt, result=result, actor=actor)
    return f"attempt {attempt.public_id} is {attempt.status}"


def _canceled_by_us(attempt: PaymentAttempt, psp: str) -> bool:
    """attempt_cancel sends /cancels only for a payment it has the pspReference of."""
    return attempt.status == PaymentAttempt.Status.CANCELED and attempt.provider_reference == psp


def _stored(psp: str, code: str, success: str) -> WebhookEvent | None:
    return WebhookEvent.objects.filter(
        provider=PROVIDER, event_id=f"{psp}:{code}:{success}"
    ).first()


def _cancellation(item: dict[str, Any], actor: str) -> str:
    """Adyen's answer to our /cancels. A cancel it could not make (already captured) leaves
    the payment standing: a held AUTHORISATION is applied now (honoured, or flagged for a
    refund when the order was paid another way meanwhile)."""
    psp = str(item["pspReference"])
    attempt = PaymentAttempt.objects.filter(provider=PROVIDER, provider_reference=psp).first()
    if attempt is None:
        return "ignored: no attempt of ours"
    if item["success"] == "true":
        return f"attempt {attempt.public_id} cancelled at Adyen: nothing taken"
    authorised = _stored(psp, "AUTHORISATION", "true")
    if authorised is None or not _canceled_by_us(attempt, psp):
        return f"ignored: the cancel of {psp} failed, and no authorisation of it is held"
    return _authorisation(authorised.payload, actor)


def _our_refund(item: dict[str, Any]) -> Refund | None:
    key = str(item.get("merchantReference") or "")
    if key.startswith(REFUND_KEY_PREFIX):
        try:
            public_id = uuid.UUID(key.removeprefix(REFUND_KEY_PREFIX))
        except ValueError:
            public_id = None
        if public_id is not None:
            refund = Refund.objects.filter(public_id=public_id, attempt__provider=PROVIDER).first()
            if refund is not None:
                return refund
    return Refund.objects.filter(
        attempt__provider=PROVIDER, provider_reference=str(item["pspReference"])
    ).first()


def _refund(item: dict[str, Any], actor: str) -> str:
    from .refunds import refund_record_external, refund_settle

    psp = str(item["pspReference"])
    succeeded = item["eventCode"] == "REFUND" and item["success"] == "true"
    refund = _our_refund(item)
    if refund is None:
        if not succeeded:
            return f"ignored: refund {psp} we did not make did not succeed"
        attempt = PaymentAttempt.objects.filter(
            provider=PROVIDER, provider_reference=str(item.get("originalReference") or "")
        ).first()
        value, currency = _amount(item)
        if attempt is None or value is None:
            return "ignored: no payment of ours"
        recorded = refund_record_external(
            attempt=attempt, reference=psp, amount=value, currency=currency, actor=actor
        )
        if recorded is None:
            return f"refund {psp} not recorded: staff alerted"
        return f"refund {recorded.public_id} made at Adyen is {recorded.status}"
    result = RefundResult(
        succeeded=succeeded,
        reference=psp,
        failure_reason="" if succeeded else str(item.get("reason") or "refund_failed")[:100],
    )
    refund = refund_settle(refund=refund, result=result, actor=actor)
    return f"refund {refund.public_id} is {refund.status}"


def adyen_event_act(event: WebhookEvent) -> str:
    """What one stored Adyen notification changes, as the outcome to record."""
    item = event.payload
    actor = f"webhook:{PROVIDER}:{event.event_id}"
    if event.type == "AUTHORISATION":
        return _authorisation(item, actor)
    if event.type == "CANCELLATION":
        return _cancellation(item, actor)
    if event.type in {"REFUND", "REFUND_FAILED"}:
        return _refund(item, actor)
    return f"ignored: {event.type} is not an event we act on"

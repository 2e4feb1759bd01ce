"""Notifications from Alipay direct and WeChat Pay direct: each provider's own shape, verified
and turned into the same `ChargeResult` / `RefundResult` a direct answer gives, then applied
with `attempt_apply_result` / `refund_settle` (forward-only, safe to repeat).

`*_parse` runs before anything is stored (a bad signature stores nothing); `*_act` runs on the
stored event, once, in the webhook task.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from django.conf import settings

from ..gateways import (
    ChargeResult,
    GatewayError,
    RefundResult,
    alipay_configured,
    wechatpay_configured,
)
from ..gateways import alipay as alipay_gateway
from ..gateways import wechatpay as wechatpay_gateway
from ..gateways.china import attempt_public_id, refund_public_id
from ..models import PaymentAttempt, Refund, WebhookEvent
from .attempts import attempt_apply_result

Parsed = tuple[str, str, dict[str, Any]]


def _attempt(provider: str, trade_no: str) -> PaymentAttempt | None:
    """Our attempt for a trade number: by the reference we stored, else by the attempt key it
    was made from (a notification may come before our own call stored the reference)."""
    if not trade_no:
        return None
    found = PaymentAttempt.objects.filter(provider=provider, provider_reference=trade_no).first()
    public_id = attempt_public_id(trade_no)
    if found is None and public_id is not None:
        found = PaymentAttempt.objects.filter(provider=provider, public_id=public_id).first()
    return found


def _refund(provider: str, refund_no: str, provider_id: str) -> Refund | None:
    public_id = refund_public_id(refund_no)
    if public_id is not None:
        found = Refund.objects.filter(public_id=public_id, attempt__provider=provider).first()
        if found is not None:
            return found
    for reference in {refund_no, provider_id} - {""}:
        found = Refund.objects.filter(
            attempt__provider=provider, provider_reference=reference
        ).first()
        if found is not None:
            return found
    return None


def _apply(event: WebhookEvent, attempt: PaymentAttempt | None, result: ChargeResult) -> str:
    if attempt is None:
        return "ignored: no attempt of ours"
    actor = f"webhook:{event.provider}:{event.event_id}"
    attempt = attempt_apply_result(attempt=attempt, result=result, actor=actor)
    return f"attempt {attempt.public_id} is {attempt.status}"


def _settle(event: WebhookEvent, refund: Refund | None, result: RefundResult) -> str:
    from .refunds import refund_settle

    if refund is None:
        return "ignored: no refund of ours"
    actor = f"webhook:{event.provider}:{event.event_id}"
    refund = refund_settle(refund=refund, result=result, actor=actor)
    return f"refund {refund.public_id} is {refund.status}"


# --- Alipay ------------------------------------------------------------------------------------


def alipay_parse(body: bytes, headers: Mapping[str, str]) -> Parsed:
    """A form-encoded asynchronous notification, verified (RSA2), as (notify_id, type, params).
    Raises ValueError when it is unsigned, tampered, for another app, or not readable."""
    if not alipay_configured():
        raise ValueError("alipay is not configured")
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError("unreadable notification") from exc
    if any(len(values) != 1 for values in fields.values()):
        raise ValueError("a parameter is repeated")
    params = alipay_gateway.notification_verify({k: v[0] for k, v in fields.items()})
    notify_id = params.get("notify_id", "")
    kind = f"{params.get('notify_type', '')}:{params.get('trade_status', '')}"
    return notify_id, kind, dict(params)


def alipay_act(event: WebhookEvent) -> str:
    params = event.payload
    trade_no = str(params.get("out_trade_no", ""))
    refund_no = str(params.get("out_biz_no", ""))
    if refund_no and params.get("refund_fee"):
        # A refund went through: Alipay tells it on the trade, naming our out_request_no.
        refund = _refund("alipay", refund_no, "")
        return _settle(event, refund, RefundResult(True, refund_no))
    try:
        result = alipay_gateway.result_from_trade(params)
    except GatewayError as exc:
        return f"ignored: {exc}"
    return _apply(event, _attempt("alipay", trade_no), result)


# --- WeChat Pay --------------------------------------------------------------------------------


def wechatpay_parse(body: bytes, headers: Mapping[str, str]) -> Parsed:
    """A v3 notification, verified and decrypted, as (id, event_type, notification)."""
    if not wechatpay_configured():
        raise ValueError("wechatpay is not configured")
    data = wechatpay_gateway.notification_verify(headers, body)
    resource = data["resource"]
    if str(resource.get("mchid", "")) != settings.WECHATPAY_MCHID:
        raise ValueError("notification for another merchant")
    # Who paid is not ours to keep.
    resource.pop("payer", None)
    return str(data["id"]), str(data["event_type"]), data


def wechatpay_act(event: WebhookEvent) -> str:
    resource = event.payload.get("resource") or {}
    if not isinstance(resource, dict):
        return "ignored: no resource"
    if event.type == "TRANSACTION.SUCCESS":
        try:
            result = wechatpay_gateway.result_from_transaction(resource)
        except GatewayError as exc:
            return f"ignored: {exc}"
        return _apply(event, _attempt("wechatpay", str(resource.get("out_trade_no", ""))), result)
    if event.type in {"REFUND.SUCCESS", "REFUND.ABNORMAL", "REFUND.CLOSED"}:
        refund = _refund(
            "wechatpay", str(resource.get("out_refund_no", "")), str(resource.get("refund_id", ""))
        )
        return _settle(event, refund, wechatpay_gateway.refund_result(resource))
    return "ignored: not an event we act on"

"""WeChat Pay direct, through wechatpayv3 (API v3): a Native order's `code_url` shown as a QR
code, read back with the order query, refunded with domestic refunds, closed with the close API,
and v3 notifications checked (RSA-SHA256 over timestamp, nonce and body with WeChat Pay's
platform public key) and decrypted (AES-256-GCM with our APIv3 key).

Our attempt's key is the order's `out_trade_no`, so sending the same attempt twice is the same
order at WeChat Pay. Amounts are fen integers, as ours are. A timeout, a 5xx, an answer whose
signature does not verify or that cannot be read is "no answer", never a decline.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests
from django.conf import settings
from django.utils.translation import gettext as _
from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpayv3.utils import aes_decrypt, load_public_key, rsa_verify

from .base import (
    CardSummary,
    ChargeRequest,
    ChargeResult,
    GatewayError,
    NotCharged,
    Outcome,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    RefundResult,
)
from .china import CURRENCIES, notify_url, qr_page_url, require_cny, trade_number

NAME = "wechatpay"
# out_trade_no: 6 to 32 of letters, digits, _-|*; out_refund_no: up to 64 of those and @.
_TRADE_NO_LIMIT = 32
_REFUND_NO_LIMIT = 64
_TRADE_NO_CHARS = r"A-Za-z0-9_\-|*"
NOTIFICATION_TOLERANCE_SECONDS = 300

# Error codes WeChat Pay documents as "not processed", where another route can take the payment:
# this merchant account cannot (no permission, app and merchant do not match, too many calls).
_NOT_CHARGED = {"NO_AUTH", "APPID_MCHID_NOT_MATCH", "MCH_NOT_EXISTS", "FREQUENCY_LIMITED"}
# The request itself is wrong: not processed, and sending it again will not help.
_REJECTED = {"PARAM_ERROR", "INVALID_REQUEST", "SIGN_ERROR", "OUT_TRADE_NO_USED"}
# A replay of an order that moved on: what it is now is the answer.
_MOVED_ON = {"ORDERPAID", "ORDER_CLOSED"}

_TRADE_OUTCOME = {
    "SUCCESS": Outcome.SUCCEEDED,
    # Paid, then (partly) refunded: the payment itself succeeded.
    "REFUND": Outcome.SUCCEEDED,
    "NOTPAY": Outcome.REQUIRES_ACTION,
    "USERPAYING": Outcome.PROCESSING,
    "CLOSED": Outcome.FAILED,
    "REVOKED": Outcome.FAILED,
    "PAYERROR": Outcome.FAILED,
}
_FAILURE_CODE = {"CLOSED": "canceled", "REVOKED": "canceled", "PAYERROR": "processing_error"}


def make_client() -> WeChatPay:
    """The WeChat Pay client from the environment, verifying answers with the platform public
    key (no certificate download). Its base URL is the seam tests point at a local fake."""
    client = WeChatPay(
        wechatpay_type=WeChatPayType.NATIVE,
        mchid=settings.WECHATPAY_MCHID,
        private_key=settings.WECHATPAY_PRIVATE_KEY,
        cert_serial_no=settings.WECHATPAY_CERT_SERIAL,
        appid=settings.WECHATPAY_APPID,
        apiv3_key=settings.WECHATPAY_APIV3_KEY,
        notify_url=notify_url(NAME),
        timeout=(settings.WECHATPAY_CONNECT_TIMEOUT_SECONDS, settings.WECHATPAY_TIMEOUT_SECONDS),
        public_key=settings.WECHATPAY_PLATFORM_PUBLIC_KEY,
        public_key_id=settings.WECHATPAY_PLATFORM_PUBLIC_KEY_ID,
    )
    client._core._gate_way = settings.WECHATPAY_BASE_URL.rstrip("/")
    return client


def out_trade_no(idempotency_key: str) -> str:
    return trade_number(idempotency_key, limit=_TRADE_NO_LIMIT, allowed=_TRADE_NO_CHARS)


def out_refund_no(idempotency_key: str) -> str:
    return trade_number(idempotency_key, limit=_REFUND_NO_LIMIT, allowed=_TRADE_NO_CHARS + "@")


def _refused(exc: BaseException) -> bool:
    """Whether a requests connection error was a refused connection (nothing was sent)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        item = todo.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, ConnectionRefusedError):
            return True
        todo += [item.__cause__, item.__context__, getattr(item, "reason", None)]
        todo += [arg for arg in item.args if isinstance(arg, BaseException)]
    return False


def _call(fn: Callable[[], tuple[int, Any]]) -> tuple[int, dict[str, Any]]:
    """One SDK call: (HTTP status, JSON body), its failures sorted into what they mean."""
    try:
        status, text = fn()
    except requests.Timeout as exc:
        raise ProviderTimeout(f"wechatpay: no answer in time ({type(exc).__name__})") from exc
    except requests.ConnectionError as exc:
        if _refused(exc):
            raise NotCharged("wechatpay: connection refused") from exc
        raise ProviderTimeout(f"wechatpay: connection lost ({type(exc).__name__})") from exc
    except requests.RequestException as exc:
        raise ProviderUnavailable(f"wechatpay: {type(exc).__name__}") from exc
    except Exception as exc:  # noqa: BLE001 - the SDK raises bare Exception on a bad signature
        raise ProviderUnavailable(f"wechatpay: {str(exc)[:100]}") from exc
    if status >= 500:
        raise ProviderUnavailable(f"wechatpay HTTP {status}")
    if status == 204:
        return status, {}
    try:
        body = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise ProviderUnavailable(f"wechatpay HTTP {status}: unreadable answer") from exc
    if not isinstance(body, dict):
        raise ProviderUnavailable(f"wechatpay HTTP {status}: unreadable answer")
    return status, body


def _refuse(status: int, body: Mapping[str, Any]) -> GatewayError | ProviderRejected:
    code = str(body.get("code", ""))
    label = f"wechatpay HTTP {status} {code}: {str(body.get('message', ''))[:100]}"
    if code in _NOT_CHARGED:
        return NotCharged(label)
    if code in _REJECTED:
        return ProviderRejected(label)
    # SYSTEM_ERROR, BANKERROR and anything undocumented: unknown.
    return ProviderUnavailable(label)


def result_from_transaction(trade: Mapping[str, Any], *, reference: str = "") -> ChargeResult:
    """An order (from the query API or a decrypted notification) as our neutral answer."""
    state = str(trade.get("trade_state", ""))
    reference = str(trade.get("out_trade_no") or reference)
    found = trade.get("amount")
    amount: dict[str, Any] = found if isinstance(found, dict) else {}
    payload = {
        "out_trade_no": reference,
        "transaction_id": str(trade.get("transaction_id", "")),
        "trade_state": state,
        "amount": amount,
    }
    outcome = _TRADE_OUTCOME.get(state)
    if outcome is None:
        raise ProviderUnavailable(f"wechatpay: unknown trade state {state[:40]!r}")
    if outcome == Outcome.SUCCEEDED:
        total = amount.get("total")
        if not isinstance(total, int) or isinstance(total, bool):
            raise ProviderUnavailable("wechatpay: unreadable amount")
        currency = str(amount.get("currency") or "CNY").upper()
        return ChargeResult(outcome, reference, payload=payload, amount=total, currency=currency)
    if outcome == Outcome.REQUIRES_ACTION:
        return ChargeResult(
            outcome, reference, action_url=qr_page_url(NAME, reference), payload=payload
        )
    if outcome == Outcome.PROCESSING:
        return ChargeResult(outcome, reference, payload=payload)
    return ChargeResult(
        outcome,
        reference,
        failure_code=_FAILURE_CODE[state],
        message=str(trade.get("trade_state_desc", ""))[:200],
        payload=payload,
    )


class WechatPayGateway:
    name = NAME
    currencies = CURRENCIES

    def __init__(self, client: WeChatPay | None = None) -> None:
        self.client = client or make_client()

    def charge(self, request: ChargeRequest) -> ChargeResult:
        require_cny(request.currency)
        trade_no = out_trade_no(request.idempotency_key)
        status, body = _call(
            lambda: self.client.pay(
                description=str(_("Order payment")),
                out_trade_no=trade_no,
                amount={"total": request.amount, "currency": "CNY"},
                pay_type=WeChatPayType.NATIVE,
            )
        )
        if status >= 300:
            if str(body.get("code", "")) in _MOVED_ON:
                return self.retrieve(trade_no)
            raise _refuse(status, body)
        code_url = str(body.get("code_url") or "")
        if not code_url:
            raise ProviderUnavailable("wechatpay: Native order answered without a code_url")
        return ChargeResult(
            Outcome.REQUIRES_ACTION,
            trade_no,
            action_url=qr_page_url(NAME, trade_no),
            payload={"out_trade_no": trade_no, "qr_code": code_url, "trade_state": "NOTPAY"},
        )

    def retrieve(self, reference: str) -> ChargeResult:
        status, body = _call(lambda: self.client.query(out_trade_no=reference))
        if status != 200:
            # ORDER_NOT_EXIST included: an order that never arrived; the confirmation limit
            # decides, never a guess.
            raise ProviderUnavailable(f"wechatpay query HTTP {status} {body.get('code', '')}")
        return result_from_transaction(body, reference=reference)

    def cancel(self, reference: str) -> ChargeResult:
        status, body = _call(lambda: self.client.close(out_trade_no=reference))
        code = str(body.get("code", ""))
        if status == 404 and code == "ORDER_NOT_EXIST":
            return ChargeResult(
                Outcome.FAILED,
                reference,
                failure_code="canceled",
                payload={"out_trade_no": reference, "trade_state": "ORDER_NOT_EXIST"},
            )
        if status >= 300 and code not in _MOVED_ON:
            raise ProviderUnavailable(f"wechatpay close HTTP {status} {code}")
        # Closed, or it moved on meanwhile (paid): what it is now is the answer.
        return self.retrieve(reference)

    def refund(self, *, reference: str, amount: int, idempotency_key: str) -> RefundResult:
        # WeChat Pay wants the order's total with every refund: read it from WeChat Pay.
        paid = self.retrieve(reference)
        if paid.outcome != Outcome.SUCCEEDED or paid.amount is None:
            return RefundResult(False, "", failure_reason="not_paid")
        refund_no = out_refund_no(idempotency_key)
        status, body = _call(
            lambda: self.client.refund(
                out_refund_no=refund_no,
                amount={"refund": amount, "total": paid.amount, "currency": "CNY"},
                out_trade_no=reference,
            )
        )
        if status >= 300:
            code = str(body.get("code", ""))
            if code in {"SYSTEM_ERROR", "FREQUENCY_LIMITED", "BANKERROR"}:
                raise ProviderUnavailable(f"wechatpay refund HTTP {status} {code}")
            return RefundResult(False, "", failure_reason=code.lower()[:60] or "wechatpay_error")
        return refund_result(body)

    def card_fingerprint(self, payment_method: str) -> str:
        return ""

    def card_summary(self, payment_method: str) -> CardSummary:
        return CardSummary()  # no card behind a WeChat Pay payment


def refund_result(body: Mapping[str, Any]) -> RefundResult:
    """A refund (from the refund API or a decrypted notification) as our neutral answer."""
    reference = str(body.get("refund_id", ""))
    state = str(body.get("status") or body.get("refund_status") or "")
    if state == "SUCCESS":
        return RefundResult(True, reference)
    if state == "PROCESSING":
        return RefundResult(False, reference, pending=True)
    return RefundResult(False, reference, failure_reason=state.lower()[:60] or "unknown")


def notification_verify(headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    """A v3 notification, verified and with its resource decrypted, or ValueError.

    Checked here rather than by the SDK: a serial we do not know must be refused, not sent off
    to download certificates, and a notification older than five minutes is a replay."""
    try:
        text = body.decode("utf-8")
        timestamp = int(headers.get("Wechatpay-Timestamp", ""))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError("unreadable notification") from exc
    if headers.get("Wechatpay-Serial", "") != settings.WECHATPAY_PLATFORM_PUBLIC_KEY_ID:
        raise ValueError("unknown Wechatpay-Serial")
    if abs(time.time() - timestamp) > NOTIFICATION_TOLERANCE_SECONDS:
        raise ValueError("timestamp outside the tolerance")
    signature_type = headers.get("Wechatpay-Signature-Type", "WECHATPAY2-SHA256-RSA2048")
    public_key = load_public_key(settings.WECHATPAY_PLATFORM_PUBLIC_KEY)
    if signature_type != "WECHATPAY2-SHA256-RSA2048" or not rsa_verify(
        str(timestamp),
        headers.get("Wechatpay-Nonce", ""),
        text,
        headers.get("Wechatpay-Signature", ""),
        public_key,
    ):
        raise ValueError("bad signature")
    try:
        data = json.loads(text)
        resource = data["resource"]
        if resource["algorithm"] != "AEAD_AES_256_GCM":
            raise ValueError("unknown algorithm")
        plain = aes_decrypt(
            nonce=str(resource["nonce"]),
            ciphertext=str(resource["ciphertext"]),
            associated_data=str(resource.get("associated_data") or ""),
            apiv3_key=settings.WECHATPAY_APIV3_KEY,
        )
        if plain is None:
            raise ValueError("resource does not decrypt with our APIv3 key")
        decrypted = json.loads(plain)
        if not isinstance(decrypted, dict):
            raise ValueError("resource is not an object")
        data["resource"] = decrypted
        str(data["id"]), str(data["event_type"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"malformed notification: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError("malformed notification")
    return data

"""Alipay direct, through python-alipay-sdk (`alipay`): a QR code from alipay.trade.precreate,
read back with alipay.trade.query, refunded with alipay.trade.refund, closed with
alipay.trade.close, and asynchronous notifications checked against Alipay's RSA2 key.

Our attempt's key is the trade's `out_trade_no`, so sending the same attempt twice is the same
trade at Alipay. Every answer is signed by Alipay and checked by the SDK; an answer that does
not verify or cannot be read is "no answer" (`ProviderUnavailable`), never a decline. A refused
connection is the one network failure after which nothing was charged (`NotCharged`).
"""

from __future__ import annotations

import http.client
import urllib.error
from collections.abc import Callable, Mapping
from typing import Any

from alipay import AliPay
from alipay.exceptions import AliPayException, AliPayValidationError
from alipay.utils import AliPayConfig
from django.conf import settings
from django.utils.translation import gettext as _

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
from .china import CURRENCIES, fen, notify_url, qr_page_url, require_cny, trade_number, yuan

NAME = "alipay"
SUCCESS = "10000"
# out_trade_no / out_request_no: at most 64 letters, digits and underscores.
_TRADE_NO_LIMIT = 64
_TRADE_NO_CHARS = "A-Za-z0-9_"

# Answers Alipay documents as "the request was not processed" and that another route can take:
# this merchant account cannot make the trade (no permission, app id wrong, account blocked).
_NOT_CHARGED = {
    "20001",  # 授权权限不足
    "40006",  # 权限不足
    "ACQ.ACCESS_FORBIDDEN",
    "ACQ.PARTNER_ERROR",
    "ACQ.SELLER_BEEN_BLOCKED",
    "ACQ.MERCHANT_AGREEMENT_NOT_EXIST",
}
# The request itself is wrong: not processed, and sending it again will not help.
_REJECTED = {
    "40001",  # 缺少必选参数
    "40002",  # 非法的参数
    "ACQ.INVALID_PARAMETER",
    "ACQ.CONTEXT_INCONSISTENT",  # this out_trade_no was made with other details
    "ACQ.TOTAL_FEE_EXCEED",
}
_TRADE_OUTCOME = {
    "TRADE_SUCCESS": Outcome.SUCCEEDED,
    "TRADE_FINISHED": Outcome.SUCCEEDED,
    "WAIT_BUYER_PAY": Outcome.REQUIRES_ACTION,
    "TRADE_CLOSED": Outcome.FAILED,
}


def make_client() -> AliPay:
    """The Alipay client from the environment; its gateway URL is the seam tests point at a
    local fake that checks our signatures and signs its answers."""
    client = AliPay(
        appid=settings.ALIPAY_APP_ID,
        app_notify_url=None,
        app_private_key_string=settings.ALIPAY_PRIVATE_KEY,
        alipay_public_key_string=settings.ALIPAY_PUBLIC_KEY,
        sign_type="RSA2",
        config=AliPayConfig(timeout=settings.ALIPAY_TIMEOUT_SECONDS),
    )
    client._gateway = settings.ALIPAY_GATEWAY_URL
    return client


def out_trade_no(idempotency_key: str) -> str:
    return trade_number(idempotency_key, limit=_TRADE_NO_LIMIT, allowed=_TRADE_NO_CHARS)


def _alipay_code(exc: AliPayException) -> str:
    # The SDK keeps the code in a private (name-mangled) attribute.
    return str(getattr(exc, "_AliPayException__code", "") or "")


def _call(fn: Callable[[], Any], *, charge: bool = False) -> dict[str, Any]:
    """One SDK call, its failures sorted into what they mean for the money. Only a charge may
    be refused outright (ProviderRejected); a read, close or refund without an answer is just
    that: no answer, and its caller keeps waiting."""
    try:
        answer = fn()
    except urllib.error.HTTPError as exc:
        raise ProviderUnavailable(f"alipay HTTP {exc.code}") from exc
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, ConnectionRefusedError):
            raise NotCharged(f"alipay: connection refused ({exc.reason})") from exc
        raise ProviderTimeout(f"alipay: {exc.reason}") from exc
    except TimeoutError as exc:
        raise ProviderTimeout("alipay: no answer in time") from exc
    except AliPayValidationError as exc:
        raise ProviderUnavailable("alipay: the answer's signature did not verify") from exc
    except AliPayException as exc:
        # An error answer without Alipay's signature: we cannot trust what it says, except
        # that the gateway refused our request before looking at it (bad app id or signature).
        code = _alipay_code(exc)
        if charge and code in {"40001", "40002", "40006"}:
            raise ProviderRejected(f"alipay refused the request ({code})") from exc
        raise ProviderUnavailable(f"alipay: unsigned error answer ({code})") from exc
    except (http.client.HTTPException, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ProviderUnavailable(f"alipay: unreadable answer ({type(exc).__name__})") from exc
    except OSError as exc:
        # Reset or broken connection after the request may have been sent.
        raise ProviderTimeout(f"alipay: {type(exc).__name__}") from exc
    if not isinstance(answer, dict):
        raise ProviderUnavailable("alipay: unreadable answer")
    return answer


def _sub_code(answer: Mapping[str, Any]) -> str:
    return str(answer.get("sub_code") or answer.get("code") or "")


def _refuse(answer: Mapping[str, Any]) -> GatewayError | ProviderRejected:
    """A signed error answer to a charge: not processed (two kinds), or unknown."""
    code, sub_code = str(answer.get("code", "")), _sub_code(answer)
    label = f"alipay {code} {sub_code}: {answer.get('sub_msg') or answer.get('msg') or ''}"
    if code in _NOT_CHARGED or sub_code in _NOT_CHARGED:
        return NotCharged(label)
    if code in _REJECTED or sub_code in _REJECTED:
        return ProviderRejected(label)
    # ACQ.SYSTEM_ERROR, 20000 (service unavailable) and anything undocumented: unknown.
    return ProviderUnavailable(label)


def result_from_trade(trade: Mapping[str, Any], *, reference: str = "") -> ChargeResult:
    """A trade (from alipay.trade.query or a notification) as our gateway-neutral answer."""
    status = str(trade.get("trade_status", ""))
    reference = str(trade.get("out_trade_no") or reference)
    outcome = _TRADE_OUTCOME.get(status)
    payload = {
        "out_trade_no": reference,
        "trade_no": str(trade.get("trade_no", "")),
        "trade_status": status,
        "total_amount": str(trade.get("total_amount", "")),
    }
    if outcome is None:
        raise ProviderUnavailable(f"alipay: unknown trade status {status[:40]!r}")
    if outcome == Outcome.SUCCEEDED:
        amount = fen(trade.get("total_amount"))
        if amount is None:
            raise ProviderUnavailable("alipay: unreadable total_amount")
        return ChargeResult(outcome, reference, payload=payload, amount=amount, currency="CNY")
    if outcome == Outcome.REQUIRES_ACTION:
        return ChargeResult(
            outcome, reference, action_url=qr_page_url(NAME, reference), payload=payload
        )
    return ChargeResult(
        outcome, reference, failure_code="canceled", message="trade closed", payload=payload
    )


class AlipayGateway:
    name = NAME
    currencies = CURRENCIES

    def __init__(self, client: AliPay | None = None) -> None:
        self.client = client or make_client()

    def charge(self, request: ChargeRequest) -> ChargeResult:
        require_cny(request.currency)
        trade_no = out_trade_no(request.idempotency_key)
        answer = _call(
            lambda: self.client.api_alipay_trade_precreate(
                subject=str(_("Order payment")),
                out_trade_no=trade_no,
                total_amount=yuan(request.amount),
                notify_url=notify_url(NAME),
                # The QR code stops working when our action step expires.
                timeout_express=f"{settings.PAYMENTS_ACTION_EXPIRY_MINUTES}m",
            ),
            charge=True,
        )
        if str(answer.get("code")) != SUCCESS:
            if _sub_code(answer) in {"ACQ.TRADE_HAS_SUCCESS", "ACQ.TRADE_HAS_CLOSE"}:
                # A replay of a trade that moved on: what it is now is the answer.
                return self.retrieve(trade_no)
            raise _refuse(answer)
        qr_code = str(answer.get("qr_code") or "")
        if not qr_code or str(answer.get("out_trade_no", trade_no)) != trade_no:
            raise ProviderUnavailable("alipay: precreate answered without a QR code")
        return ChargeResult(
            Outcome.REQUIRES_ACTION,
            trade_no,
            action_url=qr_page_url(NAME, trade_no),
            payload={
                "out_trade_no": trade_no,
                "qr_code": qr_code,
                "trade_status": "WAIT_BUYER_PAY",
            },
        )

    def retrieve(self, reference: str) -> ChargeResult:
        answer = _call(lambda: self.client.api_alipay_trade_query(out_trade_no=reference))
        if str(answer.get("code")) != SUCCESS:
            # ACQ.TRADE_NOT_EXIST included: a QR code nobody scanned yet, or a precreate that
            # never arrived. Either way no answer yet; the confirmation limit decides.
            raise ProviderUnavailable(f"alipay query: {_sub_code(answer)}")
        return result_from_trade(answer, reference=reference)

    def cancel(self, reference: str) -> ChargeResult:
        answer = _call(lambda: self.client.api_alipay_trade_close(out_trade_no=reference))
        code, sub_code = str(answer.get("code")), _sub_code(answer)
        if code != SUCCESS and sub_code == "ACQ.TRADE_NOT_EXIST":
            # Nobody scanned the code, and it expires with our action step.
            return ChargeResult(
                Outcome.FAILED,
                reference,
                failure_code="canceled",
                payload={"out_trade_no": reference, "trade_status": "TRADE_NOT_EXIST"},
            )
        if code != SUCCESS and sub_code != "ACQ.TRADE_STATUS_ERROR":
            raise ProviderUnavailable(f"alipay close: {code} {sub_code}")
        # Closed, or it moved on meanwhile (paid): what it is now is the answer.
        return self.retrieve(reference)

    def refund(self, *, reference: str, amount: int, idempotency_key: str) -> RefundResult:
        request_no = out_trade_no(idempotency_key)
        answer = _call(
            lambda: self.client.api_alipay_trade_refund(
                refund_amount=yuan(amount), out_trade_no=reference, out_request_no=request_no
            )
        )
        code, sub_code = str(answer.get("code")), _sub_code(answer)
        if code == SUCCESS:
            if answer.get("fund_change") == "Y":
                return RefundResult(True, request_no)
            # "N": a replay of a refund made before, or one not settled yet: ask which.
            return self._refund_state(reference, request_no)
        if sub_code == "ACQ.SYSTEM_ERROR" or code == "20000":
            raise ProviderUnavailable(f"alipay refund: {code} {sub_code}")
        return RefundResult(False, "", failure_reason=sub_code.lower()[:60] or "alipay_error")

    def _refund_state(self, reference: str, request_no: str) -> RefundResult:
        answer = _call(
            lambda: self.client.api_alipay_trade_fastpay_refund_query(
                out_request_no=request_no, out_trade_no=reference
            )
        )
        if str(answer.get("code")) == SUCCESS and answer.get("refund_status") == "REFUND_SUCCESS":
            return RefundResult(True, request_no)
        return RefundResult(False, request_no, pending=True)

    def card_fingerprint(self, payment_method: str) -> str:
        return ""

    def card_summary(self, payment_method: str) -> CardSummary:
        return CardSummary()  # no card behind an Alipay payment


def notification_verify(params: Mapping[str, str]) -> dict[str, str]:
    """An asynchronous notification's parameters once Alipay's RSA2 signature over them
    (sorted, `sign` and `sign_type` left out) verifies and it is for our app; else ValueError."""
    data = {str(k): str(v) for k, v in params.items()}
    signature = data.pop("sign", "")
    if not signature or data.get("sign_type", "RSA2") != "RSA2":
        raise ValueError("unsigned, or not RSA2")
    try:
        verified = make_client().verify(dict(data), signature)
    except Exception as exc:  # noqa: BLE001 - the SDK raises bare errors on garbage
        raise ValueError("signature could not be checked") from exc
    if not verified:
        raise ValueError("bad signature")
    if data.get("app_id") != settings.ALIPAY_APP_ID:
        raise ValueError("notification for another app")
    data.pop("sign_type", None)
    return data

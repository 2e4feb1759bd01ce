"""A local Alipay open-API gateway (gateway.do) for python-alipay-sdk.

It checks every request's RSA2 signature with our app's public key (sorted `k=v` pairs, `sign`
left out), keeps trades in memory, and answers in Alipay's documented shapes, signed with
"Alipay's" key: `{"<method>_response": {...}, "sign": "..."}`, the signature over the exact
response object text. It also builds signed asynchronous notifications.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlparse

from .fake_china import FakeServer, KeyPair

APP_ID = "2021000000000001"
SELLER_ID = "2088000000000001"


def _yuan_to_fen(text: str) -> int:
    whole, _, cents = text.partition(".")
    return int(whole) * 100 + int(cents.ljust(2, "0"))


class FakeAlipay(FakeServer):
    def __init__(self, app_key: KeyPair, alipay_key: KeyPair) -> None:
        self.app_key = app_key
        self.alipay_key = alipay_key
        self.trades: dict[str, dict[str, Any]] = {}
        # method -> (code, sub_code) answered once, then forgotten
        self.errors: dict[str, tuple[str, str]] = {}
        self.unsigned_error = False
        super().__init__()

    @property
    def gateway_url(self) -> str:
        return f"{self.url}/gateway.do"

    # --- the gateway ---------------------------------------------------------------------------
    def handle(
        self, method: str, path: str, headers: Any, body: bytes
    ) -> tuple[int, bytes, dict[str, str]]:
        parsed = urlparse(path)
        params = dict(parse_qsl(parsed.query, keep_blank_values=True))
        if body:
            params.update(parse_qsl(body.decode(), keep_blank_values=True))
        api = params.get("method", "")
        response_type = api.replace(".", "_") + "_response"
        signature = params.pop("sign", "")
        unsigned = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
        self.requests.append({"method": api, "params": params})
        if parsed.path != "/gateway.do" or not self.app_key.verify(unsigned, signature):
            self.refused_signatures += 1
            return self._reply(
                "error_response",
                {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-signature"},
                signed=False,
            )
        if params.get("app_id") != APP_ID or params.get("sign_type") != "RSA2":
            return self._reply(
                response_type,
                {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-app-id"},
                signed=False,
            )
        biz = json.loads(params.get("biz_content") or "{}")
        if api in self.errors:
            code, sub_code = self.errors.pop(api)
            fail = {"code": code, "msg": "Business Failed", "sub_code": sub_code, "sub_msg": "x"}
            return self._reply(response_type, fail, signed=not self.unsigned_error)
        handler = {
            "alipay.trade.precreate": self._precreate,
            "alipay.trade.query": self._query,
            "alipay.trade.close": self._close,
            "alipay.trade.refund": self._refund,
            "alipay.trade.fastpay.refund.query": self._refund_query,
        }.get(api)
        if handler is None:
            return self._reply(response_type, {"code": "40004", "sub_code": "ACQ.NO_SUCH_API"})
        return self._reply(response_type, handler(biz, params))

    def _reply(
        self, response_type: str, content: dict[str, Any], signed: bool = True
    ) -> tuple[int, bytes, dict[str, str]]:
        content.setdefault("msg", "Success")
        inner = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
        sign = (self.forger if self.mode == "bad_sign" else self.alipay_key).sign(inner)
        raw = '{"' + response_type + '":' + inner
        raw += (',"sign":"' + sign + '"}') if signed else "}"
        return 200, raw.encode(), {"Content-Type": "text/html;charset=utf-8"}

    @staticmethod
    def _business(sub_code: str, sub_msg: str = "") -> dict[str, Any]:
        return {"code": "40004", "msg": "Business Failed", "sub_code": sub_code, "sub_msg": sub_msg}

    def _precreate(self, biz: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
        out_trade_no = biz["out_trade_no"]
        trade = self.trades.get(out_trade_no)
        if trade is not None:
            if trade["total_amount"] != biz["total_amount"]:
                return self._business("ACQ.CONTEXT_INCONSISTENT", "交易信息被篡改")
            if trade["status"] == "TRADE_SUCCESS":
                return self._business("ACQ.TRADE_HAS_SUCCESS", "交易已被支付")
            if trade["status"] == "TRADE_CLOSED":
                return self._business("ACQ.TRADE_HAS_CLOSE", "交易已经关闭")
        else:
            trade = self.trades[out_trade_no] = {
                "out_trade_no": out_trade_no,
                "trade_no": f"2026112722001{len(self.trades):015d}",
                "total_amount": biz["total_amount"],
                "subject": biz["subject"],
                "status": "WAIT_BUYER_PAY",
                "qr_code": f"https://qr.alipay.com/bax0{len(self.trades):04d}fake",
                "notify_url": params.get("notify_url", ""),
                "refunds": {},
            }
        return {"code": "10000", "out_trade_no": out_trade_no, "qr_code": trade["qr_code"]}

    def _query(self, biz: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
        trade = self.trades.get(biz.get("out_trade_no", ""))
        if trade is None:
            return self._business("ACQ.TRADE_NOT_EXIST", "交易不存在")
        return {
            "code": "10000",
            "out_trade_no": trade["out_trade_no"],
            "trade_no": trade["trade_no"],
            "trade_status": trade["status"],
            "total_amount": trade["total_amount"],
            "buyer_logon_id": "159****5620",
        }

    def _close(self, biz: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
        trade = self.trades.get(biz.get("out_trade_no", ""))
        if trade is None:
            return self._business("ACQ.TRADE_NOT_EXIST", "交易不存在")
        if trade["status"] != "WAIT_BUYER_PAY":
            return self._business("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
        trade["status"] = "TRADE_CLOSED"
        return {
            "code": "10000",
            "out_trade_no": trade["out_trade_no"],
            "trade_no": trade["trade_no"],
        }

    def _refund(self, biz: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
        trade = self.trades.get(biz.get("out_trade_no", ""))
        if trade is None:
            return self._business("ACQ.TRADE_NOT_EXIST", "交易不存在")
        if trade["status"] not in {"TRADE_SUCCESS", "TRADE_CLOSED"} or not trade["trade_no"]:
            return self._business("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
        request_no = biz.get("out_request_no") or trade["out_trade_no"]
        refunds: dict[str, str] = trade["refunds"]
        replay = request_no in refunds
        if replay and refunds[request_no] != biz["refund_amount"]:
            return self._business("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额与原请求不一致")
        if not replay:
            total = sum(_yuan_to_fen(v) for v in refunds.values())
            asked = _yuan_to_fen(biz["refund_amount"])
            if total + asked > _yuan_to_fen(trade["total_amount"]):
                return self._business("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限")
            refunds[request_no] = biz["refund_amount"]
        refunded = sum(_yuan_to_fen(v) for v in refunds.values())
        return {
            "code": "10000",
            "out_trade_no": trade["out_trade_no"],
            "trade_no": trade["trade_no"],
            "fund_change": "N" if replay else "Y",
            "refund_fee": f"{refunded // 100}.{refunded % 100:02d}",
        }

    def _refund_query(self, biz: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
        trade = self.trades.get(biz.get("out_trade_no", ""))
        request_no = biz.get("out_request_no", "")
        if trade is None or request_no not in trade["refunds"]:
            return {"code": "10000", "out_request_no": request_no}
        return {
            "code": "10000",
            "out_trade_no": trade["out_trade_no"],
            "out_request_no": request_no,
            "refund_amount": trade["refunds"][request_no],
            "refund_status": "REFUND_SUCCESS",
        }

    # --- what the buyer does, and what Alipay tells us -----------------------------------------
    def pay(self, out_trade_no: str) -> None:
        self.trades[out_trade_no]["status"] = "TRADE_SUCCESS"

    def notification(
        self,
        out_trade_no: str,
        *,
        notify_id: str = "2026112700222134501000000001",
        extra: dict[str, str] | None = None,
        key: KeyPair | None = None,
    ) -> dict[str, str]:
        """The parameters of an asynchronous notification for a trade, signed like Alipay
        does: sorted `k=v` pairs, `sign` and `sign_type` left out."""
        trade = self.trades[out_trade_no]
        params = {
            "notify_time": "2026-11-27 16:50:00",
            "notify_type": "trade_status_sync",
            "notify_id": notify_id,
            "app_id": APP_ID,
            "charset": "utf-8",
            "version": "1.0",
            "trade_no": trade["trade_no"],
            "out_trade_no": out_trade_no,
            "trade_status": trade["status"],
            "total_amount": trade["total_amount"],
            "receipt_amount": trade["total_amount"],
            "seller_id": SELLER_ID,
            "subject": trade["subject"],
            "gmt_payment": "2026-11-27 16:49:58",
            **(extra or {}),
        }
        unsigned = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
        params["sign"] = (key or self.alipay_key).sign(unsigned)
        params["sign_type"] = "RSA2"
        return params

    @staticmethod
    def form(params: dict[str, str]) -> str:
        return urlencode(params)

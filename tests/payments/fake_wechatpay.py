"""A local WeChat Pay API v3 for wechatpayv3.

It checks every request's `Authorization: WECHATPAY2-SHA256-RSA2048 ...` signature (method,
path with query, timestamp, nonce and body) with our merchant public key, keeps orders and
refunds in memory, and answers in the documented shapes, signed with the platform key
(`Wechatpay-Signature` over timestamp, nonce and body; `Wechatpay-Serial` = the public key id).
It also builds v3 notifications: JSON whose `resource` is AES-256-GCM encrypted with the APIv3
key, signed in the same headers.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from typing import Any
from urllib.parse import urlparse

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .fake_china import FakeServer, KeyPair

MCHID = "1900000109"
APPID = "wxd678efh567hg6787"
MERCHANT_SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
PLATFORM_KEY_ID = "PUB_KEY_ID_0114232134912410000000000000"
APIV3_KEY = "a12d3924fd499edac8a5efc0e7f3c0a1"  # 32 characters

_AUTH = re.compile(
    r'WECHATPAY2-SHA256-RSA2048 mchid="(?P<mchid>[^"]*)",nonce_str="(?P<nonce>[^"]*)",'
    r'signature="(?P<signature>[^"]*)",timestamp="(?P<timestamp>[^"]*)",serial_no="(?P<serial>[^"]*)"'
)


def encrypt(plain: dict[str, Any], *, key: str = APIV3_KEY, associated_data: str = "transaction"):
    nonce = uuid.uuid4().hex[:12]
    ciphertext = AESGCM(key.encode()).encrypt(
        nonce.encode(), json.dumps(plain).encode(), associated_data.encode()
    )
    return {
        "original_type": associated_data,
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": base64.b64encode(ciphertext).decode(),
        "associated_data": associated_data,
        "nonce": nonce,
    }


class FakeWechatPay(FakeServer):
    def __init__(self, merchant_key: KeyPair, platform_key: KeyPair) -> None:
        self.merchant_key = merchant_key
        self.platform_key = platform_key
        self.orders: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        # path prefix -> (status, code) answered once, then forgotten
        self.errors: dict[str, tuple[int, str]] = {}
        self.refund_status = "SUCCESS"
        super().__init__()

    # --- the API -------------------------------------------------------------------------------
    def handle(
        self, method: str, path: str, headers: Any, body: bytes
    ) -> tuple[int, bytes, dict[str, str]]:
        text = body.decode()
        self.requests.append({"method": method, "path": path, "body": text})
        auth = _AUTH.fullmatch(headers.get("Authorization", ""))
        message = ""
        if auth:
            message = f"{method}\n{path}\n{auth['timestamp']}\n{auth['nonce']}\n{text}\n"
        if (
            not auth
            or auth["mchid"] != MCHID
            or auth["serial"] != MERCHANT_SERIAL
            or abs(time.time() - int(auth["timestamp"])) > 300
            or not self.merchant_key.verify(message, auth["signature"])
        ):
            self.refused_signatures += 1
            return self._error(401, "SIGN_ERROR", "签名错误", signed=False)
        data = json.loads(text) if text else {}
        route = urlparse(path).path
        for prefix, (status, code) in list(self.errors.items()):
            if route.startswith(prefix):
                del self.errors[prefix]
                return self._error(status, code, "fake error")
        if method == "POST" and route == "/v3/pay/transactions/native":
            return self._native(data)
        if method == "POST" and route == "/v3/refund/domestic/refunds":
            return self._refund(data)
        found = re.fullmatch(r"/v3/pay/transactions/out-trade-no/([^/]+)(/close)?", route)
        if found and method == "GET" and not found[2]:
            return self._query(found[1], urlparse(path).query)
        if found and method == "POST" and found[2]:
            return self._close(found[1], data)
        return self._error(404, "RESOURCE_NOT_EXISTS", "no such API")

    def _signed(
        self, status: int, payload: dict[str, Any] | None
    ) -> tuple[int, bytes, dict[str, str]]:
        text = json.dumps(payload, ensure_ascii=False) if payload is not None else ""
        timestamp, nonce = str(int(time.time())), uuid.uuid4().hex
        key = self.forger if self.mode == "bad_sign" else self.platform_key
        headers = {
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": key.sign(f"{timestamp}\n{nonce}\n{text}\n"),
            "Wechatpay-Serial": PLATFORM_KEY_ID,
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
            "Request-ID": uuid.uuid4().hex,
        }
        if payload is not None:
            headers["Content-Type"] = "application/json; charset=utf-8"
        else:
            headers["Content-Type"] = "text/plain"
        return status, text.encode(), headers

    def _error(
        self, status: int, code: str, message: str, signed: bool = True
    ) -> tuple[int, bytes, dict[str, str]]:
        payload = {"code": code, "message": message}
        if signed:
            return self._signed(status, payload)
        return status, json.dumps(payload).encode(), {"Content-Type": "application/json"}

    def _native(self, data: dict[str, Any]) -> tuple[int, bytes, dict[str, str]]:
        if data.get("appid") != APPID or data.get("mchid") != MCHID:
            return self._error(400, "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配")
        out_trade_no = str(data.get("out_trade_no", ""))
        amount = data.get("amount") or {}
        if not re.fullmatch(r"[A-Za-z0-9_\-|*]{6,32}", out_trade_no) or not data.get("notify_url"):
            return self._error(400, "PARAM_ERROR", "参数错误")
        if not isinstance(amount.get("total"), int) or amount.get("currency", "CNY") != "CNY":
            return self._error(400, "PARAM_ERROR", "amount.total 应为整数")
        order = self.orders.get(out_trade_no)
        if order is not None:
            if order["amount"]["total"] != amount["total"]:
                return self._error(400, "INVALID_REQUEST", "201 商户订单号重复")
            if order["trade_state"] == "SUCCESS":
                return self._error(400, "ORDERPAID", "该订单已支付")
            if order["trade_state"] == "CLOSED":
                return self._error(400, "ORDER_CLOSED", "订单已关闭")
        else:
            order = self.orders[out_trade_no] = {
                "appid": APPID,
                "mchid": MCHID,
                "out_trade_no": out_trade_no,
                "transaction_id": "",
                "trade_type": "NATIVE",
                "trade_state": "NOTPAY",
                "trade_state_desc": "订单未支付",
                "amount": {"total": amount["total"], "currency": "CNY"},
                "code_url": f"weixin://wxpay/bizpayurl?pr=fake{len(self.orders):04d}",
                "notify_url": data["notify_url"],
                "description": data.get("description", ""),
            }
        return self._signed(200, {"code_url": order["code_url"]})

    def _transaction(self, order: dict[str, Any]) -> dict[str, Any]:
        shown = {k: v for k, v in order.items() if k not in {"code_url", "notify_url"}}
        if order["trade_state"] in {"SUCCESS", "REFUND"}:
            total = order["amount"]["total"]
            shown["amount"] = {
                "total": total,
                "payer_total": total,
                "currency": "CNY",
                "payer_currency": "CNY",
            }
            shown["payer"] = {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}
            shown["success_time"] = "2026-11-27T16:49:58+08:00"
        return shown

    def _query(self, out_trade_no: str, query: str) -> tuple[int, bytes, dict[str, str]]:
        order = self.orders.get(out_trade_no)
        if query != f"mchid={MCHID}":
            return self._error(400, "PARAM_ERROR", "mchid")
        if order is None:
            return self._error(404, "ORDER_NOT_EXIST", "订单不存在")
        return self._signed(200, self._transaction(order))

    def _close(self, out_trade_no: str, data: dict[str, Any]) -> tuple[int, bytes, dict[str, str]]:
        order = self.orders.get(out_trade_no)
        if data.get("mchid") != MCHID:
            return self._error(400, "PARAM_ERROR", "mchid")
        if order is None:
            return self._error(404, "ORDER_NOT_EXIST", "订单不存在")
        if order["trade_state"] in {"SUCCESS", "REFUND"}:
            return self._error(400, "ORDERPAID", "订单已支付")
        order["trade_state"], order["trade_state_desc"] = "CLOSED", "订单已关闭"
        return self._signed(204, None)

    def _refund(self, data: dict[str, Any]) -> tuple[int, bytes, dict[str, str]]:
        out_refund_no = str(data.get("out_refund_no", ""))
        order = self.orders.get(str(data.get("out_trade_no", "")))
        amount = data.get("amount") or {}
        if order is None:
            return self._error(404, "RESOURCE_NOT_EXISTS", "订单不存在")
        if order["trade_state"] not in {"SUCCESS", "REFUND"}:
            return self._error(400, "INVALID_REQUEST", "订单未支付")
        if amount.get("total") != order["amount"]["total"] or amount.get("currency") != "CNY":
            return self._error(400, "PARAM_ERROR", "订单金额或币种信息不一致")
        if out_refund_no in self.refunds:
            refund = self.refunds[out_refund_no]
            if refund["amount"]["refund"] != amount.get("refund"):
                return self._error(400, "INVALID_REQUEST", "退款金额与原请求不一致")
            return self._signed(200, refund)
        done = sum(
            r["amount"]["refund"]
            for r in self.refunds.values()
            if r["out_trade_no"] == order["out_trade_no"]
        )
        if done + int(amount.get("refund") or 0) > order["amount"]["total"]:
            return self._error(400, "INVALID_REQUEST", "申请退款金额超过订单可退金额")
        refund = self.refunds[out_refund_no] = {
            "refund_id": f"50000000382019052709732{len(self.refunds):06d}",
            "out_refund_no": out_refund_no,
            "transaction_id": order["transaction_id"],
            "out_trade_no": order["out_trade_no"],
            "channel": "ORIGINAL",
            "status": self.refund_status,
            "amount": {
                "refund": amount["refund"],
                "total": order["amount"]["total"],
                "currency": "CNY",
                "payer_refund": amount["refund"],
            },
        }
        order["trade_state"] = "REFUND"
        return self._signed(200, refund)

    # --- what the buyer does, and what WeChat Pay tells us -------------------------------------
    def pay(self, out_trade_no: str) -> None:
        order = self.orders[out_trade_no]
        order["trade_state"], order["trade_state_desc"] = "SUCCESS", "支付成功"
        order["transaction_id"] = f"42000012{len(self.orders):020d}"

    def notification(
        self,
        resource: dict[str, Any],
        *,
        event_type: str = "TRANSACTION.SUCCESS",
        event_id: str = "EV-2026112716500000001",
        key: KeyPair | None = None,
        apiv3_key: str = APIV3_KEY,
        timestamp: int | None = None,
        serial: str = PLATFORM_KEY_ID,
    ) -> tuple[bytes, dict[str, str]]:
        """A v3 notification (body, headers) as WeChat Pay sends it."""
        original = "refund" if event_type.startswith("REFUND") else "transaction"
        body = json.dumps(
            {
                "id": event_id,
                "create_time": "2026-11-27T16:50:00+08:00",
                "resource_type": "encrypt-resource",
                "event_type": event_type,
                "summary": "支付成功" if original == "transaction" else "退款成功",
                "resource": encrypt(resource, key=apiv3_key, associated_data=original),
            },
            ensure_ascii=False,
        ).encode()
        ts, nonce = str(timestamp or int(time.time())), uuid.uuid4().hex
        signer = key or self.platform_key
        headers = {
            "Wechatpay-Timestamp": ts,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": signer.sign(f"{ts}\n{nonce}\n{body.decode()}\n"),
            "Wechatpay-Serial": serial,
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
        }
        return body, headers

    def transaction(self, out_trade_no: str) -> dict[str, Any]:
        return self._transaction(self.orders[out_trade_no])

"""A local stand-in for Adyen's Checkout API (v72): a real HTTP server on 127.0.0.1, in a thread.

The official library builds the requests, sends the API key and the Idempotency-Key header and
parses the answers; only the other end is fake. It checks the `X-API-Key` header (401 like
Adyen otherwise), replays the first answer for a key it has seen (like Adyen), keeps payments,
links and refunds in memory and answers in Adyen's documented shapes.

Card outcomes follow the fake's own table of test card numbers (the value after `test_` in
`encryptedCardNumber`, as Adyen's documented test values carry them). `fail_next` takes one mode
per request: "timeout" (does the work, then answers too late), "500", "garbage", "401", "422".
`stop()` closes the port: the next call is refused.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API_KEY = "AQE_fake_api_key"
MERCHANT = "ShopECOM"

# card number -> (resultCode, refusalReason)
CARDS: dict[str, tuple[str, str]] = {
    "4111111111111111": ("Authorised", ""),
    "4917610000000000": ("RedirectShopper", ""),  # 3-D Secure 2 challenge (Adyen's test card)
    "4000020000000000": ("Refused", "Not enough balance"),
    "4000000000000069": ("Refused", "Expired Card"),
    "4000000000000127": ("Refused", "CVC Declined"),
    "4000000000000002": ("Refused", "Refused"),
    "4000000000000119": ("Error", "Acquirer Error"),
    "4000000000000077": ("Received", ""),
    "4000000000000085": ("Cancelled", ""),
}


class FakeAdyen:
    def __init__(self, *, answer_delay: float = 2.0) -> None:
        self.fail_next: list[str] = []
        self.answer_delay = answer_delay
        self.payments: dict[str, dict[str, Any]] = {}  # pspReference -> payment
        self.links: dict[str, dict[str, Any]] = {}
        self.refunds: list[dict[str, Any]] = []
        self.cancels: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.replies: dict[tuple[str, str], tuple[int, str]] = {}
        self._lock = threading.Lock()
        self._counter = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

            def do_PATCH(self) -> None:
                fake._handle(self, "PATCH")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v72"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # The wire -------------------------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else {}
        path = handler.path.removeprefix("/v72")
        key = handler.headers.get("Idempotency-Key", "")
        with self._lock:
            self.requests.append(
                {
                    "method": method,
                    "path": path,
                    "key": key,
                    "api_key": handler.headers.get("X-API-Key", ""),
                    "body": body,
                }
            )
            mode = self.fail_next.pop(0) if self.fail_next else ""
        if handler.headers.get("X-API-Key") != API_KEY or mode == "401":
            return self._send(handler, 401, _error(401, "000", "Unauthorized", "security"))
        if mode == "500":
            return self._send(handler, 500, _error(500, "905", "Internal error", "internal"))
        if mode == "garbage":
            return self._send(handler, 200, "<html>gateway says hello</html>")
        if mode == "422":
            return self._send(
                handler, 422, _error(422, "14_030", "Return URL is missing.", "validation")
            )
        with self._lock:
            if key and (path, key) in self.replies:
                status, text = self.replies[(path, key)]
            else:
                status, answer = self._route(method, path, body)
                text = json.dumps(answer)
                if key:
                    self.replies[(path, key)] = (status, text)
        if mode == "timeout":
            time.sleep(self.answer_delay)  # done, but the answer comes too late
        self._send(handler, status, text)

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, payload: Any) -> None:
        text = payload if isinstance(payload, str) else json.dumps(payload)
        data = text.encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _psp(self) -> str:
        self._counter += 1
        return f"FAKEPSP{self._counter:09d}"

    # Adyen's side ---------------------------------------------------------------------------
    def _route(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        parts = path.strip("/").split("/")
        if method == "POST" and path == "/payments":
            return self._payment(body)
        if method == "POST" and path == "/payments/details":
            return self._details(body)
        if method == "POST" and path == "/paymentLinks":
            return self._link(body)
        if parts[0] == "paymentLinks" and len(parts) == 2 and parts[1] in self.links:
            link = self.links[parts[1]]
            if method == "PATCH" and body.get("status") == "expired" and link["status"] == "active":
                link["status"] = "expired"
            return 200, dict(link)
        if method == "POST" and len(parts) == 3 and parts[0] == "payments":
            payment = self.payments.get(parts[1])
            if payment is None:
                return 422, _error(422, "167", "Original pspReference required", "validation")
            if parts[2] == "refunds":
                refund = {
                    "merchantAccount": body["merchantAccount"],
                    "paymentPspReference": parts[1],
                    "pspReference": self._psp(),
                    "reference": body.get("reference", ""),
                    "status": "received",
                    "amount": body["amount"],
                }
                self.refunds.append(refund)
                return 201, refund
            if parts[2] == "cancels":
                cancel = {
                    "merchantAccount": body["merchantAccount"],
                    "paymentPspReference": parts[1],
                    "pspReference": self._psp(),
                    "reference": body.get("reference", ""),
                    "status": "received",
                }
                self.cancels.append(cancel)
                return 201, cancel
        return 404, _error(404, "000", "Not found", "validation")

    def _payment(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if body.get("merchantAccount") != MERCHANT:
            return 403, _error(403, "901", "Invalid Merchant Account", "security")
        number = str(body["paymentMethod"]["encryptedCardNumber"]).removeprefix("test_")
        result_code, reason = CARDS.get(number, ("Refused", "Refused"))
        psp = self._psp()
        payment = {
            "pspReference": psp,
            "resultCode": result_code,
            "merchantReference": body["reference"],
            "amount": body["amount"],
        }
        if reason:
            payment["refusalReason"] = reason
        if result_code == "RedirectShopper":
            payment["action"] = {
                "type": "redirect",
                "method": "GET",
                "paymentMethodType": "scheme",
                "url": f"https://checkoutshopper-test.adyen.com/threeDS2/{psp}",
            }
        self.payments[psp] = payment
        return 200, dict(payment)

    def redirect_result(self, psp: str, *, approve: bool = True) -> str:
        """What Adyen appends to the returnUrl after the shopper's 3-D Secure step."""
        return f"{psp}.{'ok' if approve else 'no'}"

    def _details(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        psp, _, verdict = str(body["details"]["redirectResult"]).partition(".")
        payment = self.payments.get(psp)
        if payment is None:
            return 422, _error(422, "101", "Invalid redirectResult", "validation")
        payment.pop("action", None)
        if payment["resultCode"] == "RedirectShopper":
            payment["resultCode"] = "Authorised" if verdict == "ok" else "Refused"
            if verdict != "ok":
                payment["refusalReason"] = "3D Not Authenticated"
        return 200, dict(payment)

    def _link(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self._counter += 1
        link_id = f"PLFAKE{self._counter:010d}"
        link = {
            "id": link_id,
            "url": f"https://test.adyen.link/{link_id}",
            "status": "active",
            "reference": body["reference"],
            "amount": body["amount"],
            "merchantAccount": body["merchantAccount"],
            "expiresAt": "2026-12-31T00:00:00Z",
        }
        self.links[link_id] = link
        return 201, dict(link)

    def pay_link(self, link_id: str) -> str:
        """The customer paid on the hosted page: a payment with its own pspReference."""
        link = self.links[link_id]
        link["status"] = "completed"
        psp = self._psp()
        self.payments[psp] = {
            "pspReference": psp,
            "resultCode": "Authorised",
            "merchantReference": link["reference"],
            "amount": link["amount"],
        }
        return psp

    def count(self, method: str, path: str) -> int:
        return sum(1 for r in self.requests if r["method"] == method and r["path"] == path)


def _error(status: int, code: str, message: str, kind: str) -> dict[str, Any]:
    return {"status": status, "errorCode": code, "message": message, "errorType": kind}


HMAC_KEY = hashlib.sha256(b"fake-adyen-hmac").hexdigest().upper()

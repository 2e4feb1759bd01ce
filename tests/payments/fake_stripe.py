"""A local stand-in for Stripe's API, plugged in as stripe-python's HTTP transport.

The real library builds the requests, sends the idempotency key, retries, and parses the
answers and errors; only the wire is fake. Outcomes follow the same test payment-method table as
the simulator, and answers are replayed per idempotency key, as Stripe does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlparse

import stripe

from payments.gateways.base import Outcome
from payments.gateways.simulator import SCENARIOS

Reply = tuple[str, int, Mapping[str, str]]


class FakeStripe(stripe.HTTPClient):
    name = "fake-stripe"
    # Errors Stripe answers with, by name, for `fail_next`.
    ERRORS: dict[str, tuple[dict[str, str], int]] = {
        "400": ({"type": "invalid_request_error", "code": "parameter_invalid_integer"}, 400),
        "401": ({"type": "invalid_request_error", "message": "Invalid API Key provided"}, 401),
        "403": ({"type": "invalid_request_error", "message": "not permitted"}, 403),
        "idempotency": ({"type": "idempotency_error", "message": "Keys reused"}, 400),
    }

    def __init__(self) -> None:
        super().__init__()
        self.intents: dict[str, dict[str, Any]] = {}
        self.replies: dict[str, Reply] = {}
        self.requests: list[dict[str, Any]] = []
        self.refunds: list[dict[str, str]] = []
        self.refund_status = "succeeded"
        self.fail_next: list[str] = []  # "timeout" or "500", one per intent or refund request
        self.payment_methods_down = False
        # The card (brand, last4) a PaymentMethod id answers with; any other id is a Visa 4242.
        self.cards: dict[str, tuple[str, str]] = {"pm_card_mastercard": ("mastercard", "4444")}

    # stripe.HTTPClient interface -------------------------------------------------------------
    def request(self, method, url, headers, post_data=None, *, _usage=None) -> Reply:
        params = dict(parse_qsl(post_data or "", keep_blank_values=True))
        key = (headers or {}).get("Idempotency-Key", "")
        self.requests.append(
            {"method": method, "path": urlparse(url).path, "key": key, "params": params}
        )
        path = urlparse(url).path
        if path.startswith("/v1/payment_methods/"):
            return self._payment_method(path.rsplit("/", 1)[1])
        if self.fail_next:
            mode = self.fail_next.pop(0)
            if mode == "timeout":
                raise stripe.APIConnectionError("Request timed out", should_retry=True)
            if mode in self.ERRORS:
                body, status = self.ERRORS[mode]
                return self._json({"error": body}, status)
            return self._json({"error": {"type": "api_error", "message": "boom"}}, 500)
        path = urlparse(url).path
        if method == "post" and path == "/v1/payment_intents":
            if key in self.replies:
                body, status, reply_headers = self.replies[key]
                return body, status, {**reply_headers, "Idempotent-Replayed": "true"}
            self.replies[key] = self._create(params)
            return self.replies[key]
        if method == "post" and path == "/v1/refunds":
            if key in self.replies:
                return self.replies[key]
            intent = self.intents.get(params.get("payment_intent", ""))
            if intent is None or intent["status"] != "succeeded":
                reply = self._json(
                    {"error": {"type": "invalid_request_error", "code": "charge_not_paid"}}, 400
                )
            else:
                self.refunds.append(params)
                reply = self._json(
                    {
                        "id": f"re_fake_{len(self.refunds)}",
                        "object": "refund",
                        "amount": int(params["amount"]),
                        "currency": intent["currency"],
                        "payment_intent": intent["id"],
                        "charge": "ch_" + intent["id"].removeprefix("pi_"),
                        "metadata": {
                            k[len("metadata[") : -1]: v
                            for k, v in params.items()
                            if k.startswith("metadata[")
                        },
                        "status": self.refund_status,
                    },
                    200,
                )
            self.replies[key] = reply
            return reply
        if method == "post" and path.endswith("/cancel"):
            intent = self.intents.get(path.split("/")[-2])
            if intent is None or intent["status"] in {"succeeded", "processing", "canceled"}:
                error = {"type": "invalid_request_error", "code": "payment_intent_unexpected_state"}
                return self._json({"error": error}, 400)
            intent.update(status="canceled", next_action=None, last_payment_error=None)
            return self._json(intent, 200)
        if method == "get" and path.startswith("/v1/payment_intents/"):
            intent = self.intents.get(path.rsplit("/", 1)[1])
            if intent is None:
                return self._json(
                    {"error": {"type": "invalid_request_error", "code": "resource_missing"}}, 404
                )
            return self._json(intent, 200)
        return self._json({"error": {"type": "invalid_request_error", "message": path}}, 404)

    def _payment_method(self, pm: str) -> Reply:
        if self.payment_methods_down:
            return self._json({"error": {"type": "api_error", "message": "down"}}, 500)
        # Stripe: one fingerprint per card number, whichever account or id it comes from.
        brand, last4 = self.cards.get(pm, ("visa", "4242"))
        card = {"brand": brand, "last4": last4, "fingerprint": f"fp_{pm.split('_')[-1]}"}
        return self._json({"id": pm, "object": "payment_method", "card": card}, 200)

    def close(self) -> None:
        pass

    def _sleep_time_seconds(self, num_retries, response=None) -> float:
        return 0.0  # the library's back-off, without the wait

    # The fake's behaviour --------------------------------------------------------------------
    @property
    def creates(self) -> int:
        """PaymentIntents really created (replays of a key do not count)."""
        return len(self.intents)

    def _create(self, params: dict[str, str]) -> Reply:
        intent_id = f"pi_fake_{len(self.intents) + 1:04d}"
        kind = params.get("allowed_payment_method_types[0]", "card")
        intent: dict[str, Any] = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": int(params["amount"]),
            "currency": params["currency"],
            "status": "succeeded",
            "client_secret": f"{intent_id}_secret_x",
            "next_action": None,
            "last_payment_error": None,
            "metadata": {"attempt_key": params.get("metadata[attempt_key]", "")},
        }
        self.intents[intent_id] = intent
        if kind == "alipay":
            return self._action(
                intent, "alipay_handle_redirect", {"url": "https://stripe.test/alipay/" + intent_id}
            )
        if kind == "wechat_pay":
            return self._action(
                intent,
                "wechat_pay_display_qr_code",
                {"hosted_instructions_url": "https://stripe.test/wx/" + intent_id},
            )
        token = params.get("payment_method", "")
        scenario = SCENARIOS.get(token)
        if scenario is None:
            return self._json(
                {
                    "error": {
                        "type": "invalid_request_error",
                        "code": "resource_missing",
                        "param": "payment_method",
                        "message": f"No such PaymentMethod: '{token}'",
                    }
                },
                400,
            )
        if scenario.outcome is Outcome.REQUIRES_ACTION:
            return self._action(
                intent,
                "redirect_to_url",
                {
                    "url": "https://stripe.test/3ds/" + intent_id,
                    "return_url": params.get("return_url", ""),
                },
            )
        if scenario.outcome is Outcome.PROCESSING:
            intent["status"] = "processing"
        elif scenario.outcome is Outcome.FAILED:
            error = {
                "type": "card_error",
                "code": scenario.failure_code,
                "decline_code": scenario.decline_code,
                "message": "Your card was declined.",
            }
            intent["status"] = "requires_payment_method"
            intent["last_payment_error"] = error
            return self._json({"error": {**error, "payment_intent": intent}}, 402)
        return self._json(intent, 200)

    def _action(self, intent: dict[str, Any], kind: str, detail: dict[str, str]) -> Reply:
        intent["status"] = "requires_action"
        intent["next_action"] = {"type": kind, kind: detail}
        return self._json(intent, 200)

    @staticmethod
    def _json(body: dict[str, Any], status: int) -> Reply:
        return json.dumps(body), status, {"Request-Id": "req_fake"}

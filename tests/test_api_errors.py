"""Every domain error answers the documented way, through a real endpoint: its status, its code,
its words, in the caller's language; never a 500. The table is written out by hand."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.api import AnonThrottle
from checkout import services as checkout_services
from checkout.models import Order
from checkout.status import InvalidOrderTransition
from payments import services
from payments.models import PaymentAttempt, PaymentMethod

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def order(api, shop):
    data = api.post(
        "/api/v1/orders/",
        {"email": "guest@example.com", "items": [{"sku": "mug", "quantity": 1}]},
        format="json",
    ).json()
    api.credentials(HTTP_X_CLIENT_SECRET=data["client_secret"])
    return data["number"]


def pay(api, number, language="en"):
    return api.post(
        f"/api/v1/orders/{number}/payments/",
        {"method": "card", "payment_method": "pm_card_visa"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k1",
        HTTP_ACCEPT_LANGUAGE=language,
    )


def in_flight(number: str) -> PaymentAttempt:
    order = Order.objects.get(number=number)
    return PaymentAttempt.objects.create(
        order=order,
        method=PaymentMethod.objects.get(code="card"),
        amount=order.total,
        currency=order.currency,
        idempotency_key="other",
        request_fingerprint="x" * 64,
        provider="simulator",
        status=PaymentAttempt.Status.UNKNOWN,
    )


class MadeUpPaymentError(services.PaymentError):
    """A PaymentError nobody has given words yet: the family's words, never a 500."""


# error raised by the pay service -> (status, error, detail); written out, not computed.
PAY_TABLE = [
    (
        lambda n: services.IdempotencyConflict("raw"),
        409,
        "idempotency_conflict",
        "Something changed while you were paying. Please check and try again.",
    ),
    (
        lambda n: services.OrderNotPayable("raw"),
        409,
        "order_not_payable",
        "This order is already paid or closed.",
    ),
    (
        lambda n: services.AmountChanged("raw"),
        409,
        "amount_changed",
        "The amount was changed in another window. Check it and press the button again.",
    ),
    (
        lambda n: services.MethodUnavailable("maintenance"),
        409,
        "method_unavailable",
        "Under maintenance",
    ),
    (
        lambda n: services.MethodUnavailable("wallet_owner_only"),
        409,
        "method_unavailable",
        "Only the wallet's owner, signed in, can pay with it.",
    ),
    (
        lambda n: services.WalletInsufficient("raw"),
        402,
        "wallet_insufficient",
        "Your wallet balance is not enough for this order.",
    ),
    (
        lambda n: services.RefundNotAllowed("Only a paid payment can be refunded."),
        409,
        "refund_not_allowed",
        "Only a paid payment can be refunded.",
    ),
    (
        lambda n: services.InvalidTransition("raw"),
        409,
        "invalid_transition",
        "This payment has already moved on. Reload to see where it stands.",
    ),
    (
        lambda n: InvalidOrderTransition("raw"),
        409,
        "order_transition_not_allowed",
        "This order has already moved on. Reload to see where it stands.",
    ),
    (
        lambda n: MadeUpPaymentError("raw"),
        400,
        "payment_error",
        "The payment could not be made. You were not charged.",
    ),
    (
        lambda n: checkout_services.ProductUnavailable("mug"),
        409,
        "product_unavailable",
        "Sorry, that product is no longer available.",
    ),
    (
        lambda n: checkout_services.EmptyCart("raw"),
        400,
        "empty_cart",
        "Your cart is empty. Add something before checking out.",
    ),
    (
        lambda n: checkout_services.MixedCurrencies("raw"),
        400,
        "mixed_currencies",
        "All items of an order must be in the same currency.",
    ),
    (
        lambda n: checkout_services.CheckoutError("raw"),
        400,
        "checkout_error",
        "Something changed while you were paying. Please check and try again.",
    ),
]


@pytest.mark.parametrize(("make", "status", "error", "detail"), PAY_TABLE)
def test_each_error_of_the_pay_service_answers_from_the_table(
    api, order, monkeypatch, make, status, error, detail
):
    def raising(**kwargs):
        raise make(order)

    monkeypatch.setattr(services, "attempt_create", raising)
    response = pay(api, order)
    assert response.status_code == status
    body = response.json()
    assert (body["error"], body["detail"]) == (error, detail)


def test_payment_in_progress_names_the_attempt(api, order):
    attempt = in_flight(order)
    response = pay(api, order)
    assert response.status_code == 409
    assert response.json() == {
        "error": "payment_in_progress",
        "detail": "Another payment for this order is still being confirmed.",
        "attempt": str(attempt.public_id),
    }


def test_the_answer_is_in_the_callers_language(api, order):
    in_flight(order)
    response = pay(api, order, language="zh-hans")
    assert response.status_code == 409
    assert response.json()["detail"] == "此订单的另一笔付款仍在确认中。"


def test_method_unavailable_carries_reason_and_words(api, order):
    PaymentMethod.objects.filter(code="card").update(maintenance=True)
    response = pay(api, order)
    assert response.status_code == 409
    assert response.json() == {
        "error": "method_unavailable",
        "detail": "Under maintenance",
        "reason": "maintenance",
    }


def test_a_checkout_error_of_order_creation_is_an_answer(api, shop, monkeypatch):
    def raising(**kwargs):
        raise checkout_services.ProductUnavailable("mug")

    monkeypatch.setattr(checkout_services, "order_create", raising)
    response = api.post(
        "/api/v1/orders/",
        {"email": "guest@example.com", "items": [{"sku": "mug", "quantity": 1}]},
        format="json",
    )
    assert response.status_code == 409
    assert response.json() == {
        "error": "product_unavailable",
        "detail": "Sorry, that product is no longer available.",
    }


def test_validation_not_found_and_throttle_answers(api, order, shop, monkeypatch):
    bad = api.post("/api/v1/orders/", {"email": "nope", "items": []}, format="json")
    assert bad.status_code == 400
    body = bad.json()
    assert body["error"] == "invalid" and "email" in body and "items" in body
    missing = api.get("/api/v1/orders/NOPE/")
    assert missing.status_code == 404
    assert missing.json() == {
        "error": "not_found",
        "detail": "No order with this number was found.",
    }
    monkeypatch.setattr(AnonThrottle, "THROTTLE_RATES", {"anon": "1/min", "user": "10/min"})
    stranger = APIClient()
    stranger.get("/api/v1/products/")
    throttled = stranger.get("/api/v1/products/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert throttled.status_code == 429
    data = throttled.json()
    assert data["error"] == "throttled" and throttled["Retry-After"] == str(data["retry_after"])
    assert data["detail"].startswith("请求过于频繁。")

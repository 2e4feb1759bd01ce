"""The payments API: methods for an order, pay with an Idempotency-Key, read an attempt."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from payments.models import PaymentAttempt, PaymentMethod, SimulatedCharge

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def order(api, shop):
    """A guest's order, created through the API; returns (number, client_secret)."""
    data = api.post(
        "/api/v1/orders/",
        {"email": "guest@example.com", "items": [{"sku": "mug", "quantity": 1}]},
        format="json",
    ).json()
    api.credentials(HTTP_X_CLIENT_SECRET=data["client_secret"])
    return data["number"]


def pay(api, number, key="key-1", language="en", **body):
    body = {"method": "card", "payment_method": "pm_card_visa", **body}
    headers = {"HTTP_ACCEPT_LANGUAGE": language}
    if key is not None:
        headers["HTTP_IDEMPOTENCY_KEY"] = key
    return api.post(f"/api/v1/orders/{number}/payments/", body, format="json", **headers)


def test_payment_methods_in_picker_order_with_reasons(api, order):
    PaymentMethod.objects.filter(code="alipay").update(maintenance=True)
    rows = api.get(f"/api/v1/orders/{order}/payment-methods/").json()
    # Usable methods first, then those that cannot take this order.
    assert [r["code"] for r in rows] == ["card", "wechat_pay", "alipay", "wallet"]
    by_code = {r["code"]: r for r in rows}
    assert by_code["card"] == {
        "code": "card",
        "label": "Card",
        "available": True,
        "reason": "",
        "message": "",
    }
    assert by_code["alipay"]["available"] is False and by_code["alipay"]["reason"] == "maintenance"
    assert by_code["wallet"]["reason"] == "sign_in_required"
    assert by_code["wallet"]["message"] == "Sign in to pay with your wallet."


def test_payment_methods_in_chinese(api, order):
    rows = api.get(
        f"/api/v1/orders/{order}/payment-methods/", HTTP_ACCEPT_LANGUAGE="zh-Hans"
    ).json()
    assert {r["code"]: r["label"] for r in rows}["alipay"] == "支付宝"


def test_pay_201_then_the_same_key_gives_the_same_attempt_200(api, order):
    first = pay(api, order)
    assert first.status_code == 201
    body = first.json()
    assert body["status"] == "succeeded" and body["order"] == order
    assert body["amount"] == {"amount": 1200, "currency": "USD"}
    assert [e["to"] for e in body["timeline"] if e["kind"] == "status_changed"] == [
        "sent",
        "succeeded",
    ]
    again = pay(api, order)
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    assert SimulatedCharge.objects.count() == 1


def test_same_key_different_body_is_409(api, order):
    pay(api, order, payment_method="pm_card_visa_chargeDeclined")
    response = pay(api, order, payment_method="pm_card_visa")
    assert response.status_code == 409
    assert response.json()["error"] == "idempotency_conflict"
    assert PaymentAttempt.objects.count() == 1


@pytest.mark.parametrize("key", [None, "", "x" * 256])
def test_idempotency_key_is_required_and_bounded(api, order, key):
    response = pay(api, order, key=key)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()
    assert not PaymentAttempt.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"method": "bitcoin"}, "method"),
        ({"method": ""}, "method"),
        ({"payment_method": "4111111111111111"}, "payment_method"),
        ({"payment_method": "pm_nope"}, "payment_method"),
    ],
)
def test_bad_input_gives_field_errors(api, order, body, field):
    response = pay(api, order, **body)
    assert response.status_code == 400
    assert field in response.json()
    assert not PaymentAttempt.objects.exists()


def test_failed_attempt_carries_guidance_and_alternatives(api, order):
    response = pay(api, order, payment_method="pm_card_visa_chargeDeclinedInsufficientFunds")
    assert response.status_code == 201
    failure = response.json()["failure"]
    assert failure["code"] == "insufficient_funds"
    assert failure["category"] == "another_method"
    assert failure["message"] == "The card does not have enough funds for this payment."
    assert failure["guidance"][0] == "Use another card or payment method."
    assert failure["retry_same_method"] is True
    assert [a["method"] for a in failure["alternatives"]] == ["alipay", "wechat_pay", "card"]
    assert all(a["reason"] for a in failure["alternatives"])


def test_fraud_code_is_never_revealed(api, order):
    failure = pay(api, order, payment_method="pm_card_visa_chargeDeclinedStolenCard").json()[
        "failure"
    ]
    assert failure["code"] == "generic_decline"
    assert "stolen" not in str(failure).lower()
    assert "card" not in [a["method"] for a in failure["alternatives"]]


def test_failure_in_chinese(api, order):
    response = pay(
        api, order, payment_method="pm_card_chargeDeclinedExpiredCard", language="zh-Hans"
    )
    assert response.json()["failure"]["message"] == "此卡片已过期。"


def test_a_second_key_while_one_is_in_flight_is_409(api, order):
    pay(api, order, key="a", payment_method="pm_sim_timeout_then_succeeded")
    response = pay(api, order, key="b")
    assert response.status_code == 409
    assert response.json()["error"] == "payment_in_progress"


def test_paid_order_refuses_more(api, order):
    pay(api, order, key="a")
    response = pay(api, order, key="b")
    assert response.status_code == 409 and response.json()["error"] == "order_not_payable"


def test_unavailable_method_is_409_with_its_reason(api, order):
    PaymentMethod.objects.filter(code="card").update(maintenance=True)
    response = pay(api, order)
    assert response.status_code == 409
    assert response.json()["reason"] == "maintenance"


def test_read_an_attempt_with_the_secret_and_not_without(api, order):
    attempt_id = pay(api, order).json()["id"]
    assert api.get(f"/api/v1/payments/{attempt_id}/").status_code == 200
    stranger = APIClient()
    assert stranger.get(f"/api/v1/payments/{attempt_id}/").status_code == 404
    stranger.credentials(HTTP_X_CLIENT_SECRET="wrong")
    assert stranger.get(f"/api/v1/payments/{attempt_id}/").status_code == 404


def test_mallory_cannot_pay_or_read_alices_order(api, shop, alice, mallory):
    api.force_authenticate(alice)
    number = api.post(
        "/api/v1/orders/",
        {"email": "alice@example.com", "items": [{"sku": "mug", "quantity": 1}]},
        format="json",
    ).json()["number"]
    attempt_id = pay(api, number).json()["id"]
    api.force_authenticate(mallory)
    assert pay(api, number, key="m").status_code == 404
    assert api.get(f"/api/v1/orders/{number}/payment-methods/").status_code == 404
    assert api.get(f"/api/v1/payments/{attempt_id}/").status_code == 404

"""WeChat Pay direct through the real wechatpayv3 SDK, against a local fake API v3 that checks
the SDK's request signatures and signs its answers with the platform key. Offline."""

from __future__ import annotations

import functools

import pytest

from payments.gateways import (
    ChargeRequest,
    NotCharged,
    Outcome,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    get_gateway,
)
from payments.gateways import wechatpay as wechatpay_gateway

from .fake_china import KeyPair
from .fake_wechatpay import (
    APIV3_KEY,
    APPID,
    MCHID,
    MERCHANT_SERIAL,
    PLATFORM_KEY_ID,
    FakeWechatPay,
)

ATTEMPT = "attempt-0f8fad5b-d9cb-469f-a165-70867728950e"
TRADE_NO = "0f8fad5bd9cb469fa16570867728950e"
REFUND = "refund-7c9e6679-7425-40de-944b-e07fc1f90ae7"


@functools.cache
def keys() -> tuple[KeyPair, KeyPair]:
    """Our merchant key and the WeChat Pay platform key, made once per test run."""
    return KeyPair(), KeyPair()


def configure(settings, fake: FakeWechatPay) -> None:
    merchant, platform = keys()
    settings.WECHATPAY_MCHID = MCHID
    settings.WECHATPAY_APPID = APPID
    settings.WECHATPAY_PRIVATE_KEY = merchant.private_pem
    settings.WECHATPAY_CERT_SERIAL = MERCHANT_SERIAL
    settings.WECHATPAY_APIV3_KEY = APIV3_KEY
    settings.WECHATPAY_PLATFORM_PUBLIC_KEY = platform.public_pem
    settings.WECHATPAY_PLATFORM_PUBLIC_KEY_ID = PLATFORM_KEY_ID
    settings.WECHATPAY_BASE_URL = fake.url
    settings.WECHATPAY_CONNECT_TIMEOUT_SECONDS = 0.5
    settings.WECHATPAY_TIMEOUT_SECONDS = 0.5


@pytest.fixture
def fake(settings):
    server = FakeWechatPay(*keys())
    configure(settings, server)
    yield server
    if server.mode != "stopped":
        server.stop()


def request(amount=1234, currency="CNY", key=ATTEMPT):
    return ChargeRequest(
        amount=amount,
        currency=currency,
        method_kind="wechat_pay",
        payment_method="",
        idempotency_key=key,
    )


def test_trade_and_refund_numbers_fit_wechat_pay_and_are_the_same_every_time():
    assert wechatpay_gateway.out_trade_no(ATTEMPT) == TRADE_NO
    assert wechatpay_gateway.out_refund_no(REFUND) == REFUND
    assert wechatpay_gateway.out_trade_no("order-77") == "order-77"
    # Longer than 32: sha256 in hex, cut to 32, the same every time.
    assert wechatpay_gateway.out_trade_no("attempt-x" * 5) == "903e0a1d66a1d7ba6ee20830cd8014f5"


def test_native_order_once_per_attempt_with_fen_amount(fake):
    gateway = get_gateway("wechatpay")
    result = gateway.charge(request())
    again = gateway.charge(request())
    assert result.outcome == Outcome.REQUIRES_ACTION
    assert result.reference == TRADE_NO
    assert result.action_url == f"/payments/qr/wechatpay/{TRADE_NO}/"
    assert result.payload["qr_code"] == "weixin://wxpay/bizpayurl?pr=fake0000"
    assert again.payload["qr_code"] == "weixin://wxpay/bizpayurl?pr=fake0000"
    assert list(fake.orders) == [TRADE_NO]
    assert fake.orders[TRADE_NO]["amount"] == {"total": 1234, "currency": "CNY"}
    assert fake.orders[TRADE_NO]["notify_url"].endswith("/payments/webhooks/wechatpay/")
    assert fake.refused_signatures == 0


def test_query_maps_trade_states(fake):
    gateway = get_gateway("wechatpay")
    gateway.charge(request())
    assert gateway.retrieve(TRADE_NO).outcome == Outcome.REQUIRES_ACTION
    fake.pay(TRADE_NO)
    paid = gateway.retrieve(TRADE_NO)
    assert (paid.outcome, paid.amount, paid.currency) == (Outcome.SUCCEEDED, 1234, "CNY")
    expected = {
        "USERPAYING": (Outcome.PROCESSING, ""),
        "REFUND": (Outcome.SUCCEEDED, ""),
        "CLOSED": (Outcome.FAILED, "canceled"),
        "REVOKED": (Outcome.FAILED, "canceled"),
        "PAYERROR": (Outcome.FAILED, "processing_error"),
    }
    for state, (outcome, code) in expected.items():
        fake.orders[TRADE_NO]["trade_state"] = state
        result = gateway.retrieve(TRADE_NO)
        assert (state, result.outcome, result.failure_code) == (state, outcome, code)


def test_unknown_order_is_no_answer_yet(fake):
    with pytest.raises(ProviderUnavailable):
        get_gateway("wechatpay").retrieve("nosuchorder")


def test_cancel_closes_a_waiting_order(fake):
    gateway = get_gateway("wechatpay")
    gateway.charge(request())
    result = gateway.cancel(TRADE_NO)
    assert (result.outcome, result.failure_code) == (Outcome.FAILED, "canceled")
    assert fake.orders[TRADE_NO]["trade_state"] == "CLOSED"


def test_cancel_of_an_order_paid_meanwhile_says_paid(fake):
    gateway = get_gateway("wechatpay")
    gateway.charge(request())
    fake.pay(TRADE_NO)
    result = gateway.cancel(TRADE_NO)
    assert (result.outcome, result.amount) == (Outcome.SUCCEEDED, 1234)


def test_refund_once_per_key_with_the_orders_total(fake):
    gateway = get_gateway("wechatpay")
    gateway.charge(request())
    fake.pay(TRADE_NO)
    first = gateway.refund(reference=TRADE_NO, amount=500, idempotency_key=REFUND)
    replay = gateway.refund(reference=TRADE_NO, amount=500, idempotency_key=REFUND)
    assert (first.succeeded, first.reference) == (True, "50000000382019052709732000000")
    assert (replay.succeeded, replay.reference) == (True, "50000000382019052709732000000")
    assert list(fake.refunds) == [REFUND]
    assert fake.refunds[REFUND]["amount"] == {
        "refund": 500,
        "total": 1234,
        "currency": "CNY",
        "payer_refund": 500,
    }


def test_refund_still_processing_is_pending(fake):
    gateway = get_gateway("wechatpay")
    gateway.charge(request())
    fake.pay(TRADE_NO)
    fake.refund_status = "PROCESSING"
    result = gateway.refund(reference=TRADE_NO, amount=500, idempotency_key=REFUND)
    assert (result.succeeded, result.pending) == (False, True)


def test_refund_beyond_the_payment_is_refused(fake):
    gateway = get_gateway("wechatpay")
    gateway.charge(request())
    fake.pay(TRADE_NO)
    result = gateway.refund(reference=TRADE_NO, amount=1235, idempotency_key=REFUND)
    assert (result.succeeded, result.pending, result.failure_reason) == (
        False,
        False,
        "invalid_request",
    )
    assert fake.refunds == {}


def test_other_currencies_are_refused_before_anything_is_sent(fake):
    with pytest.raises(ProviderRejected) as refused:
        get_gateway("wechatpay").charge(request(currency="USD"))
    assert refused.value.code == "currency_not_supported"
    assert fake.requests == []


def test_timeout_is_unknown_never_failed(fake):
    fake.mode = "timeout"
    with pytest.raises(ProviderTimeout):
        get_gateway("wechatpay").charge(request())


@pytest.mark.parametrize("mode", ["500", "garbage", "bad_sign"])
def test_5xx_garbage_and_forged_answers_are_provider_unavailable(fake, mode):
    fake.mode = mode
    gateway = get_gateway("wechatpay")
    with pytest.raises(ProviderUnavailable):
        gateway.charge(request())
    with pytest.raises(ProviderUnavailable):
        gateway.retrieve(TRADE_NO)


def test_refused_connection_is_not_charged(fake):
    gateway = get_gateway("wechatpay")
    fake.stop()
    fake.mode = "stopped"
    with pytest.raises(NotCharged):
        gateway.charge(request())


@pytest.mark.parametrize(
    ("status", "code", "raised"),
    [
        (500, "SYSTEM_ERROR", ProviderUnavailable),
        (400, "PARAM_ERROR", ProviderRejected),
        (400, "INVALID_REQUEST", ProviderRejected),
        (403, "NO_AUTH", NotCharged),
        (400, "APPID_MCHID_NOT_MATCH", NotCharged),
        (429, "FREQUENCY_LIMITED", NotCharged),
        (403, "SOMETHING_NEW", ProviderUnavailable),
    ],
)
def test_error_codes_map_to_what_they_document(fake, status, code, raised):
    fake.errors["/v3/pay/transactions/native"] = (status, code)
    with pytest.raises(raised) as caught:
        get_gateway("wechatpay").charge(request())
    assert type(caught.value) is raised


def test_replaying_a_paid_order_answers_paid(fake):
    gateway = get_gateway("wechatpay")
    gateway.charge(request())
    fake.pay(TRADE_NO)
    result = gateway.charge(request())
    assert (result.outcome, result.amount) == (Outcome.SUCCEEDED, 1234)
    assert len(fake.orders) == 1


def test_the_fake_checks_our_signature(fake, settings):
    settings.WECHATPAY_PRIVATE_KEY = KeyPair().private_pem
    with pytest.raises(ProviderRejected):
        get_gateway("wechatpay").charge(request())
    assert fake.refused_signatures == 1
    assert fake.orders == {}


def test_not_configured_means_no_gateway(settings):
    settings.WECHATPAY_APIV3_KEY = ""
    with pytest.raises(ValueError, match="wechatpay"):
        get_gateway("wechatpay")

"""Alipay direct through the real python-alipay-sdk, against a local fake gateway that checks
the SDK's RSA2 signatures and signs its own answers. Everything runs offline."""

from __future__ import annotations

import functools
import uuid

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
from payments.gateways import alipay as alipay_gateway
from payments.gateways.china import fen, yuan

from .fake_alipay import APP_ID, FakeAlipay
from .fake_china import KeyPair

ATTEMPT = "attempt-0f8fad5b-d9cb-469f-a165-70867728950e"
TRADE_NO = "0f8fad5bd9cb469fa16570867728950e"
REFUND = "refund-7c9e6679-7425-40de-944b-e07fc1f90ae7"
REFUND_NO = "refund_7c9e6679742540de944be07fc1f90ae7"


@functools.cache
def keys() -> tuple[KeyPair, KeyPair]:
    """Our app's key and "Alipay's" key, made once per test run."""
    return KeyPair(), KeyPair()


def configure(settings, fake: FakeAlipay) -> None:
    app_key, alipay_key = keys()
    settings.ALIPAY_APP_ID = APP_ID
    settings.ALIPAY_PRIVATE_KEY = app_key.private_pem
    settings.ALIPAY_PUBLIC_KEY = alipay_key.public_pem
    settings.ALIPAY_GATEWAY_URL = fake.gateway_url
    settings.ALIPAY_TIMEOUT_SECONDS = 0.5


@pytest.fixture
def fake(settings):
    server = FakeAlipay(*keys())
    configure(settings, server)
    yield server
    if server.mode != "stopped":
        server.stop()


def request(amount=1234, currency="CNY", key=ATTEMPT):
    return ChargeRequest(
        amount=amount,
        currency=currency,
        method_kind="alipay",
        payment_method="",
        idempotency_key=key,
    )


# --- amounts and trade numbers -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minor", "text"),
    [
        (0, "0.00"),
        (1, "0.01"),
        (10, "0.10"),
        (100, "1.00"),
        (1234, "12.34"),
        (123456789, "1234567.89"),
    ],
)
def test_minor_units_become_yuan_strings_exactly(minor, text):
    assert yuan(minor) == text


@pytest.mark.parametrize(
    ("text", "minor"),
    [
        ("12.34", 1234),
        ("0.01", 1),
        ("12.3", 1230),
        ("12", 1200),
        ("1234567.89", 123456789),
        ("12.345", None),
        ("-1.00", None),
        ("1e3", None),
        ("", None),
        ("12.34 ", None),
        ("0x10", None),
    ],
)
def test_yuan_strings_are_read_exactly_or_not_at_all(text, minor):
    assert fen(text) == minor


def test_trade_numbers_fit_alipay_and_are_the_same_every_time():
    assert alipay_gateway.out_trade_no(ATTEMPT) == TRADE_NO
    assert alipay_gateway.out_trade_no(REFUND) == REFUND_NO
    assert alipay_gateway.out_trade_no("order_77") == "order_77"
    # Too long, or a character Alipay refuses: sha256 in hex, the same every time.
    assert alipay_gateway.out_trade_no("k" * 65) == (
        "f39cdc2584758c99cf81c1f41d2572f54e17066afffc9d187aeafe5f7cbe2122"
    )
    assert alipay_gateway.out_trade_no("a-b") == (
        "d44362d67d921091c7b9674d752e9e23c1f9ec8a4f0b82741bf01364eb97c830"
    )


# --- charge, query, close, refund -----------------------------------------------------------------


def test_charge_makes_one_trade_per_attempt_and_points_at_our_qr_page(fake):
    gateway = get_gateway("alipay")
    result = gateway.charge(request())
    again = gateway.charge(request())
    assert result.outcome == Outcome.REQUIRES_ACTION
    assert result.reference == TRADE_NO
    assert result.action_url == f"/payments/qr/alipay/{TRADE_NO}/"
    assert result.payload["qr_code"] == "https://qr.alipay.com/bax00000fake"
    assert again.reference == TRADE_NO and again.payload["qr_code"] == result.payload["qr_code"]
    assert list(fake.trades) == [TRADE_NO]
    assert fake.trades[TRADE_NO]["total_amount"] == "12.34"
    assert fake.trades[TRADE_NO]["notify_url"].endswith("/payments/webhooks/alipay/")
    assert fake.refused_signatures == 0


def test_query_maps_trade_states(fake):
    gateway = get_gateway("alipay")
    gateway.charge(request())
    waiting = gateway.retrieve(TRADE_NO)
    assert (waiting.outcome, waiting.action_url) == (
        Outcome.REQUIRES_ACTION,
        f"/payments/qr/alipay/{TRADE_NO}/",
    )
    fake.pay(TRADE_NO)
    paid = gateway.retrieve(TRADE_NO)
    assert (paid.outcome, paid.amount, paid.currency) == (Outcome.SUCCEEDED, 1234, "CNY")
    fake.trades[TRADE_NO]["status"] = "TRADE_FINISHED"
    assert gateway.retrieve(TRADE_NO).outcome == Outcome.SUCCEEDED
    fake.trades[TRADE_NO]["status"] = "TRADE_CLOSED"
    closed = gateway.retrieve(TRADE_NO)
    assert (closed.outcome, closed.failure_code) == (Outcome.FAILED, "canceled")


def test_a_trade_alipay_does_not_know_is_no_answer_yet_never_failed(fake):
    with pytest.raises(ProviderUnavailable):
        get_gateway("alipay").retrieve("nosuchtrade")


def test_cancel_closes_a_waiting_trade(fake):
    gateway = get_gateway("alipay")
    gateway.charge(request())
    result = gateway.cancel(TRADE_NO)
    assert (result.outcome, result.failure_code) == (Outcome.FAILED, "canceled")
    assert fake.trades[TRADE_NO]["status"] == "TRADE_CLOSED"
    assert [r["method"] for r in fake.requests] == [
        "alipay.trade.precreate",
        "alipay.trade.close",
        "alipay.trade.query",
    ]


def test_cancel_of_a_trade_paid_meanwhile_says_paid(fake):
    gateway = get_gateway("alipay")
    gateway.charge(request())
    fake.pay(TRADE_NO)
    result = gateway.cancel(TRADE_NO)
    assert (result.outcome, result.amount) == (Outcome.SUCCEEDED, 1234)
    assert fake.trades[TRADE_NO]["status"] == "TRADE_SUCCESS"


def test_refund_once_per_key_even_when_sent_twice(fake):
    gateway = get_gateway("alipay")
    gateway.charge(request())
    fake.pay(TRADE_NO)
    first = gateway.refund(reference=TRADE_NO, amount=500, idempotency_key=REFUND)
    replay = gateway.refund(reference=TRADE_NO, amount=500, idempotency_key=REFUND)
    assert (first.succeeded, first.reference) == (True, REFUND_NO)
    assert (replay.succeeded, replay.reference) == (True, REFUND_NO)
    assert fake.trades[TRADE_NO]["refunds"] == {REFUND_NO: "5.00"}


def test_refund_beyond_the_payment_is_refused_with_alipays_reason(fake):
    gateway = get_gateway("alipay")
    gateway.charge(request())
    fake.pay(TRADE_NO)
    result = gateway.refund(reference=TRADE_NO, amount=1235, idempotency_key=REFUND)
    assert (result.succeeded, result.pending, result.failure_reason) == (
        False,
        False,
        "acq.refund_amt_not_equal_total",
    )
    assert fake.trades[TRADE_NO]["refunds"] == {}


def test_refund_system_error_is_no_answer(fake):
    gateway = get_gateway("alipay")
    gateway.charge(request())
    fake.pay(TRADE_NO)
    fake.errors["alipay.trade.refund"] = ("40004", "ACQ.SYSTEM_ERROR")
    with pytest.raises(ProviderUnavailable):
        gateway.refund(reference=TRADE_NO, amount=500, idempotency_key=REFUND)


def test_other_currencies_are_refused_before_anything_is_sent(fake):
    with pytest.raises(ProviderRejected) as refused:
        get_gateway("alipay").charge(request(currency="USD"))
    assert refused.value.code == "currency_not_supported"
    assert fake.requests == []


# --- faults -----------------------------------------------------------------------------------


def test_timeout_is_unknown_never_failed(fake):
    fake.mode = "timeout"
    with pytest.raises(ProviderTimeout):
        get_gateway("alipay").charge(request())


@pytest.mark.parametrize("mode", ["500", "garbage", "bad_sign"])
def test_5xx_garbage_and_forged_answers_are_provider_unavailable(fake, mode):
    fake.mode = mode
    gateway = get_gateway("alipay")
    with pytest.raises(ProviderUnavailable):
        gateway.charge(request())
    with pytest.raises(ProviderUnavailable):
        gateway.retrieve(TRADE_NO)


def test_refused_connection_is_not_charged(fake):
    gateway = get_gateway("alipay")
    fake.stop()
    fake.mode = "stopped"
    with pytest.raises(NotCharged):
        gateway.charge(request())


@pytest.mark.parametrize(
    ("code", "sub_code", "raised"),
    [
        ("40004", "ACQ.SYSTEM_ERROR", ProviderUnavailable),
        ("20000", "aop.unknow-error", ProviderUnavailable),
        ("40004", "ACQ.INVALID_PARAMETER", ProviderRejected),
        ("40004", "ACQ.TOTAL_FEE_EXCEED", ProviderRejected),
        ("40004", "ACQ.ACCESS_FORBIDDEN", NotCharged),
        ("40006", "isv.insufficient-isv-permissions", NotCharged),
        ("40004", "ACQ.SOMETHING_NEW", ProviderUnavailable),
    ],
)
def test_business_errors_map_to_what_they_document(fake, code, sub_code, raised):
    fake.errors["alipay.trade.precreate"] = (code, sub_code)
    with pytest.raises(raised) as caught:
        get_gateway("alipay").charge(request())
    assert type(caught.value) is raised


def test_an_unsigned_error_answer_is_not_trusted(fake):
    fake.errors["alipay.trade.precreate"] = ("40004", "ACQ.ACCESS_FORBIDDEN")
    fake.unsigned_error = True
    with pytest.raises(ProviderUnavailable):
        get_gateway("alipay").charge(request())


def test_not_configured_means_no_gateway(settings):
    settings.ALIPAY_APP_ID = ""
    with pytest.raises(ValueError, match="alipay"):
        get_gateway("alipay")


def test_replaying_a_paid_trade_answers_paid(fake):
    gateway = get_gateway("alipay")
    gateway.charge(request())
    fake.pay(TRADE_NO)
    result = gateway.charge(request())
    assert (result.outcome, result.amount) == (Outcome.SUCCEEDED, 1234)
    assert len(fake.trades) == 1


def test_uuid_of_the_attempt_is_in_the_trade_number():
    assert uuid.UUID(hex=TRADE_NO) == uuid.UUID(ATTEMPT.removeprefix("attempt-"))


def test_the_fake_checks_our_signature(fake, settings):
    """A request signed with a key Alipay does not know is refused (unsigned 40002): the fake
    really verifies, so the round-trips above prove the SDK signs what Alipay expects."""
    settings.ALIPAY_PRIVATE_KEY = KeyPair().private_pem
    with pytest.raises(ProviderRejected):
        get_gateway("alipay").charge(request())
    assert fake.refused_signatures == 1
    assert fake.trades == {}


def test_a_refused_signature_on_a_read_or_refund_is_no_answer_not_a_rejection(fake, settings):
    """Only a charge can be refused outright; a query, close or refund the gateway turns away
    leaves the attempt or the refund waiting (its callers handle GatewayError only)."""
    gateway = get_gateway("alipay")
    gateway.charge(request())
    fake.pay(TRADE_NO)
    settings.ALIPAY_PRIVATE_KEY = KeyPair().private_pem
    broken = get_gateway("alipay")
    with pytest.raises(ProviderUnavailable):
        broken.retrieve(TRADE_NO)
    with pytest.raises(ProviderUnavailable):
        broken.cancel(TRADE_NO)
    with pytest.raises(ProviderUnavailable):
        broken.refund(reference=TRADE_NO, amount=500, idempotency_key=REFUND)
    assert fake.trades[TRADE_NO]["refunds"] == {}

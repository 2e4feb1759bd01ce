"""The Adyen gateway through the official library, against a local fake Checkout API server."""

from __future__ import annotations

import pytest

from checkout.models import Order
from payments import services
from payments.failures import CATALOG
from payments.gateways import (
    ChargeRequest,
    InvalidPaymentDetails,
    NotCharged,
    Outcome,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    get_gateway,
    payment_method_token,
)
from payments.gateways.adyen import REFUSAL_CODES, AdyenGateway
from payments.models import AttemptStatus, PaymentMethod
from tests.factories import OrderFactory

from .fake_adyen import API_KEY, HMAC_KEY, MERCHANT, FakeAdyen

pytestmark = pytest.mark.django_db
S = AttemptStatus


def token(number: str) -> str:
    return f"adyen:test_{number}|test_03|test_2030|test_737"


VISA = token("4111111111111111")


@pytest.fixture
def fake(settings, shop):
    server = FakeAdyen()
    settings.ADYEN_API_KEY = API_KEY
    settings.ADYEN_MERCHANT_ACCOUNT = MERCHANT
    settings.ADYEN_HMAC_KEY = HMAC_KEY
    settings.ADYEN_CHECKOUT_URL = server.url
    settings.ADYEN_HTTP_TIMEOUT_SECONDS = 1
    PaymentMethod.objects.filter(code="card").update(provider="adyen")
    yield server
    server.stop()


def pay(payment_method=VISA, key="k1", order=None):
    order = order or OrderFactory(total=2400)
    return services.attempt_pay(
        order=order,
        method=PaymentMethod.objects.get(code="card"),
        idempotency_key=key,
        payment_method=payment_method,
        return_url=f"/orders/{order.number}/",
    )


# test card -> Adyen's resultCode (refusalReason) -> our status, failure code
CHARGE_TABLE = [
    ("4111111111111111", S.SUCCEEDED, ""),
    ("4917610000000000", S.REQUIRES_ACTION, ""),
    ("4000020000000000", S.FAILED, "insufficient_funds"),
    ("4000000000000069", S.FAILED, "expired_card"),
    ("4000000000000127", S.FAILED, "incorrect_cvc"),
    ("4000000000000002", S.FAILED, "card_declined"),
    ("4000000000000119", S.FAILED, "processing_error"),
    ("4000000000000077", S.PROCESSING, ""),
    ("4000000000000085", S.FAILED, "canceled"),
]


@pytest.mark.parametrize(("number", "status", "code"), CHARGE_TABLE)
def test_charge_outcomes(fake, number, status, code):
    attempt = pay(token(number))
    assert (attempt.status, attempt.failure_code) == (status, code)
    assert attempt.provider_reference == "FAKEPSP000000001"


def test_the_request_carries_our_key_twice_and_the_api_key(fake, settings):
    settings.SITE_URL = "https://shop.example"
    attempt = pay()
    (sent,) = fake.requests
    assert sent["path"] == "/payments" and sent["api_key"] == API_KEY
    assert sent["key"] == f"attempt-{attempt.public_id}"
    assert sent["body"]["reference"] == f"attempt-{attempt.public_id}"
    assert sent["body"]["amount"] == {"value": 2400, "currency": "USD"}
    assert sent["body"]["merchantAccount"] == "ShopECOM"
    assert sent["body"]["paymentMethod"] == {
        "type": "scheme",
        "encryptedCardNumber": "test_4111111111111111",
        "encryptedExpiryMonth": "test_03",
        "encryptedExpiryYear": "test_2030",
        "encryptedSecurityCode": "test_737",
    }
    assert sent["body"]["returnUrl"] == f"https://shop.example/orders/{attempt.order.number}/"
    assert Order.objects.get().status == Order.Status.PAID


def test_every_refusal_reason_maps_to_a_catalog_entry():
    missing = {reason: code for reason, code in REFUSAL_CODES.items() if code not in CATALOG}
    assert missing == {}


def test_three_d_secure_redirect_then_details_completes_it(fake):
    attempt = pay(token("4917610000000000"))
    assert attempt.status == S.REQUIRES_ACTION
    assert attempt.action_url == "https://checkoutshopper-test.adyen.com/threeDS2/FAKEPSP000000001"
    result = get_gateway("adyen").submit_details(
        {"redirectResult": fake.redirect_result("FAKEPSP000000001")}
    )
    assert (result.outcome, result.reference, result.amount) == (
        Outcome.SUCCEEDED,
        "FAKEPSP000000001",
        2400,
    )
    attempt = services.attempt_apply_result(attempt=attempt, result=result, actor="return_url")
    assert attempt.status == S.SUCCEEDED


def test_the_return_completes_only_the_attempt_adyen_names(fake):
    other = pay(token("4917610000000000"), key="other")
    attempt = pay(token("4917610000000000"), key="mine")
    assert (other.provider_reference, attempt.provider_reference) == (
        "FAKEPSP000000001",
        "FAKEPSP000000002",
    )
    # A redirectResult of another payment (from the browser) does not move this one.
    attempt = services.attempt_adyen_redirect_complete(
        attempt=attempt, redirect_result=fake.redirect_result("FAKEPSP000000001")
    )
    assert attempt.status == S.REQUIRES_ACTION
    attempt = services.attempt_adyen_redirect_complete(
        attempt=attempt, redirect_result=fake.redirect_result("FAKEPSP000000002")
    )
    assert attempt.status == S.SUCCEEDED
    fake.fail_next = ["500"]
    assert (
        services.attempt_adyen_redirect_complete(
            attempt=other, redirect_result=fake.redirect_result("FAKEPSP000000001")
        ).status
        == S.REQUIRES_ACTION
    )


def test_three_d_secure_not_authenticated_fails(fake):
    pay(token("4917610000000000"))
    result = get_gateway("adyen").submit_details(
        {"redirectResult": fake.redirect_result("FAKEPSP000000001", approve=False)}
    )
    assert (result.outcome, result.failure_code) == (Outcome.FAILED, "authentication_failed")


@pytest.mark.parametrize("foreign", ["pm_card_visa", ""])
def test_a_foreign_token_gets_adyens_hosted_page_and_no_card_data(fake, foreign):
    attempt = pay(foreign)
    assert attempt.status == S.REQUIRES_ACTION
    assert attempt.action_url == "https://test.adyen.link/PLFAKE0000000001"
    assert attempt.provider_reference == "link:PLFAKE0000000001"
    (sent,) = fake.requests
    assert sent["path"] == "/paymentLinks"
    assert sent["key"] == sent["body"]["reference"] == f"attempt-{attempt.public_id}"
    assert "paymentMethod" not in sent["body"]
    assert "pm_card_visa" not in str(sent["body"])
    assert fake.count("POST", "/payments") == 0
    # The customer pays on Adyen's page; reading the link back says so.
    fake.pay_link("PLFAKE0000000001")
    attempt = services.attempt_refresh(attempt=attempt)
    assert attempt.status == S.SUCCEEDED


def test_canceling_a_hosted_link_expires_it_unless_it_was_paid(fake):
    first = pay("pm_card_visa", key="a")
    result = get_gateway("adyen").cancel(first.provider_reference)
    assert (result.outcome, result.failure_code) == (Outcome.FAILED, "canceled")
    assert fake.links["PLFAKE0000000001"]["status"] == "expired"
    second = pay("pm_card_visa", key="b")
    fake.pay_link("PLFAKE0000000002")
    result = get_gateway("adyen").cancel(second.provider_reference)
    assert result.outcome == Outcome.SUCCEEDED
    assert fake.links["PLFAKE0000000002"]["status"] == "completed"


def test_the_checkout_keeps_only_adyens_token_for_an_adyen_card():
    assert payment_method_token(provider="adyen", kind="card", value=f" {VISA} ") == VISA
    # A Stripe id or a typed card number is dropped: the hosted page takes the card.
    assert payment_method_token(provider="adyen", kind="card", value="pm_card_visa") == ""
    assert payment_method_token(provider="adyen", kind="card", value="4111111111111111") == ""
    with pytest.raises(InvalidPaymentDetails):
        payment_method_token(provider="adyen", kind="card", value="adyen:4111111111111111|1|2|3")


def test_replaying_the_same_key_is_one_payment_at_adyen(fake):
    request = ChargeRequest(
        amount=2400, currency="USD", method_kind="card", payment_method=VISA, idempotency_key="k"
    )
    gateway = get_gateway("adyen")
    first, second = gateway.charge(request), gateway.charge(request)
    assert first == second
    assert first.reference == "FAKEPSP000000001"
    assert len(fake.payments) == 1
    assert fake.count("POST", "/payments") == 2


def test_a_timeout_is_unknown_never_failed_and_reconcile_replays_the_key(fake):
    fake.fail_next = ["timeout"]
    attempt = pay()
    assert attempt.status == S.UNKNOWN
    assert attempt.failure_code == ""
    # The fake did charge before answering too late; asking again with the same key replays it.
    assert len(fake.payments) == 1
    attempt = services.attempt_reconcile(attempt=attempt)
    assert attempt.status == S.SUCCEEDED
    assert len(fake.payments) == 1
    assert attempt.provider_reference == "FAKEPSP000000001"


@pytest.mark.parametrize("mode", ["500", "garbage"])
def test_a_5xx_or_garbage_is_unknown(fake, mode):
    fake.fail_next = [mode]
    attempt = pay()
    assert attempt.status == S.UNKNOWN


@pytest.mark.parametrize("mode", ["401", "422"])
def test_a_refused_request_fails_with_our_code(fake, mode):
    fake.fail_next = [mode]
    attempt = pay()
    assert (attempt.status, attempt.failure_code) == (S.FAILED, "provider_rejected")


GATEWAY_ERRORS = [
    ("timeout", ProviderTimeout),
    ("500", ProviderUnavailable),
    ("garbage", ProviderUnavailable),
    ("401", ProviderRejected),
    ("422", ProviderRejected),
]


@pytest.mark.parametrize(("mode", "error"), GATEWAY_ERRORS)
def test_each_fault_raises_its_error(fake, mode, error):
    fake.fail_next = [mode]
    request = ChargeRequest(
        amount=100, currency="USD", method_kind="card", payment_method=VISA, idempotency_key="k"
    )
    with pytest.raises(error) as caught:
        get_gateway("adyen").charge(request)
    assert type(caught.value) is error


def test_a_wrong_api_key_is_refused_by_adyen(fake, settings):
    settings.ADYEN_API_KEY = "AQE_wrong"
    request = ChargeRequest(
        amount=100, currency="USD", method_kind="card", payment_method=VISA, idempotency_key="k"
    )
    with pytest.raises(ProviderRejected):
        get_gateway("adyen").charge(request)
    assert fake.requests[0]["api_key"] == "AQE_wrong"
    assert fake.payments == {}


def test_a_refused_connection_is_not_charged(fake):
    fake.stop()
    request = ChargeRequest(
        amount=100, currency="USD", method_kind="card", payment_method=VISA, idempotency_key="k"
    )
    with pytest.raises(NotCharged):
        get_gateway("adyen").charge(request)


def test_a_card_payment_cannot_be_read_back_so_reconcile_waits(fake):
    attempt = pay(token("4000000000000077"))
    assert attempt.status == S.PROCESSING
    with pytest.raises(ProviderUnavailable):
        get_gateway("adyen").retrieve(attempt.provider_reference)
    assert services.attempt_reconcile(attempt=attempt).status == S.PROCESSING


def test_no_gateway_without_configuration(settings):
    settings.ADYEN_API_KEY = ""
    with pytest.raises(ValueError, match="adyen"):
        get_gateway("adyen")


def test_refund_is_received_with_our_key_then_pending(fake):
    attempt = pay()
    refund = services.refund_create(
        attempt=attempt,
        amount=500,
        destination="original",
        reason="asked",
        actor="staff:carol",
        idempotency_key="r1",
    )
    assert (refund.status, refund.provider_reference) == ("pending", "FAKEPSP000000002")
    sent = fake.requests[-1]
    assert sent["path"] == "/payments/FAKEPSP000000001/refunds"
    assert sent["key"] == sent["body"]["reference"] == f"refund-{refund.public_id}"
    assert sent["body"]["amount"] == {"value": 500, "currency": "USD"}
    assert isinstance(get_gateway("adyen"), AdyenGateway)

"""Alipay and WeChat Pay direct, end to end: an order paid through the services shows the QR
code on our page, and the provider's notification (verified; stored once per provider and
notification id; forward-only) settles the attempt or the refund. A tampered or forged
notification is refused with a 400 and nothing is stored."""

from __future__ import annotations

import json
import time

import pytest
import segno
from django.core import mail

from payments import services
from payments.gateways import wechatpay as wechatpay_gateway
from payments.models import AttemptStatus, PaymentAttempt, PaymentEvent, Refund, WebhookEvent
from tests.factories import OrderFactory, PaymentMethodFactory

from . import test_alipay_gateway as alipay_setup
from . import test_wechatpay_gateway as wechatpay_setup
from .fake_alipay import FakeAlipay
from .fake_china import KeyPair
from .fake_wechatpay import APIV3_KEY, PLATFORM_KEY_ID, FakeWechatPay

pytestmark = pytest.mark.django_db
S = AttemptStatus


@pytest.fixture
def alipay(settings, shop):
    server = FakeAlipay(*alipay_setup.keys())
    alipay_setup.configure(settings, server)
    PaymentMethodFactory(
        code="alipay_direct", kind="alipay", provider="alipay", currencies="CNY", label_en="Alipay"
    )
    yield server
    server.stop()


@pytest.fixture
def wechatpay(settings, shop):
    server = FakeWechatPay(*wechatpay_setup.keys())
    wechatpay_setup.configure(settings, server)
    PaymentMethodFactory(
        code="wechatpay_direct",
        kind="wechat_pay",
        provider="wechatpay",
        currencies="CNY",
        label_en="WeChat Pay",
    )
    yield server
    server.stop()


def pay(code: str, key: str = "k1") -> PaymentAttempt:
    order = OrderFactory(currency="CNY", total=1234)
    return services.attempt_pay(
        order=order,
        method=PaymentMethodFactory(code=code),
        idempotency_key=key,
        return_url=f"/orders/{order.number}/",
    )


def succeeded_transitions(attempt: PaymentAttempt) -> int:
    return PaymentEvent.objects.filter(
        attempt=attempt, kind=PaymentEvent.Kind.STATUS_CHANGED, to_status=S.SUCCEEDED
    ).count()


@pytest.fixture
def post_alipay(client, django_capture_on_commit_callbacks):
    def send(params: dict[str, str] | str):
        body = params if isinstance(params, str) else FakeAlipay.form(params)
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                "/payments/webhooks/alipay/",
                body,
                content_type="application/x-www-form-urlencoded; charset=utf-8",
            )

    return send


@pytest.fixture
def post_wechatpay(client, django_capture_on_commit_callbacks):
    def send(body: bytes, headers: dict[str, str]):
        extra = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()}
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                "/payments/webhooks/wechatpay/", body, content_type="application/json", **extra
            )

    return send


# --- Alipay -------------------------------------------------------------------------------------


def test_alipay_attempt_waits_on_our_qr_page(alipay, client):
    attempt = pay("alipay_direct")
    assert attempt.status == S.REQUIRES_ACTION
    assert attempt.provider_reference == attempt.public_id.hex
    assert attempt.action_url == f"/payments/qr/alipay/{attempt.public_id.hex}/"
    page = client.get(attempt.action_url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "<h1>Scan the QR code with Alipay</h1>" in html
    assert 'src="data:image/svg+xml' in html
    assert 'alt="QR code to pay with Alipay"' in html
    assert '<p class="amount">CN¥12.34</p>' in html
    # The image is the code Alipay gave for this trade, drawn by segno, nothing else.
    drawn = segno.make("https://qr.alipay.com/bax00000fake", error="m")
    assert f'src="{drawn.svg_data_uri(scale=6, border=4, light="white")}"' in html
    assert client.get("/payments/qr/alipay/0123456789abcdef0123456789abcdef/").status_code == 404
    assert client.get(f"/payments/qr/stripe/{attempt.public_id.hex}/").status_code == 404


def test_alipay_notification_applied_once_even_when_delivered_twice(alipay, post_alipay):
    attempt = pay("alipay_direct")
    alipay.pay(attempt.provider_reference)
    params = alipay.notification(attempt.provider_reference)
    first = post_alipay(params)
    mails = len(mail.outbox)
    second = post_alipay(params)
    assert (first.status_code, first.content) == (200, b"success")
    assert (second.status_code, second.content) == (200, b"success")
    attempt.refresh_from_db()
    assert attempt.status == S.SUCCEEDED
    event = WebhookEvent.objects.get()
    assert (event.provider, event.event_id, event.type, event.deliveries) == (
        "alipay",
        "2026112700222134501000000001",
        "trade_status_sync:TRADE_SUCCESS",
        2,
    )
    assert event.outcome == f"attempt {attempt.public_id} is succeeded"
    assert succeeded_transitions(attempt) == 1
    assert len(mail.outbox) == mails


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda p: {**p, "total_amount": "0.01"}, id="tampered-amount"),
        pytest.param(lambda p: {**p, "trade_status": "TRADE_FINISHED"}, id="tampered-status"),
        pytest.param(lambda p: {k: v for k, v in p.items() if k != "sign"}, id="unsigned"),
        pytest.param(lambda p: {**p, "sign": "AAAA" + p["sign"][4:]}, id="bad-signature"),
        pytest.param(lambda p: {**p, "sign_type": "RSA"}, id="other-sign-type"),
    ],
)
def test_alipay_forged_notification_refused_nothing_stored(alipay, post_alipay, forge):
    attempt = pay("alipay_direct")
    alipay.pay(attempt.provider_reference)
    response = post_alipay(forge(alipay.notification(attempt.provider_reference)))
    assert (response.status_code, response.content) == (400, b"fail")
    assert WebhookEvent.objects.count() == 0
    attempt.refresh_from_db()
    assert attempt.status == S.REQUIRES_ACTION


def test_alipay_notification_signed_by_another_key_or_for_another_app_refused(alipay, post_alipay):
    attempt = pay("alipay_direct")
    alipay.pay(attempt.provider_reference)
    other_key = alipay.notification(attempt.provider_reference, key=KeyPair())
    other_app = alipay.notification(attempt.provider_reference, extra={"app_id": "2021999"})
    assert post_alipay(other_key).status_code == 400
    assert post_alipay(other_app).status_code == 400
    assert post_alipay("sign=%ZZ&&").status_code == 400
    assert WebhookEvent.objects.count() == 0


def test_alipay_late_closed_notification_never_moves_a_paid_attempt_back(alipay, post_alipay):
    attempt = pay("alipay_direct")
    trade_no = attempt.provider_reference
    alipay.pay(trade_no)
    post_alipay(alipay.notification(trade_no, notify_id="n-paid"))
    alipay.trades[trade_no]["status"] = "TRADE_CLOSED"
    response = post_alipay(alipay.notification(trade_no, notify_id="n-closed"))
    assert response.status_code == 200
    attempt.refresh_from_db()
    assert attempt.status == S.SUCCEEDED
    assert WebhookEvent.objects.count() == 2


def test_alipay_refund_through_the_service(alipay):
    attempt = pay("alipay_direct")
    alipay.pay(attempt.provider_reference)
    attempt = services.attempt_refresh(attempt=attempt)
    assert attempt.status == S.SUCCEEDED
    refund = services.refund_create(
        attempt=attempt, amount=500, destination="original", reason="asked", actor="staff:carol"
    )
    assert refund.status == Refund.Status.SUCCEEDED
    assert refund.provider_reference == f"refund_{refund.public_id.hex}"
    assert alipay.trades[attempt.provider_reference]["refunds"] == {
        f"refund_{refund.public_id.hex}": "5.00"
    }


# --- WeChat Pay ---------------------------------------------------------------------------------


def test_wechatpay_attempt_waits_on_our_qr_page(wechatpay, client):
    attempt = pay("wechatpay_direct")
    assert attempt.status == S.REQUIRES_ACTION
    assert attempt.action_url == f"/payments/qr/wechatpay/{attempt.public_id.hex}/"
    html = client.get(attempt.action_url).content.decode()
    assert "<h1>Scan the QR code with WeChat Pay</h1>" in html
    assert 'src="data:image/svg+xml' in html
    assert "style=" not in html.split("<main", 1)[-1]


def test_wechatpay_notification_applied_once_even_when_delivered_twice(wechatpay, post_wechatpay):
    attempt = pay("wechatpay_direct")
    wechatpay.pay(attempt.provider_reference)
    body, headers = wechatpay.notification(wechatpay.transaction(attempt.provider_reference))
    first = post_wechatpay(body, headers)
    second = post_wechatpay(body, headers)
    assert (first.status_code, first.json()["code"]) == (200, "SUCCESS")
    assert (second.status_code, second.json()["code"]) == (200, "SUCCESS")
    attempt.refresh_from_db()
    assert attempt.status == S.SUCCEEDED
    event = WebhookEvent.objects.get()
    assert (event.provider, event.event_id, event.type, event.deliveries) == (
        "wechatpay",
        "EV-2026112716500000001",
        "TRANSACTION.SUCCESS",
        2,
    )
    # Stored decrypted, without who paid.
    assert event.payload["resource"]["trade_state"] == "SUCCESS"
    assert "payer" not in event.payload["resource"]
    assert succeeded_transitions(attempt) == 1


def _tamper(body: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    data = json.loads(body)
    data["event_type"] = "TRANSACTION.SUCCESS "
    return json.dumps(data, ensure_ascii=False).encode(), headers


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda f, r: _tamper(*f.notification(r)), id="tampered-body"),
        pytest.param(lambda f, r: f.notification(r, key=KeyPair()), id="bad-signature"),
        pytest.param(lambda f, r: f.notification(r, serial="PUB_KEY_ID_OTHER"), id="wrong-serial"),
        pytest.param(
            lambda f, r: f.notification(r, timestamp=int(time.time()) - 301), id="expired"
        ),
        pytest.param(
            lambda f, r: f.notification(r, apiv3_key="b" * 32), id="encrypted-with-other-key"
        ),
        pytest.param(
            lambda f, r: f.notification({**r, "mchid": "1900000999"}), id="other-merchant"
        ),
        pytest.param(
            lambda f, r: (f.notification(r)[0], {**f.notification(r)[1], "Wechatpay-Nonce": "x"}),
            id="other-nonce",
        ),
    ],
)
def test_wechatpay_forged_notification_refused_nothing_stored(wechatpay, post_wechatpay, forge):
    attempt = pay("wechatpay_direct")
    wechatpay.pay(attempt.provider_reference)
    body, headers = forge(wechatpay, wechatpay.transaction(attempt.provider_reference))
    response = post_wechatpay(body, headers)
    assert (response.status_code, response.json()["code"]) == (400, "FAIL")
    assert WebhookEvent.objects.count() == 0
    attempt.refresh_from_db()
    assert attempt.status == S.REQUIRES_ACTION


def test_wechatpay_refund_pending_then_settled_by_notification_once(wechatpay, post_wechatpay):
    attempt = pay("wechatpay_direct")
    wechatpay.pay(attempt.provider_reference)
    attempt = services.attempt_refresh(attempt=attempt)
    wechatpay.refund_status = "PROCESSING"
    refund = services.refund_create(
        attempt=attempt, amount=500, destination="original", reason="asked", actor="staff:carol"
    )
    assert refund.status == Refund.Status.PENDING
    done = {**wechatpay.refunds[f"refund-{refund.public_id}"], "mchid": "1900000109"}
    done["refund_status"] = done.pop("status")
    done["refund_status"] = "SUCCESS"
    body, headers = wechatpay.notification(
        done, event_type="REFUND.SUCCESS", event_id="EV-refund-1"
    )
    assert post_wechatpay(body, headers).status_code == 200
    assert post_wechatpay(body, headers).status_code == 200
    refund.refresh_from_db()
    attempt.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert attempt.refunded_amount == 500
    assert WebhookEvent.objects.get().deliveries == 2


# A WeChat Pay resource encrypted once with AES-256-GCM (key "a12d3924fd499edac8a5efc0e7f3c0a1",
# nonce "fixednonce12", associated data "transaction"), as in WeChat Pay's documentation.
CIPHERTEXT = (
    "Xf59TbI2b3d8lqL0pXLFUKr1DXoxQkFK7rhVcE5CiEl5OrwZ7BsgRfUBFrO9L8aMVARG0o5u4cEHveCI39HK096rSIbp"
    "sbQSLGu4ZWOW7U7ljPWMLcJmdSiiRsn8mN5IKUC9zK9WIVCzFBDbBHBZibraEzmSf+bDTDMM9W7E3yTrEpfRbH3/VprV"
    "KXuoCy4lPRjPafA31tBbOLLbIqKibAwnjYOnT6KmYWaQgOh2jT2tL2ZkRmRmRmFcKlAORkCUqACikdSf+xyiWD5gNdy7"
    "Eu3g8AigeyuADZo5MABPbG4sYUk+Q6mNxkjH6HIzkLl74yurj25xIRJumlDqq918uIOOqw2XtLHRPcXGUQ54PKnWLOJc"
    "rXJluP4uxUFWuXlY7FAOFhh0u5JzCqOieIai0ONc5JdXPXdLZdYQ8TmleeyLobeMgpdFjg=="
)


def test_a_real_shaped_resource_decrypts(settings):
    settings.WECHATPAY_APIV3_KEY = APIV3_KEY
    settings.WECHATPAY_PLATFORM_PUBLIC_KEY_ID = PLATFORM_KEY_ID
    platform = KeyPair()
    settings.WECHATPAY_PLATFORM_PUBLIC_KEY = platform.public_pem
    body = json.dumps(
        {
            "id": "EV-1",
            "event_type": "TRANSACTION.SUCCESS",
            "resource_type": "encrypt-resource",
            "resource": {
                "original_type": "transaction",
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": CIPHERTEXT,
                "associated_data": "transaction",
                "nonce": "fixednonce12",
            },
        }
    )
    ts, nonce = str(int(time.time())), "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"
    headers = {
        "Wechatpay-Timestamp": ts,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": platform.sign(f"{ts}\n{nonce}\n{body}\n"),
        "Wechatpay-Serial": PLATFORM_KEY_ID,
    }
    data = wechatpay_gateway.notification_verify(headers, body.encode())
    assert data["resource"] == {
        "mchid": "1900000109",
        "appid": "wxd678efh567hg6787",
        "out_trade_no": "0f8fad5bd9cb469fa16570867728950e",
        "transaction_id": "4200001234202611270000000001",
        "trade_type": "NATIVE",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "amount": {"total": 1234, "payer_total": 1234, "currency": "CNY", "payer_currency": "CNY"},
    }


def test_alipay_refund_notification_settles_our_pending_refund_once(alipay, post_alipay):
    attempt = pay("alipay_direct")
    alipay.pay(attempt.provider_reference)
    attempt = services.attempt_refresh(attempt=attempt)
    # Reserved and (as far as we know) not answered yet: Alipay's notification tells the end.
    refund, _created = services.refund_request(
        attempt=attempt, amount=500, destination="original", reason="asked", actor="staff:carol"
    )
    assert refund.status == Refund.Status.PENDING
    params = alipay.notification(
        attempt.provider_reference,
        notify_id="n-refund",
        extra={
            "out_biz_no": f"refund_{refund.public_id.hex}",
            "refund_fee": "5.00",
            "gmt_refund": "2026-11-27 16:55:00.123",
        },
    )
    assert post_alipay(params).content == b"success"
    assert post_alipay(params).content == b"success"
    refund.refresh_from_db()
    attempt.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert refund.provider_reference == f"refund_{refund.public_id.hex}"
    assert attempt.refunded_amount == 500
    assert WebhookEvent.objects.get().outcome == f"refund {refund.public_id} is succeeded"


def test_alipay_notification_before_our_reference_was_stored_finds_the_attempt(alipay, post_alipay):
    attempt = pay("alipay_direct")
    trade_no = attempt.provider_reference
    PaymentAttempt.objects.filter(pk=attempt.pk).update(provider_reference="")
    alipay.pay(trade_no)
    assert post_alipay(alipay.notification(trade_no)).status_code == 200
    attempt.refresh_from_db()
    assert attempt.status == S.SUCCEEDED


def test_alipay_notification_for_a_trade_not_ours_is_stored_and_ignored(alipay, post_alipay):
    alipay.trades["someoneelse1"] = {
        "trade_no": "2026112722001000000000000099",
        "status": "TRADE_SUCCESS",
        "total_amount": "1.00",
        "subject": "x",
    }
    assert post_alipay(alipay.notification("someoneelse1")).status_code == 200
    assert WebhookEvent.objects.get().outcome == "ignored: no attempt of ours"


def test_notifications_refused_when_the_provider_is_not_configured(
    alipay, wechatpay, post_alipay, post_wechatpay, settings
):
    attempt = pay("alipay_direct")
    alipay.pay(attempt.provider_reference)
    params = alipay.notification(attempt.provider_reference)
    other = pay("wechatpay_direct", key="k2")
    wechatpay.pay(other.provider_reference)
    body, headers = wechatpay.notification(wechatpay.transaction(other.provider_reference))
    settings.ALIPAY_PUBLIC_KEY = ""
    settings.WECHATPAY_APIV3_KEY = ""
    assert post_alipay(params).status_code == 400
    assert post_wechatpay(body, headers).status_code == 400
    assert WebhookEvent.objects.count() == 0


@pytest.mark.parametrize("provider", ["alipay", "wechatpay"])
def test_cancel_closes_the_trade_or_finds_it_paid(provider, request):
    fake = request.getfixturevalue(provider)
    code = f"{provider}_direct"
    waiting = pay(code, key="k-wait")
    paid = pay(code, key="k-paid")
    fake.pay(paid.provider_reference)
    waiting = services.attempt_cancel(attempt=waiting, actor="customer")
    paid = services.attempt_cancel(attempt=paid, actor="customer")
    assert (waiting.status, waiting.failure_code) == (S.CANCELED, "canceled")
    assert paid.status == S.SUCCEEDED
    states = {
        "alipay": lambda no: fake.trades[no]["status"],
        "wechatpay": lambda no: fake.orders[no]["trade_state"],
    }[provider]
    closed, success = {
        "alipay": ("TRADE_CLOSED", "TRADE_SUCCESS"),
        "wechatpay": ("CLOSED", "SUCCESS"),
    }[provider]
    assert states(waiting.provider_reference) == closed
    assert states(paid.provider_reference) == success


def test_alipay_signed_notification_we_cannot_store_is_refused_not_a_500(alipay, post_alipay):
    attempt = pay("alipay_direct")
    alipay.pay(attempt.provider_reference)
    too_long = alipay.notification(attempt.provider_reference, notify_id="n" * 101)
    with_nul = alipay.notification(attempt.provider_reference, extra={"subject": "a\x00b"})
    assert post_alipay(too_long).status_code == 400
    assert post_alipay(with_nul).status_code == 400
    assert WebhookEvent.objects.count() == 0


def test_wechatpay_notification_that_is_not_json_is_refused(wechatpay, post_wechatpay):
    body, headers = b"\xff\xfe not json", {"Wechatpay-Timestamp": "x"}
    assert post_wechatpay(body, headers).status_code == 400
    assert WebhookEvent.objects.count() == 0

"""A shopper pays a CNY order with WeChat Pay direct: the checkout sends them to our QR page,
they scan and pay in the app, come back, and the order is paid. Offline (a local fake API)."""

from __future__ import annotations

import pytest

from checkout.models import Order, Product
from payments.models import PaymentAttempt, PaymentMethod
from tests.payments import test_wechatpay_gateway as wechatpay_setup
from tests.payments.fake_wechatpay import FakeWechatPay

from .helpers import checkout_form, fill_cart, pay

pytestmark = pytest.mark.django_db


@pytest.fixture
def wechatpay(settings, shop):
    server = FakeWechatPay(*wechatpay_setup.keys())
    wechatpay_setup.configure(settings, server)
    Product.objects.update(currency="CNY")
    PaymentMethod.objects.filter(code="wechat_pay").update(provider="wechatpay", currencies="CNY")
    yield server
    server.stop()


def test_wechat_pay_direct_qr_page_then_paid_when_back(client, wechatpay):
    fill_cart(client, "tea")
    response = pay(client, checkout_form(client), method="wechat_pay", payment_method="")
    attempt = PaymentAttempt.objects.get()
    assert attempt.provider == "wechatpay"
    assert response["Location"] == f"/payments/qr/wechatpay/{attempt.public_id.hex}/"
    page = client.get(response["Location"]).content.decode()
    assert "Scan the QR code with WeChat Pay" in page
    assert '<p class="amount">CN¥18.50</p>' in page
    assert wechatpay.orders[attempt.public_id.hex]["amount"] == {"total": 1850, "currency": "CNY"}
    # Back from the app: the page's button asks WeChat Pay now (no script needed).
    assert 'name="payment_intent" value="' + attempt.public_id.hex + '"' in page
    wechatpay.pay(attempt.public_id.hex)
    order = Order.objects.get()
    back = client.post(
        f"/orders/{order.number}/check-payment/", {"payment_intent": attempt.public_id.hex}
    )
    assert back.status_code == 302
    order.refresh_from_db()
    assert order.status == Order.Status.PAID

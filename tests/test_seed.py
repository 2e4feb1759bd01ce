from __future__ import annotations

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command
from django.test import RequestFactory

from checkout.models import Product
from payments.models import PaymentMethod, PaymentRoute

pytestmark = pytest.mark.django_db


def snapshot():
    User = get_user_model()
    return (
        sorted(Product.objects.values_list("sku", "price", "currency")),
        sorted(PaymentMethod.objects.values_list("code", "provider", "enabled")),
        sorted(PaymentRoute.objects.values_list("method__code", "priority", "provider")),
        sorted(User.objects.values_list("email", "is_staff", "is_superuser", "password")),
    )


def test_seed_loads_the_demo_and_running_it_twice_changes_nothing(settings):
    settings.DEBUG = True
    call_command("seed_demo")
    first = snapshot()
    call_command("seed_demo")
    assert snapshot() == first
    products, methods, routes, users = first
    assert len(products) == 12
    assert all(price > 0 and currency == "USD" for _sku, price, currency in products)
    assert [code for code, *_ in methods] == ["alipay", "card", "wallet", "wechat_pay"]
    # Card, Alipay and WeChat Pay have a second simulator route for the failover demo.
    assert routes == [
        ("alipay", 10, "simulator"),
        ("alipay", 20, "simulator_b"),
        ("card", 10, "simulator"),
        ("card", 20, "simulator_b"),
        ("wallet", 10, "wallet"),
        ("wechat_pay", 10, "simulator"),
        ("wechat_pay", 20, "simulator_b"),
    ]
    assert [(e, staff, sup) for e, staff, sup, _pw in users] == [
        ("alice@example.com", False, False),
        ("bob@example.com", True, False),
        ("carol@example.com", True, True),
    ]
    request = RequestFactory().post("/accounts/login/")
    user = authenticate(request, username="alice@example.com", password="demo-pass-1234")
    assert user is not None and user.email == "alice@example.com"


def test_seed_prices_follow_the_shop_currency(settings):
    settings.DEBUG = True
    settings.SHOP_CURRENCY = "JPY"
    call_command("seed_demo")
    mug = Product.objects.get(sku="mug-classic")
    assert (mug.price, mug.currency) == (1800, "JPY")  # $12 at a rough 150 yen

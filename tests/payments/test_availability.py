from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from payments.selectors import method_availability, methods_for_amount
from tests.factories import PaymentMethodFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("fields", "amount", "currency", "reason"),
    [
        ({}, 1000, "USD", ""),
        ({"enabled": False}, 1000, "USD", "disabled"),
        ({"maintenance": True}, 1000, "USD", "maintenance"),
        ({"currencies": "CNY"}, 1000, "USD", "currency_not_supported"),
        ({"currencies": "usd, cny"}, 1000, "USD", ""),
        ({"min_amount": 5000}, 1000, "USD", "below_minimum"),
        ({"max_amount": 500}, 1000, "USD", "above_maximum"),
        ({"max_amount": 1000}, 1000, "USD", ""),
    ],
)
def test_availability_reason(fields, amount, currency, reason):
    method = PaymentMethodFactory(**fields)
    result = method_availability(method=method, amount=amount, currency=currency)
    assert result.available is (reason == "")
    assert result.reason == reason


def test_maintenance_lifts_itself_at_its_end_time():
    method = PaymentMethodFactory(
        maintenance=True, maintenance_until=timezone.now() - timedelta(seconds=1)
    )
    assert method_availability(method=method, amount=100, currency="USD").available
    method.maintenance_until = timezone.now() + timedelta(minutes=5)
    assert method_availability(method=method, amount=100, currency="USD").reason == "maintenance"


def test_empty_wallet_is_not_available(shop):
    by_code = {a.method.code: a for a in methods_for_amount(amount=100, currency="USD")}
    assert by_code["wallet"].reason == "sign_in_required"  # a guest has no wallet
    assert [a.method.code for a in by_code.values()] == ["card", "alipay", "wechat_pay", "wallet"]

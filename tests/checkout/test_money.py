from __future__ import annotations

from decimal import Decimal

import pytest

from payments.money import format_money, to_major, to_minor


@pytest.mark.parametrize(
    ("amount", "currency", "language", "expected"),
    [
        (1200, "USD", "en", "$12.00"),
        (1200, "USD", "zh-hans", "US$12.00"),
        (1200, "CNY", "zh-hans", "¥12.00"),
        (1200, "CNY", "en", "CN¥12.00"),
        (123456789, "USD", "en", "$1,234,567.89"),
        (1500, "JPY", "en", "¥1,500"),
        (1234, "CHF", "en", "12.34 CHF"),
        (-250, "EUR", "en", "-€2.50"),
        (5, "USD", "en", "$0.05"),
    ],
)
def test_format_money(amount, currency, language, expected):
    assert format_money(amount, currency, language) == expected


def test_to_minor_is_exact_and_refuses_sub_minor_precision():
    assert to_minor("12.50", "USD") == 1250
    assert to_minor(Decimal("1500"), "JPY") == 1500
    with pytest.raises(ValueError):
        to_minor("12.505", "USD")
    with pytest.raises(ValueError):
        to_minor("10.5", "JPY")


def test_to_major_round_trips():
    assert to_major(1250, "USD") == Decimal("12.50")
    assert to_minor(to_major(987654321, "USD"), "USD") == 987654321

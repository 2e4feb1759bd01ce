"""Money is an integer in the currency's minor unit plus an ISO 4217 code. No floats, ever."""

from __future__ import annotations

from decimal import Decimal

# Currencies whose API amount is not in hundredths, as Stripe lists them (its currencies page):
# an amount in minor units goes to the provider unchanged, so this table must be the provider's.
# (ISK, HUF and TWD are sent in hundredths too, though their amounts must be whole.)
ZERO_DECIMAL = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV"}
    | {"XAF", "XOF", "XPF"}
)
THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})
_EXPONENTS = {code: 0 for code in ZERO_DECIMAL} | {code: 3 for code in THREE_DECIMAL}

# Symbols by language: in Chinese "¥" means yuan, so the dollar carries its country ("US$").
_SYMBOLS = {
    "en": {"USD": "$", "EUR": "€", "GBP": "£", "CNY": "CN¥", "JPY": "¥", "HKD": "HK$"},
    "zh-hans": {"USD": "US$", "EUR": "€", "GBP": "£", "CNY": "¥", "JPY": "JP¥", "HKD": "HK$"},
}


def exponent(currency: str) -> int:
    return _EXPONENTS.get(currency.upper(), 2)


def to_minor(major: Decimal | str | int, currency: str) -> int:
    """Convert a decimal amount ("12.50") to minor units (1250). Refuses sub-minor precision."""
    value = Decimal(str(major)) * (10 ** exponent(currency))
    if value != value.to_integral_value():
        raise ValueError(f"{major} has more decimals than {currency} allows")
    return int(value)


def to_major(amount: int, currency: str) -> Decimal:
    return Decimal(amount).scaleb(-exponent(currency))


def format_money(amount: int, currency: str, language: str = "en") -> str:
    """'$1,234.50' in English, 'US$1,234.50' in Chinese; unknown currencies as '1,234.50 CHF'."""
    code = currency.upper()
    symbols = _SYMBOLS.get(language.lower(), _SYMBOLS["en"])
    digits = exponent(code)
    number = f"{abs(to_major(amount, code)):,.{digits}f}"
    sign = "-" if amount < 0 else ""
    symbol = symbols.get(code)
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{number} {code}"

from __future__ import annotations

import re

from django.conf import settings
from django.utils.translation import gettext as _

from .base import (
    CardSummary,
    ChargeRequest,
    ChargeResult,
    Gateway,
    GatewayError,
    InvalidPaymentDetails,
    NotCharged,
    Outcome,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    RefundResult,
)

__all__ = [
    "CardSummary",
    "ChargeRequest",
    "ChargeResult",
    "Gateway",
    "GatewayError",
    "InvalidPaymentDetails",
    "NotCharged",
    "Outcome",
    "ProviderRejected",
    "ProviderTimeout",
    "ProviderUnavailable",
    "RefundResult",
    "alipay_configured",
    "get_gateway",
    "payment_method_token",
    "wechatpay_configured",
]

_PM_ID = re.compile(r"pm_[A-Za-z0-9_]{1,96}")


def payment_method_token(*, provider: str, kind: str, value: str) -> str:
    """What the customer sent, as the token we may store and pass on, or InvalidPaymentDetails.

    The simulator turns its test card numbers into test ids; with Stripe, card details go to
    Stripe's own form and only its PaymentMethod id ever reaches us.
    """
    if kind != "card":
        # Alipay, WeChat Pay and the wallet take nothing from the card field: whatever was typed
        # there (a card number, left over when the card was unavailable) is dropped here, never
        # stored as the attempt's reference nor forwarded as anything.
        value = ""
    if provider == "simulator":
        from .simulator import normalize_payment_method

        return normalize_payment_method(kind, value)
    if provider == "adyen" and kind == "card":
        from .adyen import normalize_token

        return normalize_token(value)
    if kind == "card" and not _PM_ID.fullmatch(value.strip()):
        raise InvalidPaymentDetails(
            _("Card details could not be read. Enter them again in the card form.")
        )
    return value.strip()


def get_gateway(provider: str) -> Gateway:
    """The one seam where tests swap a provider."""
    if provider == "simulator":
        from .simulator import SimulatorGateway

        return SimulatorGateway()
    if provider == "simulator_b":
        from .simulator import SimulatorGateway

        return SimulatorGateway(name="simulator_b")
    if provider == "wallet":
        from .wallet import WalletGateway

        return WalletGateway()
    if provider == "stripe" and settings.STRIPE_SECRET_KEY:
        from .stripe import StripeGateway

        return StripeGateway()
    if provider == "alipay" and alipay_configured():
        from .alipay import AlipayGateway

        return AlipayGateway()
    if provider == "wechatpay" and wechatpay_configured():
        from .wechatpay import WechatPayGateway

        return WechatPayGateway()
    if provider == "adyen" and settings.ADYEN_API_KEY and settings.ADYEN_MERCHANT_ACCOUNT:
        from .adyen import AdyenGateway

        return AdyenGateway()
    raise ValueError(f"No gateway is configured for provider {provider!r}")


def alipay_configured() -> bool:
    return all(
        (settings.ALIPAY_APP_ID, settings.ALIPAY_PRIVATE_KEY, settings.ALIPAY_PUBLIC_KEY)
    ) and bool(settings.ALIPAY_GATEWAY_URL)


def wechatpay_configured() -> bool:
    return all(
        (
            settings.WECHATPAY_MCHID,
            settings.WECHATPAY_APPID,
            settings.WECHATPAY_PRIVATE_KEY,
            settings.WECHATPAY_CERT_SERIAL,
            settings.WECHATPAY_APIV3_KEY,
            settings.WECHATPAY_PLATFORM_PUBLIC_KEY,
            settings.WECHATPAY_PLATFORM_PUBLIC_KEY_ID,
            settings.WECHATPAY_BASE_URL,
        )
    )

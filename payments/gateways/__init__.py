from __future__ import annotations

from django.conf import settings

from .base import (
    ChargeRequest,
    ChargeResult,
    Gateway,
    GatewayError,
    InvalidPaymentDetails,
    Outcome,
    ProviderTimeout,
    ProviderUnavailable,
)

__all__ = [
    "ChargeRequest",
    "ChargeResult",
    "Gateway",
    "GatewayError",
    "InvalidPaymentDetails",
    "Outcome",
    "ProviderTimeout",
    "ProviderUnavailable",
    "get_gateway",
]


def get_gateway(provider: str) -> Gateway:
    """The one seam where tests swap a provider."""
    if provider == "simulator":
        from .simulator import SimulatorGateway

        return SimulatorGateway()
    if provider == "stripe" and settings.STRIPE_SECRET_KEY:
        from .stripe import StripeGateway

        return StripeGateway()
    raise ValueError(f"No gateway is configured for provider {provider!r}")

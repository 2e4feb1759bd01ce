"""The one small interface every payment provider sits behind."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REQUIRES_ACTION = "requires_action"
    PROCESSING = "processing"


@dataclass(frozen=True)
class ChargeRequest:
    amount: int
    currency: str
    method_kind: str
    payment_method: str
    # Derived from our attempt, so any retry of the same attempt reaches the provider as a replay.
    idempotency_key: str
    return_url: str = ""


@dataclass(frozen=True)
class ChargeResult:
    outcome: Outcome
    reference: str
    failure_code: str = ""
    decline_code: str = ""
    message: str = ""
    action_url: str = ""
    payload: dict[str, Any] = field(default_factory=dict)
    # What the provider says it charged (None when it does not say). The amount charged is the
    # truth: a success for another amount or currency than the attempt's is never absorbed.
    amount: int | None = None
    currency: str = ""


@dataclass(frozen=True)
class CardSummary:
    """What a provider says about the card behind a payment method, read before charging.

    Never the number: only the provider's fingerprint (for the risk rules, never shown), the
    brand as the provider names it ("visa", "mastercard") and the last four digits, which the
    customer sees ("Visa ···4242"). Build it with `card_summary_clean`.
    """

    fingerprint: str = ""
    brand: str = ""
    last4: str = ""


_BRAND = re.compile(r"[a-z_]{1,20}")
_LAST4 = re.compile(r"[0-9]{4}")


def card_summary_clean(*, fingerprint: object, brand: object, last4: object) -> CardSummary:
    """A summary holding only what may be stored: a brand word, exactly four digits (anything
    else, such as a longer number a provider should never send, is dropped, not cut)."""
    brand_text = str(brand or "").strip().lower()
    last4_text = str(last4 or "").strip()
    return CardSummary(
        fingerprint=str(fingerprint or "")[:64],
        brand=brand_text if _BRAND.fullmatch(brand_text) else "",
        last4=last4_text if _LAST4.fullmatch(last4_text) else "",
    )


@dataclass(frozen=True)
class RefundResult:
    succeeded: bool
    reference: str
    pending: bool = False
    failure_reason: str = ""


class GatewayError(Exception):
    """The provider could not give an answer. The charge may or may not have happened."""


class ProviderTimeout(GatewayError):
    pass


class ProviderUnavailable(GatewayError):
    pass


class NotCharged(GatewayError):
    """The provider certainly did not charge: the connection was refused before the request was
    sent, or it answered with an error its documentation says means "not processed".

    The only provider error after which an attempt may move to another route (issue 15). A
    timeout, a reset connection, a 5xx or an unreadable answer is NOT this: those may have
    charged, stay `unknown` on their route and are reconciled there.
    """


class ProviderRejected(Exception):
    """The provider refused the request itself (a bad request, bad credentials, no permission).

    Nothing was charged and sending the same request again will not help: the attempt fails with
    `code`, and the method's health counts it as a technical failure.
    """

    def __init__(self, message: str, code: str = "provider_rejected") -> None:
        super().__init__(message)
        self.code = code


class InvalidPaymentDetails(ValueError):
    """The customer's payment details cannot be used; nothing was sent to the provider."""

    def __init__(self, message: str, code: str = "invalid_payment_method") -> None:
        super().__init__(message)
        self.code = code


class Gateway(Protocol):
    name: str

    def charge(self, request: ChargeRequest) -> ChargeResult: ...

    def retrieve(self, reference: str) -> ChargeResult: ...

    def refund(self, *, reference: str, amount: int, idempotency_key: str) -> RefundResult:
        """Refund once per key (a repeated key is a replay). The key is `refund-<public_id>`;
        a provider that keeps metadata gets it as `refund_key` too."""
        ...

    def cancel(self, reference: str) -> ChargeResult:
        """Cancel a charge still waiting for the customer (3D Secure, redirect, QR). Returns the
        charge's state afterwards: failed with code `canceled`, or what it became meanwhile
        (a customer who finished paying just before is paid, never canceled)."""
        ...

    def card_fingerprint(self, payment_method: str) -> str:
        """The provider's fingerprint of the card behind `payment_method`, or "" if none."""
        ...

    def card_summary(self, payment_method: str) -> CardSummary:
        """Fingerprint, brand and last four of the card behind `payment_method`; empty fields
        where the provider has none (no card, or a lookup that failed)."""
        ...

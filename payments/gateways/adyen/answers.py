"""Adyen's answers as ours: resultCodes, refusal reasons and payment link statuses."""

from __future__ import annotations

from typing import Any

from ..base import ChargeResult, Outcome, ProviderUnavailable

# Our reference for an Adyen-hosted payment link (its pspReference comes with the payment).
LINK_PREFIX = "link:"

# Adyen's refusalReason (documented list, "Refusal reasons") -> our failure catalog's code.
# Fraud-like reasons map to codes the catalog hides behind a generic decline.
REFUSAL_CODES: dict[str, str] = {
    "Refused": "card_declined",
    "Referral": "call_issuer",
    "Acquirer Error": "processing_error",
    "Blocked Card": "restricted_card",
    "Expired Card": "expired_card",
    "Invalid Amount": "invalid_amount",
    "Invalid Card Number": "incorrect_number",
    "Issuer Unavailable": "issuer_not_available",
    "Not supported": "card_not_supported",
    "3D Not Authenticated": "authentication_failed",
    "Not enough balance": "insufficient_funds",
    "Acquirer Fraud": "fraudulent",
    "Cancelled": "canceled",
    "Shopper Cancelled": "canceled",
    "Pin tries exceeded": "pin_try_exceeded",
    "FRAUD": "fraudulent",
    "FRAUD-CANCELLED": "fraudulent",
    "Issuer Suspected Fraud": "fraudulent",
    "Not Submitted": "processing_error",
    "Transaction Not Permitted": "transaction_not_allowed",
    "CVC Declined": "incorrect_cvc",
    "Restricted Card": "restricted_card",
    "Revocation Of Auth": "revocation_of_authorization",
    "Declined Non Generic": "generic_decline",
    "Withdrawal amount exceeded": "card_velocity_exceeded",
    "Withdrawal count exceeded": "withdrawal_count_limit_exceeded",
    "AVS Declined": "incorrect_zip",
    "Authentication required": "authentication_required",
}
ACTION_RESULTS = {"RedirectShopper", "IdentifyShopper", "ChallengeShopper"}
PROCESSING_RESULTS = {"Pending", "Received", "PresentToShopper"}
FAILED_RESULTS = {"Refused", "Error", "Cancelled"}


def failure_code_for(result_code: str, refusal_reason: str) -> str:
    """Our catalog code for a refused, errored or cancelled Adyen payment."""
    if refusal_reason in REFUSAL_CODES:
        return REFUSAL_CODES[refusal_reason]
    if result_code == "Cancelled":
        return "canceled"
    if result_code == "Error":
        return "processing_error"
    return "card_declined"


def as_dict(value: Any) -> dict[str, Any]:
    """A JSON object from Adyen, or {} for anything else it sent in its place."""
    return value if isinstance(value, dict) else {}


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def result_from_payment(answer: dict[str, Any]) -> ChargeResult:
    """A `/payments` or `/payments/details` answer as our gateway-neutral result."""
    result_code = answer.get("resultCode")
    if not isinstance(result_code, str) or not result_code:
        raise ProviderUnavailable("adyen: the answer has no resultCode")
    psp = str(answer.get("pspReference") or "")
    amount = as_dict(answer.get("amount"))
    payload: dict[str, Any] = {
        "pspReference": psp,
        "resultCode": result_code,
        "merchantReference": str(answer.get("merchantReference") or ""),
    }
    if result_code == "Authorised":
        return ChargeResult(
            Outcome.SUCCEEDED,
            psp,
            payload=payload,
            amount=_int_or_none(amount.get("value")),
            currency=str(amount.get("currency") or "").upper(),
        )
    if result_code in ACTION_RESULTS:
        action = as_dict(answer.get("action"))
        url = str(action.get("url") or "")
        if not url:
            raise ProviderUnavailable(f"adyen: {result_code} without an action url")
        return ChargeResult(Outcome.REQUIRES_ACTION, psp, action_url=url, payload=payload)
    if result_code in PROCESSING_RESULTS:
        return ChargeResult(Outcome.PROCESSING, psp, payload=payload)
    if result_code in FAILED_RESULTS:
        reason = str(answer.get("refusalReason") or "")
        return ChargeResult(
            Outcome.FAILED,
            psp,
            failure_code=failure_code_for(result_code, reason),
            message=reason,
            payload={**payload, "refusalReason": reason},
        )
    raise ProviderUnavailable(f"adyen: unknown resultCode {result_code[:40]!r}")


# Pay by Link statuses (documented): active, paymentPending, completed, expired.
def result_from_link(answer: dict[str, Any]) -> ChargeResult:
    link_id, status = answer.get("id"), answer.get("status")
    if not isinstance(link_id, str) or not link_id or not isinstance(status, str):
        raise ProviderUnavailable("adyen: the payment link answer has no id or status")
    reference = LINK_PREFIX + link_id
    payload = {"linkId": link_id, "status": status}
    if status == "active":
        url = str(answer.get("url") or "")
        if not url:
            raise ProviderUnavailable("adyen: an active payment link without its url")
        return ChargeResult(Outcome.REQUIRES_ACTION, reference, action_url=url, payload=payload)
    if status == "paymentPending":
        return ChargeResult(Outcome.PROCESSING, reference, payload=payload)
    if status == "completed":
        amount = as_dict(answer.get("amount"))
        return ChargeResult(
            Outcome.SUCCEEDED,
            reference,
            payload=payload,
            amount=_int_or_none(amount.get("value")),
            currency=str(amount.get("currency") or "").upper(),
        )
    if status == "expired":
        return ChargeResult(
            Outcome.FAILED,
            reference,
            failure_code="payment_intent_payment_attempt_expired",
            payload=payload,
        )
    raise ProviderUnavailable(f"adyen: unknown payment link status {status[:40]!r}")

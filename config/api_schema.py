"""The API's error answers as the schema documents them: which HTTP status each error code
answers with (the one table) and the shape `{"error": code, "detail": message}`.

Kept free of the apps (config kernel) so every app's API can document its errors from the same
table; `checkout.errors` words the answers and `config.api_errors` (wiring) sends them.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

# code -> HTTP status: the one table. 409: the request was fine but the state of things refuses
# it now; 402: money is missing; 400: the request itself cannot be done as asked.
STATUS: dict[str, int] = {
    "idempotency_conflict": 409,
    "payment_in_progress": 409,
    "order_not_payable": 409,
    "method_unavailable": 409,
    "amount_changed": 409,
    "refund_not_allowed": 409,
    "withdrawal_not_allowed": 409,
    "invalid_transition": 409,
    "order_transition_not_allowed": 409,
    "product_unavailable": 409,
    "refund_request_not_allowed": 409,
    "refund_request_open": 409,
    "refund_request_answered": 409,
    "wallet_insufficient": 402,
    "empty_cart": 400,
    "mixed_currencies": 400,
    "checkout_error": 400,
    "webhook_rejected": 400,
    "payment_error": 400,
    "invalid": 400,
    "not_found": 404,
    "not_authenticated": 403,
    "throttled": 429,
}


class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField(help_text="A stable code, e.g. payment_in_progress.")
    detail = serializers.CharField(help_text="What went wrong, in the request's language.")


def error_responses(*codes: str) -> dict[int, OpenApiResponse]:
    """`responses=` entries for extend_schema: each status with the codes that answer with it."""
    by_status: dict[int, list[str]] = {}
    for code in codes:
        by_status.setdefault(STATUS[code], []).append(code)
    return {
        status: OpenApiResponse(
            ErrorSerializer,
            description="`error` is one of: " + ", ".join(f"`{c}`" for c in sorted(listed)),
        )
        for status, listed in sorted(by_status.items())
    }

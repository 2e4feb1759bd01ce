"""The API's error answers as the schema documents them: which HTTP status each error code
answers with (the one table) and the shape `{"error": code, "detail": message}`.

Kept free of the apps (config kernel) so every app's API can document its errors from the same
table; `checkout.errors` words the answers and `config.api_errors` (wiring) sends them.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny

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
    "throttled": 429,
    # DRF's own refusals, answered by config.api_errors with DRF's code as `error`.
    "parse_error": 400,  # a body that is not what its Content-Type says
    "not_authenticated": 403,  # session authentication: 403, there is no WWW-Authenticate
    "permission_denied": 403,  # a CSRF refusal of a signed-in session, or no permission
    "unsupported_media_type": 415,
}

# What every operation can answer, whatever its view says (AutoSchema below adds them): a
# control character in the path, query or a header value (config.input_guard: `invalid`), a
# caller over the rate (the API throttles).
EVERY_OPERATION = ("invalid", "throttled")
# What every operation that takes a body can also answer: a body that does not parse, a
# Content-Type no parser reads, and a session request without its CSRF token.
WITH_BODY = ("parse_error", "unsupported_media_type", "permission_denied")


class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField(help_text="A stable code, e.g. payment_in_progress.")
    detail = serializers.CharField(help_text="What went wrong, in the request's language.")


class ErrorResponse(OpenApiResponse):
    """An error status as documented: the codes that answer with it (merged by AutoSchema)."""

    def __init__(self, codes: list[str]) -> None:
        self.codes = sorted(set(codes))
        super().__init__(
            ErrorSerializer,
            description="`error` is one of: " + ", ".join(f"`{c}`" for c in self.codes),
        )


def error_responses(*codes: str) -> dict[int, ErrorResponse]:
    """`responses=` entries for extend_schema: each status with the codes that answer with it."""
    by_status: dict[int, list[str]] = {}
    for code in codes:
        by_status.setdefault(STATUS[code], []).append(code)
    return {status: ErrorResponse(listed) for status, listed in sorted(by_status.items())}


class AutoSchema(SpectacularAutoSchema):
    """REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]: every operation documents, besides what its view
    declares, the errors any operation can answer (EVERY_OPERATION, WITH_BODY), and the
    permission refusal of a view that has permission classes beyond AllowAny."""

    def _common_codes(self) -> list[str]:
        codes = list(EVERY_OPERATION)
        if self.method in ("POST", "PUT", "PATCH"):
            codes += WITH_BODY
        if any(not isinstance(p, AllowAny) for p in self.view.get_permissions()):
            codes += ["not_authenticated", "permission_denied"]
        return codes

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        # extend_schema subclasses this class and overrides get_response_serializers, so the
        # common answers are merged here, after the view's own are laid out.
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        overrides: Any = self.get_response_serializers()
        declared: dict[Any, Any] = overrides if isinstance(overrides, dict) else {}
        for status, common in error_responses(*self._common_codes()).items():
            existing = declared.get(status)
            if str(status) in responses and not isinstance(existing, ErrorResponse):
                continue  # the view documents this status with a body of its own
            codes = [
                *common.codes,
                *(existing.codes if isinstance(existing, ErrorResponse) else []),
            ]
            responses[str(status)] = self._get_response_for_code(
                ErrorResponse(codes), str(status), direction=direction
            )
        return dict(sorted(responses.items()))

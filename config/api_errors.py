"""The API's exception handler (REST_FRAMEWORK["EXCEPTION_HANDLER"]): every error an API view
lets out becomes the documented answer `{"error": code, "detail": message, ...extra}`.

Domain errors are worded by `checkout.errors.answer_for` (the same words the pages use) with the
status from `config.api_schema.STATUS`; DRF's own errors keep their status. A validation error
keeps DRF's field errors beside those two keys (clients read `body["email"]`), and a throttled
request gets `retry_after` and a Retry-After header. Wiring: it may import every app.
"""

from __future__ import annotations

import math
from typing import Any

from rest_framework import exceptions
from rest_framework.response import Response

from accounts.api import retry_message
from checkout.errors import answer_for


def _first_message(detail: Any) -> str:
    """The first human sentence of a DRF error detail (a string, list or dict of them)."""
    if isinstance(detail, dict):
        detail = next(iter(detail.values()), "")
    if isinstance(detail, list):
        return _first_message(detail[0]) if detail else ""
    return str(detail)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """REST_FRAMEWORK["EXCEPTION_HANDLER"]: every error an API view lets out, as the answer."""
    # Imported here: rest_framework.views reads the settings (and so the throttles) at import.
    from rest_framework.views import exception_handler as drf_exception_handler

    answer = answer_for(exc)
    if answer is not None:
        return Response(answer.body(), status=answer.status)
    response = drf_exception_handler(exc, context)  # Http404 and PermissionDenied too
    if response is None:
        return None  # a bug: a 500, mailed to the admins
    if isinstance(exc, exceptions.Throttled):
        # Throttled.__init__ sets .wait; djangorestframework-stubs do not declare it.
        seconds = max(1, math.ceil(exc.wait or 1))  # type: ignore[attr-defined]
        response.data = {
            "error": "throttled",
            "detail": retry_message(seconds),
            "retry_after": seconds,
        }
        response["Retry-After"] = str(seconds)
    elif isinstance(exc, exceptions.ValidationError):
        fields = response.data if isinstance(response.data, dict) else {}
        response.data = {
            "error": "invalid",
            "detail": _first_message(response.data),
            **fields,
        }
    elif isinstance(exc, exceptions.APIException):
        response.data = {"error": exc.default_code, "detail": _first_message(exc.detail)}
    return response

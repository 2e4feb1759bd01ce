"""Responses that several apps' views send, kept out of accounts.views so that a view module is
never imported by another app (docs/architecture.md)."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import ngettext

from config.shopper_time import time_label


def wants_json(request: HttpRequest) -> bool:
    accept = request.headers.get("accept", "")
    return request.path.startswith("/api/") or (
        "application/json" in accept and "text/html" not in accept
    )


def too_many_requests(
    request: HttpRequest,
    retry_after: int,
    *,
    message: str | None = None,
    reason_shown: bool = False,
    template: str = "accounts/rate_limited.html",
    context: dict[str, Any] | None = None,
) -> HttpResponse:
    """HTTP 429 with Retry-After, saying in the person's language when to try again: a page
    for browsers, JSON ({"detail", "retry_after", "retry_at"}) for the API."""
    retry_after = max(1, int(retry_after))
    retry_at = timezone.now() + timedelta(seconds=retry_after)
    minutes = max(1, math.ceil(retry_after / 60))
    if message is None and reason_shown:
        # The page already says what there was too much of (the locked page's reason): only
        # when to come back, or it reads "too many ... Too many ...".
        message = ngettext(
            "Please wait and try again at %(time)s, in %(minutes)d minute.",
            "Please wait and try again at %(time)s, in %(minutes)d minutes.",
            minutes,
        ) % {"time": time_label(retry_at), "minutes": minutes}
    elif message is None:
        message = ngettext(
            "Too many attempts. For your safety, please wait and try again at %(time)s, "
            "in %(minutes)d minute.",
            "Too many attempts. For your safety, please wait and try again at %(time)s, "
            "in %(minutes)d minutes.",
            minutes,
        ) % {"time": time_label(retry_at), "minutes": minutes}
    if wants_json(request):
        detail = message
        if reason_shown and context and context.get("reason"):
            detail = f"{context['reason']} {message}"
        response: HttpResponse = JsonResponse(
            {"detail": detail, "retry_after": retry_after, "retry_at": retry_at.isoformat()},
            status=429,
        )
    else:
        page = {
            "message": message,
            "minutes": minutes,
            "unlock_at": retry_at,
            "unlock_label": time_label(retry_at),
            **(context or {}),
        }
        response = render(request, template, page, status=429)
    response["Retry-After"] = str(retry_after)
    return response

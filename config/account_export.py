"""The person's data export: one page made of what several apps hold, so it is put together
here, in the wiring, where every app may be imported (docs/architecture.md)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.utils import timezone

from accounts.typing import AuthenticatedHttpRequest
from checkout.account_views import export_for as checkout_export
from support.selectors import export_for as support_export


@login_required
def account_export(request: AuthenticatedHttpRequest) -> JsonResponse:
    """Everything we hold about the signed-in person, as JSON; no secrets (no password hash,
    no client secrets, no idempotency keys, no card data: we never had any)."""
    user = request.user
    data = {**checkout_export(user), **support_export(user)}
    response = JsonResponse(data, json_dumps_params={"ensure_ascii": False, "indent": 2})
    stamp = timezone.now().strftime("%Y%m%d")
    response["Content-Disposition"] = f'attachment; filename="my-data-{stamp}.json"'
    return response

"""The customer's own page: profile, orders and wallet. It lives here, not in `accounts`, because
accounts depends on nothing else of ours while orders and wallets are checkout's and payments'."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.forms import ProfileForm
from accounts.models import Address
from accounts.typing import AuthenticatedHttpRequest
from payments.models import Wallet, WalletEntry
from support.selectors import export_for as support_export

from .models import Order


@login_required
@require_http_methods(["GET", "POST"])
def account(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Your details are saved."))
        return redirect("account")
    orders = Order.objects.filter(user=request.user).order_by("-created_at")[:50]
    wallets = Wallet.objects.filter(user=request.user).order_by("currency")
    entries = (
        WalletEntry.objects.filter(wallet__user=request.user)
        .select_related("wallet")
        .order_by("-created_at")[:20]
    )
    context = {
        "form": form,
        "orders": orders,
        "wallets": wallets,
        "entries": entries,
    }
    return render(request, "checkout/account.html", context, status=400 if form.errors else 200)


@login_required
def account_export(request: AuthenticatedHttpRequest) -> JsonResponse:
    """Everything we hold about the signed-in person, as JSON; no secrets (no password hash,
    no client secrets, no idempotency keys, no card data: we never had any)."""
    user = request.user
    orders = Order.objects.filter(user=user).prefetch_related(
        "lines", "attempts__method", "attempts__events"
    )
    data = {
        "exported_at": timezone.now().isoformat(),
        "profile": {
            "email": user.email,
            "full_name": user.full_name,
            "phone": user.phone,
            "phone_verified_at": (
                user.phone_verified_at.isoformat() if user.phone_verified_at else None
            ),
            "language": user.language,
            "date_joined": user.date_joined.isoformat(),
        },
        # Soft-deleted ones too: we still hold them until they are purged.
        "addresses": [
            {
                "label": a.label,
                "full_name": a.full_name,
                "line1": a.line1,
                "line2": a.line2,
                "city": a.city,
                "postcode": a.postcode,
                "country": a.country,
                "phone": a.phone,
                "created_at": a.created_at.isoformat(),
                "deleted_at": a.deleted_at.isoformat() if a.deleted_at else None,
            }
            for a in Address.objects.filter(user=user).order_by("created_at")
        ],
        "orders": [
            {
                "number": order.number,
                "status": order.status,
                "total": {"amount": order.total, "currency": order.currency},
                "email": order.email,
                "billing": {
                    "full_name": order.full_name,
                    "address_line1": order.address_line1,
                    "address_line2": order.address_line2,
                    "city": order.city,
                    "postal_code": order.postal_code,
                    "country": order.country,
                },
                "created_at": order.created_at.isoformat(),
                "lines": [
                    {
                        "sku": line.sku,
                        "name": line.name,
                        "name_zh": line.name_zh,
                        "quantity": line.quantity,
                        "unit_price": line.unit_price,
                    }
                    for line in order.lines.all()
                ],
                "payments": [
                    {
                        "id": str(attempt.public_id),
                        "method": attempt.method.code,
                        "amount": attempt.amount,
                        "currency": attempt.currency,
                        "status": attempt.status,
                        "failure_code": attempt.failure_code,
                        "created_at": attempt.created_at.isoformat(),
                        "timeline": [
                            {
                                "kind": e.kind,
                                "from": e.from_status,
                                "to": e.to_status,
                                "at": e.created_at.isoformat(),
                            }
                            for e in attempt.events.all()
                        ],
                    }
                    for attempt in order.attempts.all()
                ],
            }
            for order in orders
        ],
        "wallet": [
            {
                "kind": e.kind,
                "amount": e.amount,
                "currency": e.wallet.currency,
                "at": e.created_at.isoformat(),
            }
            for e in WalletEntry.objects.filter(wallet__user=user).select_related("wallet")
        ],
        **support_export(user),
    }
    response = JsonResponse(data, json_dumps_params={"ensure_ascii": False, "indent": 2})
    stamp = timezone.now().strftime("%Y%m%d")
    response["Content-Disposition"] = f'attachment; filename="my-data-{stamp}.json"'
    return response

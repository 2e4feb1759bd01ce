"""The customer's own page: profile, orders and wallet. It lives here, not in `accounts`, because
accounts depends on nothing else of ours while orders and wallets are checkout's and payments'."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts import ratelimit
from accounts.forms import ProfileForm
from accounts.models import Address, User
from accounts.responses import too_many_requests
from accounts.typing import AuthenticatedHttpRequest
from payments.models import Wallet, WalletEntry, Withdrawal

from . import claims
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
        "withdrawals": Withdrawal.objects.filter(user=request.user)[:10],
    }
    return render(request, "checkout/account.html", context, status=400 if form.errors else 200)


def export_for(user: User) -> dict[str, Any]:
    """The person's profile, addresses, orders with their payments, and wallet, for their data
    export (config/account_export.py adds what other apps hold); no secrets (no password hash,
    no client secrets, no idempotency keys, no card data: we never had any)."""
    orders = Order.objects.filter(user=user).prefetch_related(
        "lines", "attempts__method", "attempts__events"
    )
    return {
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
                        "wallet_amount": attempt.wallet_amount,
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
        "withdrawals": [
            {
                "id": str(w.public_id),
                "amount": w.amount,
                "currency": w.currency,
                "status": w.status,
                "created_at": w.created_at.isoformat(),
                "parts": [
                    {"amount": r.amount, "status": r.status, "method": r.attempt.method.code}
                    for r in w.parts.all()
                ],
            }
            for w in Withdrawal.objects.filter(user=user).prefetch_related("parts__attempt__method")
        ],
    }


@login_required
@require_POST
def claim_request(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Email a link that proves the address (checkout.claims, through the outbox)."""
    user = request.user
    rate = ratelimit.hit_each(("claim_email", user.pk))
    if rate:
        return too_many_requests(request, rate.retry_after)
    claims.order_claim_request(user=user, language=get_language() or "en")
    messages.success(
        request,
        _("We sent a link to %(email)s. Open it while signed in to add the orders.")
        % {"email": user.email},
    )
    return redirect("account")


@login_required
@require_http_methods(["GET", "POST"])
def claim_confirm(request: AuthenticatedHttpRequest, token: str) -> HttpResponse:
    data = claims.claim_token_read(token)
    if data is None:
        return render(request, "accounts/claim_orders.html", {"problem": "expired"}, status=400)
    user = request.user
    if data["u"] != user.pk or data["e"] != user.email.lower():
        # The link proves one account's email; it is no use to anyone else.
        return render(request, "accounts/claim_orders.html", {"problem": "other"}, status=403)
    if request.method == "POST":
        count = claims.orders_claim(user=user, email=data["e"])
        messages.success(
            request,
            ngettext(
                "%(count)d order is added to your account.",
                "%(count)d orders are added to your account.",
                count,
            )
            % {"count": count},
        )
        return redirect("account")
    context = {"count": claims.guest_orders(data["e"]).count(), "email": data["e"]}
    return render(request, "accounts/claim_orders.html", context)

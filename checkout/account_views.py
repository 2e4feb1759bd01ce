"""The customer's own page: profile, orders and wallet. It lives here, not in `accounts`, because
accounts depends on nothing else of ours while orders and wallets are checkout's and payments'."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.forms import ProfileForm
from payments.models import Wallet, WalletEntry

from .models import Order


@login_required
@require_http_methods(["GET", "POST"])
def account(request: HttpRequest) -> HttpResponse:
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
    context = {"form": form, "orders": orders, "wallets": wallets, "entries": entries}
    return render(request, "checkout/account.html", context, status=400 if form.errors else 200)

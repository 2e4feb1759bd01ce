"""Guest orders placed with the signed-in person's email, claimed after proving the email.

Orders are checkout's, so this lives here rather than in accounts (which depends on nothing of
ours). The proof is a signed link emailed to the account's address: following it while signed
in as that same account attaches the guest orders (no user, same email ignoring case) to it.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from accounts import ratelimit
from accounts.models import User
from accounts.responses import too_many_requests
from accounts.typing import AuthenticatedHttpRequest

from .models import Order

SALT = "checkout.order-claim"


def guest_orders(email: str):
    return Order.objects.filter(user__isnull=True, email__iexact=email)


def claim_token(user: User) -> str:
    return signing.dumps({"u": user.pk, "e": user.email.lower()}, salt=SALT)


def claim_token_read(token: str) -> dict | None:
    try:
        return signing.loads(token, salt=SALT, max_age=settings.ORDER_CLAIM_MAX_AGE_SECONDS)
    except signing.BadSignature:  # also SignatureExpired
        return None


@transaction.atomic
def orders_claim(*, user: User, email: str) -> int:
    """Attach the guest orders placed with `email` to `user`; returns how many. One UPDATE
    that only touches rows still without a user, so a claim never takes an order that
    belongs to someone."""
    return guest_orders(email).update(user=user)


@login_required
@require_POST
def claim_request(request: AuthenticatedHttpRequest) -> HttpResponse:
    user = request.user
    rate = ratelimit.hit_each(("claim_email", user.pk))
    if rate:
        return too_many_requests(request, rate.retry_after)
    link = settings.SITE_URL + reverse("account_claim_orders", args=[claim_token(user)])
    context = {"link": link, "count": guest_orders(user.email).count()}
    send_mail(
        render_to_string("accounts/emails/claim_orders_subject.txt", context).strip(),
        render_to_string("accounts/emails/claim_orders.txt", context),
        None,
        [user.email],
    )
    messages.success(
        request,
        _("We sent a link to %(email)s. Open it while signed in to add the orders.")
        % {"email": user.email},
    )
    return redirect("account")


@login_required
@require_http_methods(["GET", "POST"])
def claim_confirm(request: AuthenticatedHttpRequest, token: str) -> HttpResponse:
    data = claim_token_read(token)
    if data is None:
        return render(request, "accounts/claim_orders.html", {"problem": "expired"}, status=400)
    user = request.user
    if data["u"] != user.pk or data["e"] != user.email.lower():
        # The link proves one account's email; it is no use to anyone else.
        return render(request, "accounts/claim_orders.html", {"problem": "other"}, status=403)
    if request.method == "POST":
        count = orders_claim(user=user, email=data["e"])
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
    context = {"count": guest_orders(data["e"]).count(), "email": data["e"]}
    return render(request, "accounts/claim_orders.html", context)

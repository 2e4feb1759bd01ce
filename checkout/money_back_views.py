"""Where is my money: the customer's list of refunds and each refund's status page.

The steps, dates and words come from payments.arrival (derived from the refund's own state);
who may look is the order's rule (checkout.selectors.order_visible_to): its owner, staff, the
browser that placed it, or whoever holds the order's secret link. Anyone else gets a 404.
"""

from __future__ import annotations

import uuid

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from accounts.typing import AuthenticatedHttpRequest
from payments.arrival import money_back
from payments.models import Refund

from .selectors import refund_visible_to, refunds_of_user


@login_required
def money_back_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    now = timezone.now()
    rows = [
        money_back(refund, now=now, top_up=refund.attempt.order.is_wallet_top_up)
        for refund in refunds_of_user(request.user)[:100]
    ]
    return render(request, "checkout/money_back_list.html", {"rows": rows})


def money_back_detail(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    refund = (
        Refund.objects.select_related("attempt__order", "attempt__method")
        .filter(public_id=public_id)
        .first()
    )
    key = request.GET.get("key", "")
    if refund is None or not refund_visible_to(
        refund=refund, user=request.user, session=request.session, key=key
    ):
        raise Http404  # the same answer for a stranger as for a refund that does not exist
    order = refund.attempt.order
    row = money_back(refund, now=timezone.now(), top_up=order.is_wallet_top_up)
    context = {"row": row, "refund": refund, "order": order, "key": key}
    return render(request, "checkout/money_back_detail.html", context)

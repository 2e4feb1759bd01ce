"""Topping up the wallet: an order for an amount, paid with another method, credits the wallet."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from accounts.client_ip import client_ip
from payments import services as payment_services
from payments.failures import failure_for
from payments.models import PaymentAttempt, PaymentMethod
from payments.money import to_minor
from payments.selectors import methods_for_amount, wallet_balance

from . import services
from .forms import PaymentDetailsMixin

TOP_UP_TOKEN_KEY = "top_up_token"


class TopUpForm(PaymentDetailsMixin, forms.Form):
    amount = forms.DecimalField(
        label=_("Amount"),
        min_value=Decimal("1"),
        max_value=Decimal(services.MAX_TOP_UP) / 100,
        decimal_places=2,
        error_messages={
            "required": _("Enter how much to add."),
            "invalid": _("Enter an amount like 20 or 20.50."),
            "min_value": _("The smallest top-up is 1."),
            "max_value": _("The largest top-up is %(limit_value)s."),
        },
        widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "0.01"}),
    )
    method = forms.ChoiceField(
        label=_("Payment method"),
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose how you want to pay.")},
    )
    payment_method = forms.CharField(label=_("Card number"), required=False, max_length=100)
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=255)


def _methods(currency: str, user: Any) -> list[PaymentMethod]:
    rows = methods_for_amount(amount=100, currency=currency, user=user)
    return [r.method for r in rows if r.available and r.method.kind != PaymentMethod.Kind.WALLET]


@login_required
@require_http_methods(["GET", "POST"])
def wallet_top_up(request: HttpRequest) -> HttpResponse:
    currency = settings.SHOP_CURRENCY
    methods = _methods(currency, request.user)
    token = request.session.get(TOP_UP_TOKEN_KEY) or uuid.uuid4().hex
    request.session[TOP_UP_TOKEN_KEY] = token
    context: dict[str, Any] = {
        "balance": wallet_balance(user=request.user, currency=currency),
        "currency": currency,
    }
    if request.method == "GET":
        form = TopUpForm(initial={"idempotency_key": uuid.uuid4().hex}, methods=methods)
        return render(request, "checkout/wallet_top_up.html", {**context, "form": form})
    form = TopUpForm(request.POST, methods=methods)
    if not form.is_valid():
        return render(request, "checkout/wallet_top_up.html", {**context, "form": form}, status=400)
    data = form.cleaned_data
    order = services.wallet_top_up_order_create(
        user=request.user,
        amount=to_minor(data["amount"], currency),
        currency=currency,
        language=get_language() or "en",
        checkout_token=token,
    )
    services.remember_order(session=request.session, order=order)
    try:
        attempt = payment_services.attempt_pay(
            order=order,
            method=data["method_obj"],
            idempotency_key=data["idempotency_key"],
            payment_method=data["payment_method"],
            user=request.user,
            return_url=reverse("checkout:order_status", args=[order.number]),
            client_ip=client_ip(request),
        )
    except payment_services.PaymentInProgress:
        return redirect("checkout:order_status", order.number)
    except payment_services.PaymentError:
        request.session.pop(TOP_UP_TOKEN_KEY, None)
        return redirect("checkout:wallet_top_up")
    if attempt.status == PaymentAttempt.Status.FAILED:
        retry = TopUpForm(
            initial={
                "amount": data["amount"],
                "method": data["method_obj"].code,
                "idempotency_key": uuid.uuid4().hex,
            },
            methods=methods,
        )
        failure = failure_for(attempt.failure_code, attempt.decline_code)
        return render(
            request,
            "checkout/wallet_top_up.html",
            {**context, "form": retry, "failure": failure},
            status=402,
        )
    request.session.pop(TOP_UP_TOKEN_KEY, None)
    if attempt.status == PaymentAttempt.Status.REQUIRES_ACTION and attempt.action_url:
        return HttpResponseRedirect(attempt.action_url)
    return redirect("checkout:order_status", order.number)

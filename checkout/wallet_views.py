"""Topping up the wallet: an order for an amount, paid with another method, credits the wallet."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core import validators
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language, ngettext_lazy
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from accounts.client_ip import client_ip
from payments import services as payment_services
from payments.failures import failure_for
from payments.models import PaymentAttempt, PaymentMethod
from payments.money import exponent, to_major, to_minor
from payments.selectors import methods_for_amount, wallet_balance

from . import services
from .errors import Where, page_answer_for
from .forms import PaymentDetailsMixin

TOP_UP_TOKEN_KEY = "top_up_token"


class TopUpForm(PaymentDetailsMixin, forms.Form):
    amount = forms.DecimalField(
        label=_("Amount"),
        error_messages={
            "required": _("Enter how much to add."),
            "invalid": _("Enter an amount like 20 or 20.50."),
            "min_value": _("The smallest top-up is 1."),
            "max_value": _("The largest top-up is %(limit_value)s."),
        },
        widget=forms.NumberInput(attrs={"inputmode": "decimal"}),
    )
    method = forms.ChoiceField(
        label=_("Payment method"),
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose how you want to pay.")},
    )
    payment_method = forms.CharField(label=_("Card number"), required=False, max_length=100)
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=255)

    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The amount is typed in the currency's own unit, with no more decimals than it has:
        # "20.50" is not an amount of yen.
        digits = exponent(currency)
        field = self.fields["amount"]
        assert isinstance(field, forms.DecimalField)
        smallest, largest = Decimal(1), to_major(services.MAX_TOP_UP, currency)
        field.decimal_places = digits
        field.validators = [
            validators.MinValueValidator(smallest),
            validators.MaxValueValidator(largest),
            validators.DecimalValidator(None, digits),
        ]
        field.widget.attrs.update(
            min=str(smallest), max=str(largest), step=str(Decimal(1).scaleb(-digits))
        )
        if digits == 0:
            field.error_messages["invalid"] = _("Enter a whole amount like 2000.")
            field.error_messages["max_decimal_places"] = _(
                "Enter a whole amount: %(currency)s has no smaller unit."
            ) % {"currency": currency}
        else:
            field.error_messages["max_decimal_places"] = ngettext_lazy(
                "Enter an amount with at most %(max)s decimal place.",
                "Enter an amount with at most %(max)s decimal places.",
                "max",
            )


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
        form = TopUpForm(
            initial={"idempotency_key": uuid.uuid4().hex}, methods=methods, currency=currency
        )
        return render(request, "checkout/wallet_top_up.html", {**context, "form": form})
    form = TopUpForm(request.POST, methods=methods, currency=currency)
    if not form.is_valid():
        return render(request, "checkout/wallet_top_up.html", {**context, "form": form}, status=400)
    data = form.cleaned_data
    try:
        order = services.wallet_top_up_order_create(
            user=request.user,
            amount=to_minor(data["amount"], currency),
            currency=currency,
            language=get_language() or "en",
            checkout_token=token,
        )
    except payment_services.PaymentInProgress as exc:
        # This page's top-up is still being paid: its own status page says how it stands.
        return redirect("checkout:order_status", exc.attempt.order.number)
    # Another amount after a try starts its own order: this page now pays that one.
    request.session[TOP_UP_TOKEN_KEY] = order.checkout_token
    services.remember_order(session=request.session, order=order)
    amount = to_minor(data["amount"], currency)
    try:
        attempt = payment_services.attempt_pay(
            order=order,
            method=data["method_obj"],
            idempotency_key=data["idempotency_key"],
            payment_method=data["payment_method"],
            user=request.user,
            return_url=reverse("checkout:order_status", args=[order.number]),
            client_ip=client_ip(request),
            # Charged exactly what this form asked for, or nothing.
            expected_amount=amount,
        )
    except payment_services.PaymentInProgress:
        return redirect("checkout:order_status", order.number)
    except payment_services.PaymentError as exc:
        answer = page_answer_for(exc)
        if answer.where == Where.STATUS:
            return redirect("checkout:order_status", order.number)
        if answer.where == Where.RELOAD:
            # This top-up's order or key cannot be used again: the next press starts afresh.
            request.session.pop(TOP_UP_TOKEN_KEY, None)
        # Nothing was charged. Say why (it used to be a silent redirect), keep what was typed,
        # and give the next press its own key.
        form.data = {**request.POST.dict(), "idempotency_key": uuid.uuid4().hex}
        field = "amount" if isinstance(exc, payment_services.AmountChanged) else None
        form.add_error(field, answer.message)
        context["balance"] = wallet_balance(user=request.user, currency=currency)
        return render(
            request, "checkout/wallet_top_up.html", {**context, "form": form}, status=answer.status
        )
    if attempt.status == PaymentAttempt.Status.FAILED:
        retry = TopUpForm(
            initial={
                "amount": data["amount"],
                "method": data["method_obj"].code,
                "idempotency_key": uuid.uuid4().hex,
            },
            methods=methods,
            currency=currency,
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

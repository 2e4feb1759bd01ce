"""Cashing out the wallet: amount, then where it goes, then confirm; and the withdrawal's page.

No JavaScript needed: each step is a POST that renders the next. The confirm form carries the
amount that was reviewed and a hidden idempotency key, so a double press withdraws once.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core import validators
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from payments import services as payment_services
from payments.arrival import arrival_words
from payments.models import Withdrawal
from payments.money import exponent, format_money, to_major, to_minor
from payments.selectors import withdrawal_plan

from .errors import page_answer_for

TEMPLATE = "checkout/wallet_withdraw.html"


class WithdrawAmountForm(forms.Form):
    amount = forms.DecimalField(
        label=_("Amount to withdraw"),
        max_digits=15,
        error_messages={
            "required": _("Enter how much to withdraw."),
            "invalid": _("Enter an amount like 20 or 20.50."),
            "min_value": _("Enter an amount greater than zero."),
            "max_digits": _("Enter an amount like 20 or 20.50."),
        },
        widget=forms.NumberInput(attrs={"inputmode": "decimal"}),
    )

    def __init__(self, *args: Any, currency: str, withdrawable: int | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency
        self.withdrawable = withdrawable
        digits = exponent(currency)
        field = self.fields["amount"]
        assert isinstance(field, forms.DecimalField)
        smallest = Decimal(1).scaleb(-digits)
        field.decimal_places = digits
        field.validators = [
            validators.MinValueValidator(smallest),
            validators.DecimalValidator(15, digits),
        ]
        field.error_messages["max_decimal_places"] = _(
            "Enter an amount with no more decimals than %(currency)s has."
        ) % {"currency": currency}
        field.widget.attrs.update(min=str(smallest), step=str(smallest))

    def clean_amount(self) -> int:
        minor = to_minor(self.cleaned_data["amount"], self.currency)
        if self.withdrawable is not None and minor > self.withdrawable:
            raise forms.ValidationError(
                _("You can withdraw at most %(amount)s right now.")
                % {"amount": format_money(self.withdrawable, self.currency)}
            )
        return minor


class WithdrawConfirmForm(WithdrawAmountForm):
    """The reviewed amount and the press's key. The service checks the amount under the wallet
    lock (and finds the first withdrawal when the same press arrives again)."""

    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=255)


def _context(request: HttpRequest, currency: str, amount: int = 0) -> dict[str, Any]:
    plan = withdrawal_plan(user=request.user, currency=currency, amount=amount)
    return {"plan": plan, "currency": currency, "step": "amount"}


@login_required
@require_http_methods(["GET", "POST"])
def wallet_withdraw(request: HttpRequest) -> HttpResponse:
    currency = settings.SHOP_CURRENCY
    context = _context(request, currency)
    withdrawable = context["plan"].withdrawable
    step = request.POST.get("step", "")
    if request.method == "GET" or step not in {"review", "confirm"}:
        initial = {"amount": to_major(withdrawable, currency)} if withdrawable else {}
        blank = WithdrawAmountForm(initial=initial, currency=currency, withdrawable=withdrawable)
        return render(request, TEMPLATE, {**context, "form": blank})
    if step == "confirm":
        form: WithdrawAmountForm = WithdrawConfirmForm(
            request.POST, currency=currency, withdrawable=None
        )
    else:
        form = WithdrawAmountForm(request.POST, currency=currency, withdrawable=withdrawable)
    if not form.is_valid():
        # What was typed stays in the field, with what is wrong next to it.
        plain = WithdrawAmountForm(request.POST, currency=currency, withdrawable=withdrawable)
        if plain.is_valid() or "idempotency_key" in form.errors:
            # The amount is fine but the confirm press came without its key (an old or
            # hand-made form): nothing was withdrawn; review and confirm again.
            plain.add_error(None, _("Nothing was withdrawn. Review the amount and confirm again."))
        return render(request, TEMPLATE, {**context, "form": plain}, status=400)
    amount = form.cleaned_data["amount"]
    if step == "review":
        confirm = WithdrawConfirmForm(
            initial={"amount": request.POST["amount"], "idempotency_key": uuid.uuid4().hex},
            currency=currency,
            withdrawable=withdrawable,
        )
        review = _context(request, currency, amount)
        return render(request, TEMPLATE, {**review, "step": "review", "form": confirm})
    try:
        withdrawal, _created = payment_services.withdrawal_request(
            user=request.user,
            currency=currency,
            amount=amount,
            idempotency_key=form.cleaned_data["idempotency_key"],
        )
    except payment_services.PaymentError as exc:
        answer = page_answer_for(exc)
        plain = WithdrawAmountForm(request.POST, currency=currency, withdrawable=withdrawable)
        plain.is_valid()
        plain.add_error("amount", answer.message)
        context = _context(request, currency)
        return render(request, TEMPLATE, {**context, "form": plain}, status=answer.status)
    return redirect("checkout:wallet_withdrawal", withdrawal.public_id)


@login_required
def wallet_withdrawal(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """The withdrawal's status and each part's; only its owner sees it (others get a 404)."""
    withdrawal = get_object_or_404(Withdrawal, public_id=public_id, user=request.user)
    rows = withdrawal.parts.select_related("attempt__method").order_by("created_at", "pk")
    parts = [
        {
            "refund": part,
            "method": part.attempt.method,
            "arrival": arrival_words(part.attempt.method.kind),
        }
        for part in rows
    ]
    return render(
        request, "checkout/wallet_withdrawal.html", {"withdrawal": withdrawal, "parts": parts}
    )

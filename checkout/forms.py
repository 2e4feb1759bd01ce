from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from payments.gateways import InvalidPaymentDetails, payment_method_token
from payments.models import PaymentMethod
from payments.money import to_minor

CARD_NUMBER_REQUIRED = _("Enter your card number.")
WALLET_PART_UNREADABLE = _("Tick the wallet box again, or leave it empty, and press Pay.")


class PaymentDetailsMixin:
    """A method radio list plus what the customer typed for it, turned into a token we may keep.

    The form declares `method` and `payment_method`; the view passes the methods on offer.
    """

    fields: dict[str, forms.Field]
    methods: dict[str, PaymentMethod]

    def __init__(self, *args: Any, methods: list[PaymentMethod], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.methods = {m.code: m for m in methods}
        # The form using this mixin declares `method` as a ChoiceField.
        method_field = cast(forms.ChoiceField, self.fields["method"])
        method_field.choices = [(m.code, m.label) for m in methods]
        # The card number is required when a card is chosen and only then: the label says
        # "(optional)" exactly when it is. Decided here, from the method posted (or the one the
        # page checks first), so it holds without JavaScript; checkout.js follows the radios.
        # A card through Adyen needs nothing here: it is typed on Adyen's hosted page.
        card_codes = [m.code for m in methods if m.kind == "card" and m.provider != "adyen"]
        field = self.fields["payment_method"]
        field.required = self.chosen_method_code() in card_codes
        field.error_messages["required"] = CARD_NUMBER_REQUIRED
        field.widget.attrs.update(
            {
                "data-card-methods": " ".join(card_codes),
                "data-msg-card": str(CARD_NUMBER_REQUIRED),
                "data-optional-text": str(_("(optional)")),
            }
        )

    def chosen_method_code(self) -> str:
        """The method this form is for: the one posted, else the one the page checks (the
        initial one, else the first on offer)."""
        if self.is_bound:  # type: ignore[attr-defined]
            return str(self.data.get("method", ""))  # type: ignore[attr-defined]
        initial = self.initial.get("method")  # type: ignore[attr-defined]
        return str(initial or next(iter(self.methods), ""))

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean()  # type: ignore[misc]
        method = self.methods.get(data.get("method", ""))
        if method is None:
            return data
        data["method_obj"] = method
        if self.has_error("payment_method"):  # type: ignore[attr-defined]
            return data  # required and empty: said once, as "Enter your card number."
        try:
            # A typed test card number becomes its test id here and goes no further.
            data["payment_method"] = payment_method_token(
                provider=method.provider, kind=method.kind, value=data.get("payment_method", "")
            )
        except InvalidPaymentDetails as exc:
            self.add_error("payment_method", str(exc))  # type: ignore[attr-defined]
        return data


class CheckoutForm(PaymentDetailsMixin, forms.Form):
    email = forms.EmailField(
        label=_("Email address"),
        help_text=_("We send the receipt here."),
        error_messages={
            "required": _("Enter your email address so we can send the receipt."),
            "invalid": _("Enter an email address like name@example.com."),
        },
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    full_name = forms.CharField(
        label=_("Full name"),
        max_length=150,
        error_messages={"required": _("Enter your name as it appears on your card or account.")},
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    address_line1 = forms.CharField(
        label=_("Billing address"),
        max_length=200,
        error_messages={"required": _("Enter your billing address.")},
        widget=forms.TextInput(attrs={"autocomplete": "address-line1"}),
    )
    city = forms.CharField(
        label=_("City"),
        max_length=100,
        error_messages={"required": _("Enter your city.")},
        widget=forms.TextInput(attrs={"autocomplete": "address-level2"}),
    )
    postal_code = forms.CharField(
        label=_("Postal code"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "postal-code"}),
    )
    country = forms.CharField(
        label=_("Country or region"),
        max_length=100,
        error_messages={"required": _("Enter your country or region.")},
        widget=forms.TextInput(attrs={"autocomplete": "country-name"}),
    )
    method = forms.ChoiceField(
        label=_("Payment method"),
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Choose how you want to pay."),
            "invalid_choice": _("That payment method cannot be used. Choose another one."),
        },
    )
    payment_method = forms.CharField(
        label=_("Card number"),
        required=False,
        max_length=100,
        help_text=_(
            "Demo shop: enter a test card number such as 4242 4242 4242 4242, "
            "or a test id such as pm_card_visa."
        ),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    # "Use my wallet balance": the checkbox's value is the wallet part the page showed, so what
    # is held is what the customer saw (the page renders it; absent means no wallet part).
    wallet_amount = forms.IntegerField(
        required=False,
        min_value=1,
        label=_("Use my wallet balance"),
        error_messages={
            "invalid": WALLET_PART_UNREADABLE,
            "min_value": WALLET_PART_UNREADABLE,
        },
    )
    checkout_token = forms.CharField(widget=forms.HiddenInput, max_length=64)
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=255)

    def billing(self) -> dict[str, str]:
        keys = ("full_name", "address_line1", "city", "postal_code", "country")
        return {key: self.cleaned_data.get(key, "") for key in keys}


class AddToCartForm(forms.Form):
    sku = forms.SlugField(max_length=40)
    quantity = forms.IntegerField(min_value=0, max_value=99, required=False)


class RefundRequestForm(forms.Form):
    """Asking for money back for a paid order: why, and optionally how much (all of what is left
    when empty), typed in the currency's own unit."""

    reason = forms.CharField(
        label=_("Why do you want a refund?"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("Tell us why, so we can answer quickly.")},
    )
    amount = forms.DecimalField(
        label=_("Amount to refund"),
        help_text=_("Leave empty to ask for everything not refunded yet."),
        required=False,
        min_value=Decimal("0.01"),
        max_digits=12,
        decimal_places=3,
        error_messages={"invalid": _("Enter an amount like 20 or 20.50.")},
    )

    def __init__(self, *args: Any, currency: str = "USD", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency

    def clean_amount(self) -> int | None:
        value = self.cleaned_data.get("amount")
        if value is None:
            return None
        try:
            return to_minor(value, self.currency)
        except ValueError:
            raise forms.ValidationError(_("Enter an amount like 20 or 20.50.")) from None

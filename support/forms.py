from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Ticket

MESSAGE_MAX = 5000


class TicketForm(forms.Form):
    name = forms.CharField(
        label=_("Your name"),
        max_length=150,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    email = forms.EmailField(
        label=_("Email address"),
        help_text=_("We answer by email, with a link back to this conversation."),
        error_messages={
            "required": _("Enter your email address so we can answer you."),
            "invalid": _("Enter an email address like name@example.com."),
        },
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    category = forms.ChoiceField(label=_("What is it about?"), choices=Ticket.Category.choices)
    subject = forms.CharField(
        label=_("Subject"),
        max_length=200,
        error_messages={"required": _("Enter a short subject, for example “Card declined”.")},
    )
    message = forms.CharField(
        label=_("Your message"),
        max_length=MESSAGE_MAX,
        widget=forms.Textarea(attrs={"rows": 6}),
        error_messages={
            "required": _("Tell us what happened or what you need."),
            "max_length": _("Please keep the message under %(limit_value)d characters."),
        },
    )
    # What the failure screen already knows travels with the form, checked again on submit.
    order = forms.CharField(required=False, max_length=20, widget=forms.HiddenInput)
    attempt = forms.CharField(required=False, max_length=36, widget=forms.HiddenInput)
    code = forms.CharField(required=False, max_length=60, widget=forms.HiddenInput)
    appeal = forms.BooleanField(required=False, widget=forms.HiddenInput)


class ReplyForm(forms.Form):
    message = forms.CharField(
        label=_("Add a reply"),
        max_length=MESSAGE_MAX,
        widget=forms.Textarea(attrs={"rows": 5}),
        error_messages={
            "required": _("Write your reply first."),
            "max_length": _("Please keep the message under %(limit_value)d characters."),
        },
    )


class RatingForm(forms.Form):
    rating = forms.TypedChoiceField(
        label=_("How satisfied are you with the help you got?"),
        coerce=int,
        choices=[
            (5, _("Very satisfied")),
            (4, _("Satisfied")),
            (3, _("Neither")),
            (2, _("Dissatisfied")),
            (1, _("Very dissatisfied")),
        ],
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose one answer.")},
    )
    comment = forms.CharField(
        label=_("Anything we could do better?"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

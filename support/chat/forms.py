"""Forms of the customer's chat pages. Each works without JavaScript."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .services import MAX_MESSAGE_LENGTH

MESSAGE_ERRORS = {
    "required": _("Write a message first."),
    "max_length": _("Messages can be at most %(limit_value)d characters."),
}


class ChatStartForm(forms.Form):
    name = forms.CharField(
        label=_("Your name"),
        max_length=150,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    email = forms.EmailField(
        label=_("Email address"),
        required=False,
        help_text=_("If we get cut off, we answer here by email."),
        error_messages={"invalid": _("Enter an email address like name@example.com.")},
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    message = forms.CharField(
        label=_("How can we help?"),
        max_length=MAX_MESSAGE_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages=MESSAGE_ERRORS,
    )
    # What the failure screen knows travels with the form and is checked again on submit.
    order = forms.CharField(required=False, max_length=20, widget=forms.HiddenInput)
    attempt = forms.CharField(required=False, max_length=36, widget=forms.HiddenInput)
    code = forms.CharField(required=False, max_length=60, widget=forms.HiddenInput)

    def __init__(self, *args: Any, email_required: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A signed-in customer is answered at their account's address; a guest must give one.
        self.fields["email"].required = email_required
        self.fields["email"].error_messages["required"] = _(
            "Enter your email address so we can reply if we get cut off."
        )


class ChatMessageForm(forms.Form):
    message = forms.CharField(
        label=_("Your message"),
        max_length=MAX_MESSAGE_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages=MESSAGE_ERRORS,
    )
    # Chosen when the form is shown: pressing Send twice, or a resend, is stored once.
    client_id = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)


class ChatLeaveForm(forms.Form):
    email = forms.EmailField(
        label=_("Email address"),
        help_text=_("We reply to this address; your chat so far comes with the message."),
        error_messages={
            "required": _("Enter your email address so we can reply."),
            "invalid": _("Enter an email address like name@example.com."),
        },
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    message = forms.CharField(
        label=_("Anything to add?"),
        max_length=MAX_MESSAGE_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    # Shown on the chat page beside the chat's own ChatMessageForm, whose box is id_message:
    # ids of their own, or "Anything to add?" would label the chat's box instead of this one.
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "id_leave_%s")
        super().__init__(*args, **kwargs)

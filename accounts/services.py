"""Writes for accounts: registration and what a password reset must also undo."""

from __future__ import annotations

from axes.utils import reset as axes_reset
from django.db import transaction

from .models import User


@transaction.atomic
def user_register(*, email: str, password: str, full_name: str = "") -> User:
    """A new customer account; the form has already checked the email and the password."""
    return User.objects.create_user(
        email=email.strip().lower(), password=password, full_name=full_name.strip()
    )


def user_password_was_reset(*, user: User) -> None:
    """A successful reset proves who they are: lift any sign-in lockout on the account.

    Other sessions end by themselves: Django ties each session to the password hash.
    """
    axes_reset(username=user.email)

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create(self, email: str, password: str | None, **extra: Any) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create(email, password, **extra)

    def get_by_natural_key(self, username: str | None) -> User:
        # Sign-in is case-insensitive on the email address.
        return self.get(email__iexact=username)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in with an email address."""

    email = models.EmailField(_("email address"), unique=True)
    full_name = models.CharField(_("full name"), max_length=150, blank=True)
    # Only ever a number proven by an SMS code (E.164, "+8613800138000"); see phone_verified_at.
    phone = models.CharField(_("phone number"), max_length=32, blank=True)
    phone_verified_at = models.DateTimeField(_("phone verified"), null=True, blank=True)
    language = models.CharField(_("preferred language"), max_length=10, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    is_staff = models.BooleanField(_("staff status"), default=False)
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            # Two accounts must never differ only by letter case of their email.
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
            # A password reset by SMS must find exactly one account for a verified number.
            models.UniqueConstraint(
                fields=["phone"],
                condition=models.Q(phone_verified_at__isnull=False),
                name="accounts_user_verified_phone_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


class LockoutClearance(models.Model):
    """Append-only record of a sign-in lockout lifted by a person (staff in admin, support from a
    ticket) or by the account holder proving who they are (a password reset)."""

    email = models.CharField(_("email address"), max_length=255)
    actor = models.ForeignKey(
        "accounts.User",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("cleared by"),
    )
    # Kept as text too: the actor's row may be anonymised or deleted later.
    actor_label = models.CharField(_("cleared by (as recorded)"), max_length=255, blank=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    attempts_cleared = models.PositiveIntegerField(_("failure records cleared"), default=0)
    was_locked = models.BooleanField(_("was locked"), default=False)
    created_at = models.DateTimeField(_("cleared at"), default=timezone.now)

    class Meta:
        verbose_name = _("lockout clearance")
        verbose_name_plural = _("lockout clearances")
        ordering = ["-created_at"]
        # Support looks up "who unlocked this customer, and when" by email.
        indexes = [models.Index(fields=["email", "-created_at"], name="accounts_clear_email_idx")]

    def __str__(self) -> str:
        return f"{self.email} @ {self.created_at:%Y-%m-%d %H:%M}"


class PhoneCode(models.Model):
    """A 6-digit code sent by SMS, stored only as a hash. Single use, short-lived, and dead
    after SMS_CODE_MAX_GUESSES wrong guesses.

    A reset requested for a number that no account has verified still gets a row (with no
    user, and a code nobody is sent): both cases then run the same queries and the same
    hashing, so neither the answer nor its timing says whether the number is known."""

    class Purpose(models.TextChoices):
        VERIFY = "verify", _("verify a phone number")
        RESET = "reset", _("reset the password")

    user = models.ForeignKey(
        "accounts.User",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="phone_codes",
    )
    phone = models.CharField(_("phone number"), max_length=32)
    purpose = models.CharField(_("purpose"), max_length=10, choices=Purpose.choices)
    code_hash = models.CharField(max_length=128)
    guesses = models.PositiveSmallIntegerField(_("wrong guesses"), default=0)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires"))
    # Set when the code was used, or replaced by a newer one: either way it no longer works.
    used_at = models.DateTimeField(_("used"), null=True, blank=True)

    class Meta:
        verbose_name = _("SMS code")
        verbose_name_plural = _("SMS codes")
        # Issuing a code retires the live ones for the same number and purpose.
        indexes = [
            models.Index(fields=["phone", "purpose", "used_at"], name="accounts_code_live_idx"),
            models.Index(fields=["created_at"], name="accounts_code_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} {self.phone} ({self.created_at:%Y-%m-%d %H:%M})"


class Address(models.Model):
    """A saved delivery/billing address. Deleting one only marks it (deleted_at): it shows
    under "Recently deleted" for ADDRESS_RESTORE_DAYS and can be restored in one click, then a
    periodic task removes it for good."""

    user = models.ForeignKey(
        "accounts.User", on_delete=models.CASCADE, related_name="addresses", verbose_name=_("user")
    )
    label = models.CharField(_("label"), max_length=50, blank=True)
    full_name = models.CharField(_("full name"), max_length=150)
    line1 = models.CharField(_("address"), max_length=200)
    line2 = models.CharField(_("address line 2"), max_length=200, blank=True)
    city = models.CharField(_("city"), max_length=100)
    postcode = models.CharField(_("postal code"), max_length=20, blank=True)
    country = models.CharField(_("country or region"), max_length=100)
    phone = models.CharField(_("phone number"), max_length=32, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    deleted_at = models.DateTimeField(_("deleted"), null=True, blank=True)

    class Meta:
        verbose_name = _("address")
        verbose_name_plural = _("addresses")
        ordering = ["-created_at"]
        indexes = [
            # The address book reads one user's live or recently deleted rows.
            models.Index(fields=["user", "deleted_at"], name="accounts_address_user_idx"),
            # The purge task looks for rows deleted before a cut-off.
            models.Index(fields=["deleted_at"], name="accounts_address_deleted_idx"),
        ]

    def __str__(self) -> str:
        return self.label or f"{self.full_name}, {self.line1}, {self.city}"

"""Writes for accounts: registration, lockouts, and what a password reset must also undo."""

from __future__ import annotations

import enum
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypedDict

from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from outbox.services import outbox_enqueue

from . import ratelimit, sms
from .backends import account_failure_key
from .models import Address, LockoutClearance, PhoneCode, User
from .signals import account_deleted


class LockoutState(TypedDict):
    email: str
    locked: bool
    locked_until: datetime | None
    failures: int
    clients: int
    last_failure_at: datetime


@transaction.atomic
def user_register(*, email: str, password: str, full_name: str = "") -> User:
    """A new customer account; the form has already checked the email and the password."""
    return User.objects.create_user(
        email=email.strip().lower(), password=password, full_name=full_name.strip()
    )


def _recent_attempts(email: str) -> list[AccessAttempt]:
    # django-axes stores the username as typed, so "Alice@Example.com" and "alice@example.com"
    # are separate rows of one account: match ignoring case.
    attempts = AccessAttempt.objects.filter(username__iexact=email.strip())
    cool_off = get_cool_off()
    if cool_off is not None:
        attempts = attempts.filter(attempt_time__gte=timezone.now() - cool_off)
    return list(attempts)


def lockout_state(email: str) -> LockoutState | None:
    """Where sign-in stands for this email: None when there are no recent failures, else
    whether any client is locked, until when, and how many failures were counted.

    Locks are per account *and* client IP (AXES_LOCKOUT_PARAMETERS), so one account may be
    locked from one place and open from another; `locked` is true if any client is locked, and
    `locked_until` is the latest of those unlock times. Support reads this on a ticket."""
    attempts = _recent_attempts(email)
    if not attempts:
        return None
    limit = settings.AXES_FAILURE_LIMIT
    cool_off = get_cool_off()
    per_client: dict[str | None, list[AccessAttempt]] = {}
    for attempt in attempts:
        per_client.setdefault(attempt.ip_address, []).append(attempt)
    unlock_times: list[datetime] = []
    locked = False
    for rows in per_client.values():
        if sum(r.failures_since_start for r in rows) >= limit:
            locked = True
            if cool_off is not None:
                unlock_times.append(max(r.attempt_time for r in rows) + cool_off)
    return {
        "email": email.strip().lower(),
        "locked": locked,
        "locked_until": max(unlock_times) if unlock_times else None,
        "failures": sum(a.failures_since_start for a in attempts),
        "clients": len(per_client),
        "last_failure_at": max(a.attempt_time for a in attempts),
    }


@transaction.atomic
def lockout_clear(email: str, actor: User | None, *, reason: str = "") -> LockoutClearance:
    """Lift every sign-in lockout on this email (from every client) and record who did it.

    Always writes a LockoutClearance row, even when nothing was locked: the log answers "did
    someone unlock this account, and when" either way. `actor` is None when the account holder
    lifted it themselves (a password reset)."""
    state = lockout_state(email)
    rows = AccessAttempt.objects.select_for_update().filter(username__iexact=email.strip())
    failures = sum(rows.values_list("failures_since_start", flat=True))
    rows.delete()
    # The per-account hourly cap (accounts.backends) is lifted with it.
    ratelimit.reset(account_failure_key(email))
    return LockoutClearance.objects.create(
        email=email.strip().lower(),
        actor=actor,
        actor_label=actor.email if actor is not None else "",
        reason=reason[:200],
        attempts_cleared=failures,
        was_locked=bool(state and state["locked"]),
    )


def user_password_was_reset(*, user: User) -> None:
    """A successful reset proves who they are: lift any sign-in lockout on the account.

    Other sessions end by themselves: Django ties each session to the password hash."""
    ratelimit.reset(account_failure_key(user.email))
    if AccessAttempt.objects.filter(username__iexact=user.email).exists():
        lockout_clear(user.email, None, reason="password reset")


# --- Phone numbers and SMS codes -------------------------------------------------------------

PHONE_RE = re.compile(r"^\+[1-9]\d{6,14}$")


class CodeCheck(enum.Enum):
    OK = "ok"
    WRONG = "wrong"
    # Expired, already used, or replaced by a newer code.
    EXPIRED = "expired"
    # The last allowed guess was wrong: this code is dead.
    USED_UP = "used_up"


@dataclass(frozen=True)
class CodeCheckResult:
    outcome: CodeCheck
    code: PhoneCode | None
    guesses_left: int = 0


def normalize_phone(raw: str) -> str | None:
    """E.164 ("+8613800138000") from what people type ("+86 138-0013-8000", "0086 ..."), or
    None when it is not an international number."""
    cleaned = re.sub(r"[\s\-().]", "", raw or "")
    if cleaned.startswith("00"):
        cleaned = "+" + cleaned[2:]
    return cleaned if PHONE_RE.match(cleaned) else None


def _new_code() -> str:
    return f"{secrets.randbelow(10**6):06d}"


@transaction.atomic
def phone_code_issue(
    *, user: User | None, phone: str, purpose: PhoneCode.Purpose
) -> tuple[PhoneCode, str]:
    """A fresh code for this number and purpose; earlier live ones stop working. Returns the
    row and the code in clear, which exists only until it is sent."""
    now = timezone.now()
    PhoneCode.objects.filter(phone=phone, purpose=purpose, user=user, used_at__isnull=True).update(
        used_at=now
    )
    code = _new_code()
    row = PhoneCode.objects.create(
        user=user,
        phone=phone,
        purpose=purpose,
        code_hash=make_password(code),
        created_at=now,
        expires_at=now + timedelta(minutes=settings.SMS_CODE_MINUTES),
    )
    return row, code


@transaction.atomic
def phone_code_send(*, code: PhoneCode, clear_code: str) -> None:
    """Queue the SMS, in the current language. The text (with the code) waits in the outbox
    row only until it is sent (or given up), then the row's payload is emptied: afterwards the
    database has only the hash."""
    minutes = settings.SMS_CODE_MINUTES
    body = gettext(
        "Your Checkout code is %(code)s. It works for %(minutes)d minutes. "
        "Never share it: we will never ask you for it."
    ) % {"code": clear_code, "minutes": minutes}
    outbox_enqueue(
        kind="accounts.sms_code",
        payload={"code_id": code.pk, "body": body},
        key=f"sms_code:{code.pk}",
        sensitive=True,
    )


def phone_code_deliver(*, code_id: int, body: str) -> None:
    """Send one code's SMS, unless it belongs to no account (see PhoneCode)."""
    code = PhoneCode.objects.filter(pk=code_id, user__isnull=False).first()
    if code is not None:
        sms.send_sms(code.phone, body)


# A real hash, so checking a guess against "no live code" costs the same as a real check.
_DUMMY_HASH = make_password("000000")


@transaction.atomic
def phone_code_check(
    *, code_id: int | None, purpose: PhoneCode.Purpose, guess: str
) -> CodeCheckResult:
    """Check one guess. Counts wrong guesses under a row lock (two parallel guesses cannot both
    use the last try); a right guess uses the code up."""
    now = timezone.now()
    limit = settings.SMS_CODE_MAX_GUESSES
    row = (
        PhoneCode.objects.select_for_update().filter(pk=code_id, purpose=purpose).first()
        if code_id
        else None
    )
    live = row is not None and row.used_at is None and row.expires_at > now
    matches = check_password(guess.strip(), row.code_hash if live and row else _DUMMY_HASH)
    if row is None or not live:
        return CodeCheckResult(CodeCheck.EXPIRED, row)
    if row.guesses >= limit:
        return CodeCheckResult(CodeCheck.USED_UP, row)
    # A row without an account can never be right: nobody was sent its code.
    if matches and row.user_id is not None:
        row.used_at = now
        row.save(update_fields=["used_at"])
        return CodeCheckResult(CodeCheck.OK, row)
    row.guesses += 1
    row.save(update_fields=["guesses"])
    if row.guesses >= limit:
        return CodeCheckResult(CodeCheck.USED_UP, row)
    return CodeCheckResult(CodeCheck.WRONG, row, guesses_left=limit - row.guesses)


def phone_code_purge_expired() -> int:
    """Codes dead for a day are of no use to anyone."""
    cutoff = timezone.now() - timedelta(days=1)
    count, _ = PhoneCode.objects.filter(expires_at__lt=cutoff).delete()
    return count


@transaction.atomic
def phone_verify_start(*, user: User, phone: str) -> tuple[PhoneCode, str]:
    return phone_code_issue(user=user, phone=phone, purpose=PhoneCode.Purpose.VERIFY)


@transaction.atomic
def phone_verify_confirm(*, user: User, code: PhoneCode) -> User:
    """The code was right: the number is theirs. Numbers get recycled by carriers, so if
    another account had verified it, the proof is newer here and that account loses it."""
    now = timezone.now()
    User.objects.filter(phone=code.phone, phone_verified_at__isnull=False).exclude(
        pk=user.pk
    ).update(phone="", phone_verified_at=None)
    user.phone = code.phone
    user.phone_verified_at = now
    user.save(update_fields=["phone", "phone_verified_at"])
    return user


@transaction.atomic
def phone_remove(*, user: User) -> User:
    user.phone = ""
    user.phone_verified_at = None
    user.save(update_fields=["phone", "phone_verified_at"])
    return user


def sms_reset_start(*, phone: str) -> tuple[PhoneCode, str]:
    """Start a reset by SMS. Only a number verified beforehand (ASVS 6.6.1) on an active
    account gets a real code; any other number gets a row nobody is sent (see PhoneCode)."""
    user = User.objects.filter(phone=phone, phone_verified_at__isnull=False, is_active=True).first()
    return phone_code_issue(user=user, phone=phone, purpose=PhoneCode.Purpose.RESET)


@transaction.atomic
def sms_reset_finish(*, user: User, password: str) -> User:
    """Set the new password. Other sessions end (Django ties sessions to the password hash)
    and any sign-in lockout is lifted, as after a reset by email."""
    user.set_password(password)
    user.save(update_fields=["password"])
    user_password_was_reset(user=user)
    return user


# --- Addresses -------------------------------------------------------------------------------

ADDRESS_FIELDS = (
    "label",
    "full_name",
    "line1",
    "line2",
    "city",
    "postcode",
    "country",
    "phone",
)


def address_restore_cutoff() -> datetime:
    return timezone.now() - timedelta(days=settings.ADDRESS_RESTORE_DAYS)


@transaction.atomic
def address_create(*, user: User, data: dict[str, str]) -> Address:
    return Address.objects.create(user=user, **{k: data.get(k, "") for k in ADDRESS_FIELDS})


@transaction.atomic
def address_update(*, address: Address, data: dict[str, str]) -> Address:
    for field in ADDRESS_FIELDS:
        setattr(address, field, data.get(field, ""))
    address.save(update_fields=[*ADDRESS_FIELDS, "updated_at"])
    return address


@transaction.atomic
def address_delete(*, address: Address) -> Address:
    """Soft delete: restorable for ADDRESS_RESTORE_DAYS."""
    if address.deleted_at is None:
        address.deleted_at = timezone.now()
        address.save(update_fields=["deleted_at", "updated_at"])
    return address


class AddressGone(Exception):
    """Deleted too long ago to restore (or already purged)."""


@transaction.atomic
def address_restore(*, address: Address) -> Address:
    if address.deleted_at is not None:
        if address.deleted_at < address_restore_cutoff():
            raise AddressGone(address.pk)
        address.deleted_at = None
        address.save(update_fields=["deleted_at", "updated_at"])
    return address


def address_purge_expired() -> int:
    """Remove for good the addresses deleted more than ADDRESS_RESTORE_DAYS ago."""
    count, _ = Address.objects.filter(deleted_at__lt=address_restore_cutoff()).delete()
    return count


# --- Account deletion ------------------------------------------------------------------------


@transaction.atomic
def user_delete_account(*, user: User) -> User:
    """Anonymise the account at the person's request (ASVS 8.3.2): no name, email, phone,
    password or addresses remain on our side of accounts. The row itself stays, inactive,
    because orders, payment attempts and wallet entries point at it and are financial records
    we must keep. Every session ends (the password hash changes, and the row is inactive)."""
    from axes.models import AccessFailureLog, AccessLog

    old_email = user.email
    placeholder = f"deleted-{user.pk}@invalid"
    Address.objects.filter(user=user).delete()
    PhoneCode.objects.filter(user=user).delete()
    for model in (AccessAttempt, AccessLog, AccessFailureLog):
        model.objects.filter(username__iexact=old_email).delete()
    LockoutClearance.objects.filter(email__iexact=old_email).update(email=placeholder)
    ratelimit.reset(account_failure_key(old_email))
    user.email = placeholder
    user.full_name = ""
    user.phone = ""
    user.phone_verified_at = None
    user.language = ""
    user.is_active = False
    user.is_staff = False
    user.is_superuser = False
    user.set_unusable_password()
    user.save()
    user.groups.clear()
    user.user_permissions.clear()
    account_deleted.send(sender=User, user=user, old_email=old_email)
    return user

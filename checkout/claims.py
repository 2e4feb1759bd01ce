"""Claiming guest orders: orders placed with the signed-in person's email before they had an
account, attached to it after they prove the email.

Orders are checkout's, so this lives here rather than in accounts (which depends on nothing of
ours). The proof is a signed link emailed to the account's address, through the outbox: a dead
broker or mail server delays the email, never loses it or fails the request. Following the link
while signed in as that same account attaches the guest orders (no user, same email ignoring
case) to it. The pages are in checkout.account_views.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from accounts.models import User
from outbox.models import Message
from outbox.services import outbox_enqueue

from .models import Order

SALT = "checkout.order-claim"


def guest_orders(email: str) -> QuerySet[Order]:
    return Order.objects.filter(user__isnull=True, email__iexact=email)


def claim_token(user: User) -> str:
    return signing.dumps({"u": user.pk, "e": user.email.lower()}, salt=SALT)


def claim_token_read(token: str) -> dict[str, Any] | None:
    try:
        data = signing.loads(token, salt=SALT, max_age=settings.ORDER_CLAIM_MAX_AGE_SECONDS)
    except signing.BadSignature:  # also SignatureExpired
        return None
    return data if isinstance(data, dict) else None


@transaction.atomic
def order_claim_request(*, user: User, language: str) -> Message:
    """Queue the email with the claim link, in `language`. Each request is its own email (the
    view rate-limits them); the outbox row commits here and is sent after the commit, or by the
    sweep when the broker is down."""
    return outbox_enqueue(
        kind="checkout.claim_email",
        payload={"user_id": user.pk, "language": language},
        key=f"claim_email:{user.pk}:{uuid.uuid4().hex}",
    )


def order_claim_email_send(*, user_id: int, language: str) -> None:
    """Send one claim email (the outbox handler). The link and the count are made now, for the
    account's address as it is now: the link only ever works for that address."""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return  # the account is gone: nobody to prove anything to
    with translation.override(language or settings.LANGUAGE_CODE):
        link = settings.SITE_URL + reverse("account_claim_orders", args=[claim_token(user)])
        context = {"link": link, "count": guest_orders(user.email).count()}
        subject = render_to_string("accounts/emails/claim_orders_subject.txt", context).strip()
        body = render_to_string("accounts/emails/claim_orders.txt", context)
    send_mail(subject, body, None, [user.email])


@transaction.atomic
def orders_claim(*, user: User, email: str) -> int:
    """Attach the guest orders placed with `email` to `user`; returns how many. One UPDATE
    that only touches rows still without a user, so a claim never takes an order that
    belongs to someone."""
    return guest_orders(email).update(user=user)

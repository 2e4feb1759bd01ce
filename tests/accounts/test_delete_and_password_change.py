"""Account deletion (anonymise, keep financial records, sign out everywhere), password change
(this session stays, others end), and the session cookie flags."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from axes.models import AccessAttempt, AccessLog
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import services
from accounts.models import Address, User
from payments import services as payment_services
from payments.models import PaymentAttempt, WalletEntry
from tests.factories import PASSWORD, OrderFactory

from .helpers import sign_in

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "a-brand-new-pass-5566"
ROOT = Path(__file__).resolve().parents[2]


def test_deleting_the_account_anonymises_it_and_keeps_the_financial_records(client, alice, shop):
    alice.phone, alice.phone_verified_at = "+447700900123", timezone.now()
    alice.save()
    services.address_create(
        user=alice, data={"full_name": "Alice", "line1": "1 St", "city": "X", "country": "Y"}
    )
    order = OrderFactory(user=alice, email=alice.email)
    payment_services.attempt_pay(
        order=order,
        method=shop["methods"]["card"],
        idempotency_key="del-key",
        payment_method="pm_card_visa",
    )
    payment_services.wallet_move(
        user=alice, currency="USD", amount=500, kind="adjustment", actor="test", reference="seed"
    )
    sign_in(client, alice.email, "wrong")
    sign_in(client, alice.email, PASSWORD)
    other_device = Client()
    other_device.force_login(alice)

    page = client.get(reverse("accounts:delete"))
    assert page.status_code == 200
    response = client.post(reverse("accounts:delete"), {"password": PASSWORD})
    assert response["Location"] == reverse("accounts:deleted")

    user = User.objects.get(pk=alice.pk)
    assert user.email == f"deleted-{alice.pk}@invalid"
    assert (user.full_name, user.phone, user.language) == ("", "", "")
    assert user.phone_verified_at is None and not user.is_active
    assert not user.has_usable_password()
    assert not Address.objects.filter(user=user).exists()
    assert not AccessAttempt.objects.filter(username__iexact="alice@example.com").exists()
    assert not AccessLog.objects.filter(username__iexact="alice@example.com").exists()
    row = User.objects.filter(pk=alice.pk).values()[0]
    assert not any("alice" in str(value).lower() for value in row.values())
    # Financial records stay, still linked to the (anonymous) account.
    assert list(user.orders.all()) == [order]
    assert PaymentAttempt.objects.filter(order=order).count() == 1
    assert WalletEntry.objects.filter(wallet__user=user).count() == 1
    # Signed out here and everywhere.
    assert "_auth_user_id" not in client.session
    assert other_device.get(reverse("account")).status_code == 302
    assert sign_in(Client(), "alice@example.com", PASSWORD).status_code == 200


def test_deletion_needs_the_right_password(client, alice):
    client.force_login(alice)
    response = client.post(reverse("accounts:delete"), {"password": "not-it"})
    assert response.status_code == 400
    assert "That password is not right." in response.content.decode()
    alice.refresh_from_db()
    assert alice.is_active and alice.email == "alice@example.com"


def test_password_guesses_on_the_delete_page_are_limited(client, alice):
    client.force_login(alice)
    for _ in range(5):
        client.post(reverse("accounts:delete"), {"password": "not-it"})
    refused = client.post(reverse("accounts:delete"), {"password": PASSWORD})
    assert refused.status_code == 429
    alice.refresh_from_db()
    assert alice.is_active


def test_deletion_needs_sign_in(client, db):
    assert client.get(reverse("accounts:delete")).status_code == 302


def test_password_change_keeps_this_session_and_ends_the_others(client, alice):
    client.force_login(alice)
    other_device = Client()
    other_device.force_login(alice)
    response = client.post(
        reverse("accounts:password_change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response["Location"] == reverse("account")
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    assert client.get(reverse("account")).status_code == 200
    assert other_device.get(reverse("account")).status_code == 302


def test_password_change_needs_the_current_password(client, alice):
    client.force_login(alice)
    response = client.post(
        reverse("accounts:password_change"),
        {"old_password": "wrong", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 200  # Django's form view re-renders with the error
    assert "error-summary" in response.content.decode()
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_session_cookie_is_httponly_always_and_secure_in_production(client, alice):
    sign_in(client, alice.email, PASSWORD)
    assert client.cookies["sessionid"]["httponly"]
    code = (
        "from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, s.CSRF_COOKIE_SECURE)"
    )
    env = {
        "DEBUG": "0",
        "SECRET_KEY": "x" * 60,
        "ALLOWED_HOSTS": "shop.example.com",
        "SITE_URL": "https://shop.example.com",
    }
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import django, os; "
            f"os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings'); "
            f"django.setup(); {code}",
        ],
        cwd=ROOT,
        env={**_base_env(), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.split() == ["True", "True", "True"], result.stderr


def _base_env() -> dict[str, str]:
    import os

    return {
        k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "ALLOWED_HOSTS", "DEBUG"}
    }

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def sign_in(client, email, password):
    return client.post(reverse("accounts:login"), {"username": email, "password": password})


def test_sign_in_with_email_any_case(client, alice):
    response = sign_in(client, "ALICE@Example.com", PASSWORD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(alice.pk)


def test_wrong_password_says_so_plainly_and_keeps_the_email(client, alice):
    response = sign_in(client, "alice@example.com", "wrong")
    assert response.status_code == 200
    body = response.content.decode()
    assert "That email address and password do not match an account." in body
    assert 'value="alice@example.com"' in body
    assert "_auth_user_id" not in client.session


def test_sign_out_is_a_post(client, alice):
    client.force_login(alice)
    assert client.get(reverse("accounts:logout")).status_code == 405
    response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_fifth_failure_locks_and_the_sixth_try_is_refused_even_with_the_right_password(
    client, alice
):
    for _ in range(4):
        assert sign_in(client, "alice@example.com", "wrong").status_code == 200
    assert sign_in(client, "alice@example.com", "wrong").status_code == 429
    response = sign_in(client, "alice@example.com", PASSWORD)
    assert response.status_code == 429
    assert "Account temporarily locked" in response.content.decode()
    assert "in 15 minutes" in response.content.decode()
    assert response["Retry-After"] == "900"
    assert "_auth_user_id" not in client.session


def test_changing_the_emails_letter_case_does_not_buy_more_tries(client, alice):
    for variant in (
        "alice@example.com",
        "Alice@example.com",
        "ALICE@EXAMPLE.COM",
        " alice@Example.com",
    ):
        sign_in(client, variant, "wrong")
    assert sign_in(client, "aLiCe@example.com", "wrong").status_code == 429  # the 5th
    assert sign_in(client, "ALICE@example.com", PASSWORD).status_code == 429
    assert "_auth_user_id" not in client.session


def test_lockout_is_per_account_not_for_everyone(client, alice, mallory):
    for _ in range(5):
        sign_in(client, "mallory@example.com", "wrong")
    assert sign_in(client, "alice@example.com", PASSWORD).status_code == 302


def test_user_emails_are_unique_ignoring_case(alice):
    from django.db import IntegrityError

    from accounts.models import User

    with pytest.raises(IntegrityError):
        User.objects.create(email="Alice@Example.com")


def test_a_failed_sign_in_never_echoes_the_password(client, alice):
    body = sign_in(client, "alice@example.com", "my-secret-typo").content.decode()
    assert "my-secret-typo" not in body


def test_failures_during_the_lockout_do_not_move_the_unlock_time(client, alice):
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    start = timezone.now().replace(hour=10, minute=0, second=0, microsecond=0)
    with time_machine.travel(start, tick=False):
        for _ in range(5):
            sign_in(client, "alice@example.com", "wrong")
    with time_machine.travel(start + timedelta(minutes=5), tick=False):
        page = sign_in(client, "alice@example.com", "wrong again")
        assert page.status_code == 429
        body = page.content.decode()
        assert "You can try again at 10:15 UTC, in 10 minutes." in body
    with time_machine.travel(start + timedelta(minutes=14), tick=False):
        assert sign_in(client, "alice@example.com", PASSWORD).status_code == 429
    with time_machine.travel(start + timedelta(minutes=15, seconds=1), tick=False):
        assert sign_in(client, "alice@example.com", PASSWORD).status_code == 302

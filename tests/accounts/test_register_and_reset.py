from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client, TestCase
from django.urls import reverse

from accounts.models import User
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "a-brand-new-pass-5566"


def test_register_signs_in_and_keeps_the_email_lowercase(client):
    response = client.post(
        reverse("accounts:register"),
        {
            "email": "New.Person@Example.com",
            "full_name": "New Person",
            "password": "correct-horse-battery-9",
        },
    )
    assert response.status_code == 302
    user = User.objects.get()
    assert user.email == "new.person@example.com" and user.check_password("correct-horse-battery-9")
    assert client.session["_auth_user_id"] == str(user.pk)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": "x", "password": "correct-horse-battery-9"}, "Enter an email address like"),
        ({"email": "a@b.co", "password": "12345678"}, "This password is entirely numeric."),
        ({"email": "a@b.co", "password": "pw-1"}, "This password is too short."),
        ({"email": "alice@example.com", "password": "correct-horse-battery-9"}, "already exists"),
    ],
)
def test_register_explains_what_to_fix_and_keeps_input(client, alice, data, message):
    response = client.post(reverse("accounts:register"), {"full_name": "Kept Name", **data})
    assert response.status_code == 400
    body = response.content.decode()
    assert message in body and 'value="Kept Name"' in body
    assert 'type="password"' in body and f'value="{data["password"]}"' not in body  # never echoed


def request_reset(client, email):
    # The email leaves after the commit, as in production.
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(reverse("accounts:password_reset"), {"email": email})


def test_reset_gives_the_same_answer_for_known_and_unknown_emails(
    client, alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as queued:
        known = client.post(reverse("accounts:password_reset"), {"email": "alice@example.com"})
    # Not sent inside the request: a mail server's delay would tell known addresses apart.
    assert mail.outbox == [] and len(queued) == 1
    queued[0]()
    unknown = request_reset(Client(), "nobody@example.com")
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"] == reverse("accounts:password_reset_done")
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["alice@example.com"]


def reset_link(email_body: str) -> str:
    return re.search(r"https?://[^/]+(/accounts/password-reset/[^\s]+/)", email_body).group(1)


def test_reset_link_sets_a_new_password_once_and_lifts_a_lockout(client, alice):
    for _ in range(5):
        client.post(reverse("accounts:login"), {"username": alice.email, "password": "wrong"})
    locked = client.post(reverse("accounts:login"), {"username": alice.email, "password": PASSWORD})
    assert locked.status_code == 429
    assert reverse("accounts:password_reset") in locked.content.decode()

    request_reset(client, alice.email)
    link = reset_link(mail.outbox[0].body)
    form_page = client.get(link, follow=True)
    set_url = form_page.redirect_chain[-1][0]
    done = client.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done["Location"] == reverse("accounts:password_reset_complete")
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    # The lock is lifted: the new password works at once.
    assert (
        client.post(
            reverse("accounts:login"), {"username": alice.email, "password": NEW_PASSWORD}
        ).status_code
        == 302
    )
    # The link is single use.
    again = Client().get(link, follow=True)
    assert "expired or was already used" in again.content.decode()


def test_other_sessions_are_signed_out_after_a_reset(client, alice):
    other_device = Client()
    other_device.force_login(alice)
    assert other_device.get(reverse("account")).status_code == 200
    request_reset(client, alice.email)
    link = reset_link(mail.outbox[0].body)
    set_url = client.get(link, follow=True).redirect_chain[-1][0]
    client.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert other_device.get(reverse("account")).status_code == 302  # back to sign-in


def test_reset_link_expires_after_an_hour(client, alice):
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    request_reset(client, alice.email)
    link = reset_link(mail.outbox[0].body)
    with time_machine.travel(timezone.now() + timedelta(minutes=61), tick=False):
        page = Client().get(link, follow=True)
    assert "expired or was already used" in page.content.decode()

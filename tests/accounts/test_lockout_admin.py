"""Staff see and clear lockouts; every clearing is logged; support's two service functions."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from axes.models import AccessAttempt
from django.urls import reverse
from django.utils import timezone

from accounts import services
from accounts.models import LockoutClearance
from tests.factories import PASSWORD

from .helpers import sign_in

pytestmark = pytest.mark.django_db


def lock(client, email):
    for _ in range(5):
        sign_in(client, email, "wrong")


def test_lockout_state_is_none_without_failures(alice):
    assert services.lockout_state(alice.email) is None


def test_lockout_state_counts_failures_and_says_until_when(client, alice):
    start = timezone.now().replace(microsecond=0)
    with time_machine.travel(start, tick=False):
        sign_in(client, "Alice@Example.com", "wrong")  # stored as typed; matched ignoring case
        state = services.lockout_state("alice@example.com")
        assert state["locked"] is False and state["failures"] == 1
        assert state["locked_until"] is None
        for _ in range(4):
            sign_in(client, alice.email, "wrong")
        state = services.lockout_state(alice.email)
    assert state["locked"] is True and state["failures"] == 5
    assert state["locked_until"] == start + timedelta(minutes=15)
    with time_machine.travel(start + timedelta(minutes=16), tick=False):
        assert services.lockout_state(alice.email) is None  # the cool-off is over


def test_lockout_clear_lifts_the_lock_and_logs_who(client, alice, bob):
    lock(client, alice.email)
    assert sign_in(client, alice.email, PASSWORD).status_code == 429
    record = services.lockout_clear(alice.email, bob)
    assert record.actor == bob and record.actor_label == "bob@example.com"
    assert record.was_locked and record.attempts_cleared == 5
    assert services.lockout_state(alice.email) is None
    assert sign_in(client, alice.email, PASSWORD).status_code == 302


def test_a_password_reset_clearance_is_logged_without_an_actor(client, alice):
    lock(client, alice.email)
    services.user_password_was_reset(user=alice)
    record = LockoutClearance.objects.get()
    assert record.actor is None and record.reason == "password reset"
    assert not AccessAttempt.objects.exists()


def test_staff_see_lockouts_in_admin_and_clear_them_with_a_logged_action(client, alice, carol):
    lock(client, alice.email)
    staff = type(client)()
    staff.force_login(carol)
    listing = staff.get(reverse("admin:axes_accessattempt_changelist") + "?locked_out=yes")
    assert listing.status_code == 200 and "alice@example.com" in listing.content.decode()
    user_page = staff.get(reverse("admin:accounts_user_change", args=[alice.pk]))
    assert "Locked until" in user_page.content.decode()

    ids = list(AccessAttempt.objects.values_list("pk", flat=True))
    response = staff.post(
        reverse("admin:axes_accessattempt_changelist"),
        {"action": "clear_lockout", "_selected_action": ids},
    )
    assert response.status_code == 302
    assert not AccessAttempt.objects.exists()
    record = LockoutClearance.objects.get()
    assert record.actor == carol and record.email == "alice@example.com"
    log_page = staff.get(reverse("admin:accounts_lockoutclearance_changelist"))
    assert "carol@example.com" in log_page.content.decode()


def test_deleting_an_attempt_in_admin_is_logged_too(client, alice, carol):
    lock(client, alice.email)
    staff = type(client)()
    staff.force_login(carol)
    attempt = AccessAttempt.objects.get()
    staff.post(reverse("admin:axes_accessattempt_delete", args=[attempt.pk]), {"post": "yes"})
    assert not AccessAttempt.objects.exists()
    assert LockoutClearance.objects.get().actor == carol


def test_the_clearance_log_cannot_be_edited_or_deleted(carol, client):
    record = services.lockout_clear("someone@example.com", carol)
    client.force_login(carol)
    url = reverse("admin:accounts_lockoutclearance_delete", args=[record.pk])
    assert client.post(url, {"post": "yes"}).status_code == 403
    assert LockoutClearance.objects.filter(pk=record.pk).exists()


def test_clearing_also_lifts_the_hourly_cap_on_the_account(settings, alice, bob):
    from django.test import Client

    settings.ACCOUNTS_ACCOUNT_FAILURE_LIMIT = 2
    for n in range(2):
        sign_in(Client(), alice.email, "wrong", REMOTE_ADDR=f"192.0.2.{n + 1}")
    assert sign_in(Client(), alice.email, PASSWORD, REMOTE_ADDR="192.0.2.50").status_code == 429
    services.lockout_clear(alice.email, bob)
    assert sign_in(Client(), alice.email, PASSWORD, REMOTE_ADDR="192.0.2.50").status_code == 302

"""Sign-in limits beyond django-axes (per-IP spraying, per-account hourly cap, sign-in rate),
rate limits on sign-up and reset requests, the real client IP behind a proxy, and the API's
429 answers."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import ratelimit
from accounts.api import AnonThrottle
from tests.factories import PASSWORD, UserFactory

from .helpers import sign_in

pytestmark = pytest.mark.django_db

HOME = {"REMOTE_ADDR": "198.51.100.7"}
ELSEWHERE = {"REMOTE_ADDR": "203.0.113.9"}


def test_the_helper_counts_a_window_and_says_when_it_ends():
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert [ratelimit.hit("k", 2, 60).allowed for _ in range(3)] == [True, True, False]
    with time_machine.travel(start + timedelta(seconds=45), tick=False):
        refused = ratelimit.hit("k", 2, 60)
        # A refused hit does not move the end of the window.
        assert not refused.allowed and refused.retry_after == 15
        assert not ratelimit.peek("k", 2, 60).allowed
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        assert ratelimit.peek("k", 2, 60).allowed
        assert ratelimit.hit("k", 2, 60).allowed


def test_five_failures_lock_that_account_from_that_ip_only(client, alice, mallory):
    for _ in range(5):
        sign_in(client, alice.email, "wrong", **HOME)
    assert sign_in(client, alice.email, PASSWORD, **HOME).status_code == 429
    assert sign_in(Client(), mallory.email, PASSWORD, **HOME).status_code == 302
    assert sign_in(Client(), alice.email, PASSWORD, **ELSEWHERE).status_code == 302


def test_failures_across_many_accounts_from_one_ip_trip_the_ip_limit(client, settings):
    settings.ACCOUNTS_IP_FAILURE_LIMIT = 12
    start = timezone.now()
    victims = [UserFactory() for _ in range(4)]
    with time_machine.travel(start, tick=False):
        # 3 failures each: never 5 on one account, so django-axes alone would never stop this.
        for victim in victims:
            for _ in range(3):
                assert sign_in(Client(), victim.email, "Summer2024!", **HOME).status_code == 200
        assert not any(a.failures_since_start >= 5 for a in AccessAttempt.objects.all())
        refused = sign_in(Client(), victims[0].email, PASSWORD, **HOME)
        assert refused.status_code == 429
        body = refused.content.decode()
        assert "too many unsuccessful sign-ins from your network" in body
        assert "Your account itself is not locked." in body
        assert refused["Retry-After"] == str(15 * 60)
        assert "_auth_user_id" not in client.session
        # Refused tries are not counted as failures of the account.
        assert AccessAttempt.objects.get(username=victims[0].email).failures_since_start == 3
        # Another address is not affected.
        assert sign_in(Client(), victims[0].email, PASSWORD, **ELSEWHERE).status_code == 302
    with time_machine.travel(start + timedelta(minutes=15, seconds=1), tick=False):
        assert sign_in(Client(), victims[1].email, PASSWORD, **HOME).status_code == 302


def test_an_account_attacked_from_many_ips_is_capped_per_hour(settings, alice):
    settings.ACCOUNTS_ACCOUNT_FAILURE_LIMIT = 6
    for n in range(6):
        sign_in(Client(), alice.email, "wrong", REMOTE_ADDR=f"192.0.2.{n + 1}")
    refused = sign_in(Client(), alice.email, PASSWORD, REMOTE_ADDR="192.0.2.99")
    assert refused.status_code == 429
    assert "to this account in the last hour" in refused.content.decode()
    # The way out: a reset proves who they are and lifts the cap as well.
    from accounts.services import user_password_was_reset

    user_password_was_reset(user=alice)
    assert sign_in(Client(), alice.email, PASSWORD, REMOTE_ADDR="192.0.2.99").status_code == 302


def test_sign_in_attempts_per_ip_are_rate_limited(settings, alice):
    settings.ACCOUNTS_RATE_LIMITS = {**settings.ACCOUNTS_RATE_LIMITS, "login_ip": (3, 60)}
    for _ in range(3):
        assert sign_in(Client(), "someone@example.com", "x", **HOME).status_code == 200
    refused = sign_in(Client(), alice.email, PASSWORD, **HOME)
    assert refused.status_code == 429 and int(refused["Retry-After"]) <= 60
    assert sign_in(Client(), alice.email, PASSWORD, **ELSEWHERE).status_code == 302


def test_behind_a_proxy_each_client_is_counted_by_its_own_address(settings, alice):
    settings.AXES_IPWARE_PROXY_COUNT = 1
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    # The client made up the first entry; our proxy appended the address it really saw.
    attacker = {**proxy, "HTTP_X_FORWARDED_FOR": "1.2.3.4, 198.51.100.7"}
    for _ in range(5):
        sign_in(Client(), alice.email, "wrong", **attacker)
    assert AccessAttempt.objects.get().ip_address == "198.51.100.7"
    assert sign_in(Client(), alice.email, PASSWORD, **attacker).status_code == 429
    # Alice, behind the same proxy from her own address, is not locked out.
    own = {**proxy, "HTTP_X_FORWARDED_FOR": "203.0.113.9"}
    assert sign_in(Client(), alice.email, PASSWORD, **own).status_code == 302


def test_without_a_proxy_setting_x_forwarded_for_is_ignored(alice):
    for n in range(5):
        sign_in(Client(), alice.email, "wrong", HTTP_X_FORWARDED_FOR=f"1.1.1.{n}", **HOME)
    assert AccessAttempt.objects.get().ip_address == HOME["REMOTE_ADDR"]


def test_the_locked_answer_is_json_for_api_clients(client, alice):
    for _ in range(5):
        sign_in(client, alice.email, "wrong")
    response = sign_in(client, alice.email, PASSWORD, HTTP_ACCEPT="application/json")
    assert response.status_code == 429
    data = response.json()
    assert "in 15 minutes" in data["detail"] and data["retry_after"] == 900
    assert response["Retry-After"] == "900"


def test_sign_up_is_rate_limited_per_ip(settings, alice):
    settings.ACCOUNTS_RATE_LIMITS = {**settings.ACCOUNTS_RATE_LIMITS, "register_ip": (2, 3600)}
    url = reverse("accounts:register")
    for _ in range(2):
        Client().post(url, {"email": alice.email, "password": "correct-horse-9"}, **HOME)
    refused = Client().post(url, {"email": "new@example.com", "password": "x-y-z-1234"}, **HOME)
    assert refused.status_code == 429
    assert "Too many attempts" in refused.content.decode()
    assert 3590 <= int(refused["Retry-After"]) <= 3600


def test_reset_requests_are_limited_per_address_the_same_for_known_and_unknown(alice):
    url = reverse("accounts:password_reset")
    answers = {}
    for email in (alice.email, "nobody@example.com"):
        codes = [
            Client().post(url, {"email": email}, REMOTE_ADDR=f"192.0.2.{n}").status_code
            for n in range(6)
        ]
        answers[email] = codes
    assert answers[alice.email] == answers["nobody@example.com"] == [302] * 5 + [429]


def test_the_api_says_when_to_retry_when_throttled(client, shop, monkeypatch):
    monkeypatch.setattr(AnonThrottle, "THROTTLE_RATES", {"anon": "2/min", "user": "10/min"})
    url = reverse("api:products")
    assert [client.get(url).status_code for _ in range(2)] == [200, 200]
    throttled = client.get(url)
    assert throttled.status_code == 429
    data = throttled.json()
    assert data["detail"].startswith("Too many requests. Please try again in ")
    assert 1 <= data["retry_after"] <= 60 and throttled["Retry-After"] == str(data["retry_after"])
    zh = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert zh.status_code == 429 and zh["Content-Language"] == "zh-hans"

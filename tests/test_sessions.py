"""The session store (config/sessions.py): Django's database sessions read with one written-out
statement, and the same answers as Django's for a live, an expired, an unknown, a malformed and
a tampered session."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from config.sessions import SessionStore

pytestmark = pytest.mark.django_db


def saved(**data: object) -> str:
    store = SessionStore()
    store.update(data)
    store.save()
    assert store.session_key
    return store.session_key


def test_the_project_uses_it():
    assert settings.SESSION_ENGINE == "config.sessions"


def test_a_live_session_is_read_with_one_statement():
    key = saved(cart={"mug": 2}, checkout_token="t1")
    store = SessionStore(key)
    with CaptureQueriesContext(connection) as queries:
        assert store.load() == {"cart": {"mug": 2}, "checkout_token": "t1"}
    assert len(queries) == 1
    sql = queries.captured_queries[0]["sql"]
    assert sql.startswith('SELECT session_data FROM "django_session" WHERE session_key = ')
    assert store.session_key == key  # kept: it is this visitor's session


def test_an_expired_session_is_empty_and_a_new_one_starts():
    key = saved(cart={"mug": 1})
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE + 1)):
        store = SessionStore(key)
        assert store.load() == {}
        assert store.session_key is None
    # One second before its expiry it was still there.
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE - 1)):
        assert SessionStore(key).load() == {"cart": {"mug": 1}}


def test_an_unknown_key_is_empty_and_a_malformed_one_is_not_even_looked_up():
    store = SessionStore("x" * 32)
    assert store.load() == {}
    assert store.session_key is None
    with CaptureQueriesContext(connection) as queries:
        assert SessionStore("short").load() == {}  # fewer than 8 characters: not a key
    assert len(queries) == 0


def test_tampered_data_reads_as_an_empty_session():
    key = saved(is_staff=False)
    Session.objects.filter(session_key=key).update(session_data="forged:data")
    assert SessionStore(key).load() == {}


def test_a_signed_in_visitor_stays_signed_in_across_requests(client, alice):
    client.force_login(alice)
    response = client.get("/accounts/profile/")
    assert response.status_code == 200
    assert response.wsgi_request.user == alice

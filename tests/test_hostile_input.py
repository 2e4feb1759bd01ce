"""Hostile or broken input answers 4xx, never 500, and a flood of one error is one email.

Run these on PostgreSQL too (DATABASE_URL=...): it refuses NUL in text, which SQLite stores, so
there a NUL that reached a query was a 500 that emailed the admins on every request.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from urllib.parse import urlencode

import pytest
from django.core import mail
from django.core.cache import caches
from django.urls import path

from config.error_mail import ThrottledAdminEmailHandler
from support.models import Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client, mallory):
    client.force_login(mallory)
    client.raise_request_exception = False
    return client


@pytest.fixture
def anonymous(client):
    client.raise_request_exception = False
    return client


NUL_URLS = [
    "/orders/%00/",
    "/orders/%00/status.json",
    "/orders/%00/pay/",
    "/support/tickets/T-%00/",
    "/support/help/?q=%00",
    "/support/help/%00/",
    "/support/?code=%00",
    "/api/v1/orders/%00/",
    "/api/v1/orders/%00/payment-methods/",
    "/payments/simulator/%00/",
    "/accounts/login/?next=/%00",
    "/?lang=%00",
]


@pytest.mark.parametrize("url", NUL_URLS)
@pytest.mark.parametrize("who", ["anonymous", "signed_in"])
def test_a_nul_byte_in_the_url_is_400_and_emails_nobody(request, shop, url, who):
    client = request.getfixturevalue(who)
    assert client.get(url).status_code == 400
    assert mail.outbox == []


@pytest.mark.parametrize(
    "url", ["/orders/a%01b/", "/orders/%7F/", "/support/tickets/T-%0A/", "/support/help/?q=%1B"]
)
def test_other_control_characters_are_400_too(anonymous, shop, url):
    assert anonymous.get(url).status_code == 400


def test_a_tab_or_a_line_break_in_a_search_is_still_a_search(anonymous, shop):
    assert anonymous.get("/support/help/?q=card%09declined%0D%0A").status_code == 200


def test_a_nul_in_a_cookie_is_400(anonymous, shop):
    anonymous.cookies["sessionid"] = "abc\x00def"
    assert anonymous.get("/").status_code == 400


def test_a_nul_in_a_sign_in_form_is_400_not_a_stored_failure(anonymous, shop):
    """django-axes records a failed sign-in's username before any form validates it."""
    response = anonymous.post(
        "/accounts/login/",
        urlencode({"username": "mallory\x00@example.com", "password": "x"}),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400
    assert mail.outbox == []


def test_a_nul_in_a_multipart_form_is_400(anonymous, shop):
    # The test client posts multipart/form-data unless told otherwise.
    response = anonymous.post(
        "/accounts/login/", {"username": "mallory\x00@example.com", "password": "x"}
    )
    assert response.status_code == 400


def test_a_nul_in_a_ticket_is_400_and_stores_nothing(signed_in, shop):
    response = signed_in.post(
        "/support/tickets/new/",
        {
            "name": "Mallory",
            "email": "mallory@example.com",
            "subject": "Hi\x00",
            "message": "Line one\r\nline two\x00",
            "category": "other",
        },
    )
    assert response.status_code == 400
    assert Ticket.objects.count() == 0


def test_line_breaks_in_a_ticket_are_fine(signed_in, shop):
    response = signed_in.post(
        "/support/tickets/new/",
        {
            "name": "Mallory",
            "email": "mallory@example.com",
            "subject": "Card\tdeclined",
            "message": "Line one\r\nline two",
            "category": "other",
        },
    )
    assert response.status_code == 302
    assert Ticket.objects.count() == 1


def test_a_nul_in_api_json_is_400(signed_in, shop):
    body = {"email": "mallory\x00@example.com", "items": [{"sku": "mug\x00", "quantity": 1}]}
    response = signed_in.post("/api/v1/orders/", json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert mail.outbox == []


# --- One email per distinct error per window ---------------------------------------------------


def crash(request):
    raise ValueError("the same bug every time")


def other_crash(request):
    raise ValueError("a different place")


def bad_id_here(request):
    return uuid.UUID("not-a-uuid")  # raises inside the uuid module


def bad_id_there(request):
    return uuid.UUID("nor-this")  # the same line of the uuid module, another place of ours


def crash_while_cache_down(request):
    raise KeyError("reported while the cache is down")


urlpatterns = [
    path("crash/", crash),
    path("other-crash/", other_crash),
    path("crash-cache-down/", crash_while_cache_down),
    path("bad-id-here/", bad_id_here),
    path("bad-id-there/", bad_id_there),
]


@pytest.fixture
def crashing(client):
    client.raise_request_exception = False
    return client


def _handler() -> ThrottledAdminEmailHandler:
    handlers = [
        h for h in logging.getLogger("django").handlers if isinstance(h, ThrottledAdminEmailHandler)
    ]
    assert len(handlers) == 1, "LOGGING must route django's errors through the throttled handler"
    return handlers[0]


@pytest.mark.urls("tests.test_hostile_input")
def test_the_same_error_emails_once_per_window(crashing, monkeypatch):
    # A two-second window, waited out for real: on Redis the key expires in Redis's own clock.
    monkeypatch.setattr(_handler(), "window_seconds", 2)
    for _ in range(5):
        assert crashing.get("/crash/").status_code == 500
    assert len(mail.outbox) == 1
    assert "ValueError" in mail.outbox[0].body
    assert crashing.get("/other-crash/").status_code == 500  # another place: its own email
    assert len(mail.outbox) == 2
    time.sleep(2.5)  # the window is over: the still-failing bug is reported again, once
    crashing.get("/crash/")
    crashing.get("/crash/")
    assert len(mail.outbox) == 3


@pytest.mark.urls("tests.test_hostile_input")
def test_errors_raised_inside_one_library_call_from_two_places_are_two_errors(crashing):
    for _ in range(3):
        assert crashing.get("/bad-id-here/").status_code == 500
        assert crashing.get("/bad-id-there/").status_code == 500
    assert len(mail.outbox) == 2


@pytest.mark.urls("tests.test_hostile_input")
def test_with_the_cache_down_each_process_still_sends_one(crashing, monkeypatch):
    handler = _handler()
    monkeypatch.setattr(handler, "_local", {})

    def down(*args, **kwargs):
        raise ConnectionError("cache is down")

    monkeypatch.setattr(caches["default"], "add", down)
    for _ in range(5):
        assert crashing.get("/crash-cache-down/").status_code == 500
    assert len(mail.outbox) == 1
    assert "KeyError" in mail.outbox[0].subject + mail.outbox[0].body

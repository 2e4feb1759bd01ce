"""Guest orders placed with the same email are claimed after proving the email by a signed,
one-day link; nobody else's orders, and nobody else can use the link."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import OrderFactory

# Committed for real: the claim email is an outbox row handed to (eager) Celery after commit.
pytestmark = pytest.mark.django_db(transaction=True)


def claim_link(client) -> str:
    client.post(reverse("account_claim_request"))
    return re.search(
        r"https?://[^/\s]+(/accounts/profile/claim-orders/\S+/)", mail.outbox[-1].body
    )[1]


@pytest.fixture
def orders(alice, mallory):
    return {
        "guest_mine": OrderFactory(email="ALICE@example.com"),
        "guest_mine_2": OrderFactory(email="alice@example.com"),
        "guest_other": OrderFactory(email="someone@example.com"),
        "mallorys": OrderFactory(email="alice@example.com", user=mallory),
    }


def test_profile_offers_the_guest_orders_and_the_link_attaches_them(client, alice, orders):
    client.force_login(alice)
    page = client.get(reverse("account")).content.decode()
    assert "Ordered here as a guest before you signed up?" in page
    assert "2 orders" not in page  # the count is only told to the address's owner

    link = claim_link(client)
    assert mail.outbox[-1].to == ["alice@example.com"]
    confirm = client.get(link)
    assert confirm.status_code == 200 and "Add them to your account?" in confirm.content.decode()
    done = client.post(link)
    assert done["Location"] == reverse("account")

    for key in orders:
        orders[key].refresh_from_db()
    assert orders["guest_mine"].user == alice and orders["guest_mine_2"].user == alice
    assert orders["guest_other"].user is None
    assert orders["mallorys"].user.email == "mallory@example.com"  # never taken
    assert "2 orders" in mail.outbox[-1].body
    again = client.post(reverse("account_claim_request"))
    assert again.status_code == 302, again.status_code
    assert "there are none to add" in mail.outbox[-1].body


def test_the_link_is_refused_to_anyone_else(client, alice, mallory, orders):
    client.force_login(alice)
    link = claim_link(client)
    other = Client()
    other.force_login(mallory)
    assert other.get(link).status_code == 403
    assert other.post(link).status_code == 403
    orders["guest_mine"].refresh_from_db()
    assert orders["guest_mine"].user is None
    assert Client().get(link).status_code == 302  # signed out: sign in first


def test_the_link_expires_after_a_day(client, alice, orders):
    client.force_login(alice)
    link = claim_link(client)
    with time_machine.travel(timezone.now() + timedelta(days=1, minutes=1)):
        response = client.post(link)
    assert response.status_code == 400 and "expired" in response.content.decode()
    orders["guest_mine"].refresh_from_db()
    assert orders["guest_mine"].user is None


def test_a_tampered_link_is_refused(client, alice, orders):
    client.force_login(alice)
    link = claim_link(client)
    assert client.post(link[:-3] + "xx/").status_code == 400


def test_the_link_dies_when_the_email_changes(client, alice, orders):
    client.force_login(alice)
    link = claim_link(client)
    alice.email = "alice.new@example.com"
    alice.save()
    assert client.post(link).status_code == 403


def test_claim_emails_are_rate_limited(client, alice, orders):
    client.force_login(alice)
    for _ in range(3):
        client.post(reverse("account_claim_request"))
    assert client.post(reverse("account_claim_request")).status_code == 429
    assert len(mail.outbox) == 3


def _forget_connections(celery_app) -> None:
    """The publisher pool was built for the previous broker URL."""
    celery_app._pool = None
    amqp = celery_app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None


@pytest.fixture
def dead_broker():
    """Celery pointed at a port where no broker listens: every hand-off is refused."""
    from config.celery import app as celery_app

    previous = (celery_app.conf.broker_url, celery_app.conf.task_always_eager)
    celery_app.conf.broker_url = "redis://127.0.0.1:6395/0"
    celery_app.conf.task_always_eager = False
    _forget_connections(celery_app)
    try:
        yield
    finally:
        celery_app.conf.broker_url, celery_app.conf.task_always_eager = previous
        _forget_connections(celery_app)


def test_the_claim_email_survives_a_dead_broker_and_is_sent_once(
    client, alice, orders, dead_broker
):
    from outbox.models import Message
    from outbox.services import outbox_sweep

    client.force_login(alice)
    response = client.post(reverse("account_claim_request"))
    assert response.status_code == 302 and response["Location"] == reverse("account")
    assert mail.outbox == []
    row = Message.objects.get(kind="checkout.claim_email")
    assert row.sent_at is None
    with time_machine.travel(timezone.now() + timedelta(minutes=1)):
        assert outbox_sweep() == 1
        assert outbox_sweep() == 0  # acted on once
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    assert "2 orders" in mail.outbox[0].body


def test_a_dead_mail_server_is_retried_not_an_error_page(client, alice, orders, settings):
    from outbox.models import Message
    from outbox.services import outbox_sweep

    settings.EMAIL_BACKEND = "tests.outbox.mailers.BrokenBackend"
    client.force_login(alice)
    response = client.post(reverse("account_claim_request"))
    assert response.status_code == 302  # synchronous mail made this a 500
    row = Message.objects.get(kind="checkout.claim_email")
    assert row.sent_at is None and row.attempts == 1 and "unreachable" in row.last_error
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        assert outbox_sweep() == 1
        assert outbox_sweep() == 0
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]


def test_the_email_is_in_the_language_of_the_request(client, alice, orders):
    client.force_login(alice)
    client.post(reverse("account_claim_request"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert len(mail.outbox) == 1
    assert "/accounts/profile/claim-orders/" in mail.outbox[0].body
    assert "Hello," not in mail.outbox[0].body

"""A retried refund request refunds once: the API's Idempotency-Key and the admin form's key."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.core import mail
from django.urls import reverse
from rest_framework.test import APIClient

from payments import services
from payments.models import Refund, SimulatedRefund
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid(shop, alice):
    return services.attempt_pay(
        order=OrderFactory(user=alice, email="alice@example.com", total=2400),
        method=shop["methods"]["card"],
        idempotency_key="pay",
        payment_method="pm_card_visa",
    )


@pytest.fixture
def api(bob):
    bob.user_permissions.add(Permission.objects.get(codename="add_refund"))
    client = APIClient()
    client.force_authenticate(bob)
    return client


def url(attempt):
    return f"/api/v1/payments/{attempt.public_id}/refunds/"


def post(api, attempt, body, key):
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    return api.post(url(attempt), body, format="json", **headers)


@pytest.mark.parametrize("key", [None, "", "k" * 256])
def test_the_api_needs_an_idempotency_key(api, paid, key):
    response = post(api, paid, {"amount": 100, "reason": "asked"}, key)
    assert response.status_code == 400
    # The documented answer, with DRF's field errors kept beside it.
    assert response.json() == {
        "error": "invalid",
        "detail": "Send an Idempotency-Key header of 1 to 255 characters.",
        "Idempotency-Key": ["Send an Idempotency-Key header of 1 to 255 characters."],
    }
    assert not Refund.objects.exists()


def test_a_replayed_api_request_returns_the_same_refund_and_refunds_once(
    api, paid, django_capture_on_commit_callbacks
):
    body = {"amount": 500, "reason": "damaged"}
    with django_capture_on_commit_callbacks(execute=True):
        first = post(api, paid, body, "refund-press-1")
    with django_capture_on_commit_callbacks(execute=True):
        again = post(api, paid, body, "refund-press-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert first.json()["status"] == "succeeded"
    assert Refund.objects.count() == 1
    assert SimulatedRefund.objects.count() == 1
    paid.refresh_from_db()
    assert paid.refunded_amount == 500
    # The customer hears about the refund once, not once per request.
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    refund = Refund.objects.get()
    assert refund.idempotency_key == "refund-press-1" and len(refund.request_fingerprint) == 64


def test_the_same_key_with_another_body_is_a_conflict(api, paid):
    assert post(api, paid, {"amount": 500, "reason": "damaged"}, "k1").status_code == 201
    response = post(api, paid, {"amount": 600, "reason": "damaged"}, "k1")
    assert response.status_code == 409
    assert response.json() == {
        "error": "idempotency_conflict",
        "detail": "This Idempotency-Key was already used for a different refund.",
    }
    assert Refund.objects.count() == 1 and SimulatedRefund.objects.count() == 1


def test_the_same_key_on_another_payment_is_a_conflict(api, paid, shop, alice):
    other = services.attempt_pay(
        order=OrderFactory(user=alice, total=2400),
        method=shop["methods"]["card"],
        idempotency_key="pay-2",
        payment_method="pm_card_visa",
    )
    assert post(api, paid, {"amount": 500, "reason": "x"}, "shared").status_code == 201
    assert post(api, other, {"amount": 500, "reason": "x"}, "shared").status_code == 409
    assert Refund.objects.count() == 1


def test_a_signed_in_stranger_cannot_refund(paid, mallory):
    client = APIClient()
    client.force_authenticate(mallory)
    response = post(client, paid, {"amount": 100, "reason": "mine now"}, "m1")
    assert response.status_code == 403
    assert not Refund.objects.exists()


# --- The admin form ------------------------------------------------------------------------------


def form_key(page) -> str:
    match = re.search(r'name="idempotency_key" value="([^"]+)"', page.content.decode())
    assert match, "the refund form carries a hidden key"
    return match.group(1)


def test_a_resubmitted_admin_form_finds_the_same_refund(client, carol, paid):
    client.force_login(carol)
    admin_url = reverse("admin:payments_paymentattempt_refund", args=[paid.pk])
    key = form_key(client.get(admin_url))
    assert key != form_key(client.get(admin_url))  # a new key each time the form is shown
    form = {"amount": "5.00", "destination": "original", "reason": "late", "idempotency_key": key}
    first = client.post(admin_url, form)
    again = client.post(admin_url, form)
    assert (first.status_code, again.status_code) == (302, 302)
    assert Refund.objects.count() == 1 and SimulatedRefund.objects.count() == 1
    paid.refresh_from_db()
    assert paid.refunded_amount == 500
    told = [str(m) for m in get_messages(again.wsgi_request)]
    assert told == [
        "Refund of $5.00: Succeeded",
        "This refund of $5.00 was already made (Succeeded); nothing more was refunded.",
    ]


def test_an_admin_key_reused_with_other_values_refunds_nothing(client, carol, paid):
    client.force_login(carol)
    admin_url = reverse("admin:payments_paymentattempt_refund", args=[paid.pk])
    key = form_key(client.get(admin_url))
    form = {"amount": "5.00", "destination": "original", "reason": "late", "idempotency_key": key}
    assert client.post(admin_url, form).status_code == 302
    changed = client.post(admin_url, {**form, "amount": "7.00"})
    assert changed.status_code == 200
    assert "This form was already used for a different refund." in changed.content.decode()
    assert Refund.objects.count() == 1 and SimulatedRefund.objects.count() == 1
    paid.refresh_from_db()
    assert paid.refunded_amount == 500


def test_an_admin_form_without_its_key_refunds_nothing(client, carol, paid):
    client.force_login(carol)
    admin_url = reverse("admin:payments_paymentattempt_refund", args=[paid.pk])
    response = client.post(
        admin_url, {"amount": "5.00", "destination": "original", "reason": "late"}
    )
    assert response.status_code == 200
    assert not Refund.objects.exists()

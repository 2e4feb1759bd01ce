"""The withdrawals API: withdraw once per Idempotency-Key, list and read your own, documented."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from payments.models import Refund, Wallet, Withdrawal
from tests.payments.test_withdrawals import top_up

pytestmark = pytest.mark.django_db
URL = "/api/v1/wallet/withdrawals/"


@pytest.fixture
def api(shop, alice):
    top_up(alice, 3000, shop, days_ago=10)
    top_up(alice, 2000, shop, days_ago=5)
    client = APIClient()
    client.force_login(alice)
    return client


def test_withdraw_then_replay_then_list_and_read(api, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        created = api.post(URL, {"amount": 4200}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert created.status_code == 201
    body = created.json()
    # Answered at once: held and planned; the parts go out after the commit.
    assert (body["amount"], body["currency"], body["status"]) == (4200, "USD", "requested")
    assert [
        (p["amount"], p["status"], p["method"], p["expected_arrival"]) for p in body["parts"]
    ] == [
        (3000, "pending", "card", "usually 5–10 business days"),
        (1200, "pending", "card", "usually 5–10 business days"),
    ]
    replay = api.post(URL, {"amount": 4200}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert (replay.status_code, replay.json()["id"]) == (200, body["id"])
    assert (Withdrawal.objects.count(), Refund.objects.count()) == (1, 2)
    assert Wallet.objects.get(user=alice).balance == 800
    other = api.post(URL, {"amount": 100}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert (other.status_code, other.json()["error"]) == (409, "idempotency_conflict")
    assert [w["id"] for w in api.get(URL).json()] == [body["id"]]
    detail = api.get(f"{URL}{body['id']}/").json()
    assert (detail["status"], [p["status"] for p in detail["parts"]]) == (
        "completed",
        ["succeeded", "succeeded"],
    )


@pytest.mark.parametrize(
    ("amount", "status", "error"),
    [
        (0, 400, "invalid"),
        (-1, 400, "invalid"),
        ("ten", 400, "invalid"),
        (None, 400, "invalid"),
        (2**70, 400, "invalid"),
        (5001, 409, "withdrawal_not_allowed"),
    ],
)
def test_bad_amounts_get_a_specific_4xx(api, amount, status, error):
    response = api.post(URL, {"amount": amount}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert (response.status_code, response.json()["error"]) == (status, error)
    if error == "withdrawal_not_allowed":
        assert response.json()["detail"] == "You can withdraw at most $50.00 right now."
    assert Withdrawal.objects.count() == 0


def test_a_key_is_required(api):
    response = api.post(URL, {"amount": 100}, format="json")
    assert (response.status_code, response.json()["error"]) == (400, "invalid")
    assert Withdrawal.objects.count() == 0


def test_a_stranger_cannot_see_or_list_anothers_withdrawal(api, mallory):
    made = api.post(URL, {"amount": 100}, format="json", HTTP_IDEMPOTENCY_KEY="k").json()
    stranger = APIClient()
    stranger.force_login(mallory)
    assert stranger.get(f"{URL}{made['id']}/").status_code == 404
    assert stranger.get(URL).json() == []
    anonymous = APIClient()
    assert anonymous.get(f"{URL}{made['id']}/").status_code == 403
    assert (
        anonymous.post(URL, {"amount": 1}, format="json", HTTP_IDEMPOTENCY_KEY="z").status_code
        == 403
    )


def test_the_schema_documents_the_withdrawal_endpoints(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = schema["paths"]
    assert set(paths[URL]) >= {"get", "post"}
    assert "get" in paths[URL + "{public_id}/"]
    post = paths[URL]["post"]
    assert {"201", "200", "400", "409"} <= set(post["responses"])
    assert any(p["name"] == "Idempotency-Key" and p["required"] for p in post["parameters"])


def test_admin_shows_a_withdrawal_with_its_parts_read_only(api, client, carol):
    made = api.post(URL, {"amount": 4200}, format="json", HTTP_IDEMPOTENCY_KEY="k").json()
    withdrawal = Withdrawal.objects.get()
    client.force_login(carol)
    assert client.get("/admin/payments/withdrawal/").status_code == 200
    page = client.get(f"/admin/payments/withdrawal/{withdrawal.pk}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    for part in made["parts"]:
        assert part["id"] in text
    assert 'name="_save"' not in text  # nothing to edit

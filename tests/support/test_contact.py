from __future__ import annotations

from urllib.parse import unquote

import pytest

pytestmark = pytest.mark.django_db


def test_contact_page_carries_the_payment_context(client):
    response = client.get(
        "/support/", {"order": "CK-ABCDEFGH", "attempt": "1234", "code": "expired_card"}
    )
    body = unquote(response.content.decode())
    assert response.status_code == 200
    assert (
        "Order: CK-ABCDEFGH" in body
        and "Payment: 1234" in body
        and "Reason code: expired_card" in body
    )
    assert "mailto:support@example.com?subject=Help with order CK-ABCDEFGH" in body


def test_contact_page_without_context(client):
    body = client.get("/support/").content.decode()
    assert "mailto:support@example.com?subject=Help" in body
    assert "Order:" not in body


def test_contact_page_escapes_what_it_is_given(client):
    body = client.get("/support/", {"order": "<script>x</script>"}).content.decode()
    assert "<script>x" not in body

"""Every new accounts page renders in both languages, without JavaScript (plain forms with a
CSRF token on every POST form), with labelled fields."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts import services

pytestmark = pytest.mark.django_db

PUBLIC = ["accounts:sms_reset", "accounts:password_reset", "accounts:login", "accounts:register"]
SIGNED_IN = [
    "accounts:phone",
    "accounts:addresses",
    "accounts:address_new",
    "accounts:password_change",
    "accounts:delete",
    "account",
]


def check_page(body: str, language: str) -> None:
    assert f'<html lang="{language}">' in body
    forms = re.findall(r"<form[^>]*method=\"post\"[^>]*>(.*?)</form>", body, re.S)
    assert all("csrfmiddlewaretoken" in form for form in forms)
    inputs = re.findall(r'<input[^>]*type="(?:text|email|password|tel)"[^>]*>', body)
    for tag in inputs:
        input_id = re.search(r'\sid="([^"]+)"', tag)[1]
        assert f'for="{input_id}"' in body, f"no label for #{input_id}"


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("name", PUBLIC)
def test_public_pages(client, name, language):
    response = client.get(reverse(name), HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    check_page(response.content.decode(), language)


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("name", SIGNED_IN)
def test_signed_in_pages(client, alice, name, language):
    client.force_login(alice)
    response = client.get(reverse(name), HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    check_page(response.content.decode(), language)


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_address_pages_with_content(client, alice, language):
    kept = services.address_create(
        user=alice, data={"full_name": "A", "line1": "1 St", "city": "X", "country": "Y"}
    )
    services.address_delete(
        address=services.address_create(
            user=alice, data={"full_name": "B", "line1": "2 St", "city": "X", "country": "Y"}
        )
    )
    client.force_login(alice)
    for url in (reverse("accounts:addresses"), reverse("accounts:address_edit", args=[kept.pk])):
        response = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 200
        check_page(response.content.decode(), language)


def test_profile_shows_a_verified_phone(client, alice):
    alice.phone, alice.phone_verified_at = "+447700900123", timezone.now()
    alice.save()
    client.force_login(alice)
    body = client.get(reverse("account")).content.decode()
    assert "+447700900123 (verified)" in body

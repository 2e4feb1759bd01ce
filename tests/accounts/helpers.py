from __future__ import annotations

from django.test import Client
from django.urls import reverse


def sign_in(client: Client, email: str, password: str, **extra: str):
    return client.post(
        reverse("accounts:login"), {"username": email, "password": password}, **extra
    )

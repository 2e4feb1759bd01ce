from __future__ import annotations

from django.test import Client
from django.urls import reverse

BILLING = {
    "email": "guest@example.com",
    "full_name": "Grace Guest",
    "address_line1": "1 Market Street",
    "city": "Springfield",
    "postal_code": "12345",
    "country": "United States",
}


def fill_cart(client: Client, *skus: str) -> None:
    for sku in skus:
        client.post(reverse("checkout:cart_update"), {"sku": sku})


def checkout_form(client: Client) -> dict[str, str]:
    """GET the checkout page and return its hidden tokens, as a browser would submit them."""
    response = client.get(reverse("checkout:checkout"))
    assert response.status_code == 200
    form = response.context["form"]
    return {
        "checkout_token": form.initial["checkout_token"],
        "idempotency_key": form.initial["idempotency_key"],
    }


def pay(client: Client, tokens: dict[str, str], **overrides: str):
    data = {**BILLING, **tokens, "method": "card", "payment_method": "pm_card_visa", **overrides}
    return client.post(reverse("checkout:checkout"), data)

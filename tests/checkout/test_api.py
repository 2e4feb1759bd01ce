from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from checkout.models import Order

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return APIClient()


def create_order(api, **overrides):
    body = {
        "email": "Guest@Example.com",
        "items": [{"sku": "mug", "quantity": 2}, {"sku": "tea", "quantity": 1}],
    }
    return api.post("/api/v1/orders/", {**body, **overrides}, format="json")


def test_products_list(api, shop):
    response = api.get("/api/v1/products/")
    assert response.status_code == 200
    by_sku = {p["sku"]: p for p in response.json()}
    assert by_sku["mug"]["price"] == {"amount": 1200, "currency": "USD"}
    assert by_sku["mug"]["name"] == "Mug"


def test_products_list_in_chinese(api, shop):
    response = api.get("/api/v1/products/", HTTP_ACCEPT_LANGUAGE="zh-Hans")
    names = {p["sku"]: p["name"] for p in response.json()}
    assert names["mug"] == "马克杯"


def test_create_order_answers_201_with_number_total_status_and_secret(api, shop):
    response = create_order(api)
    assert response.status_code == 201
    data = response.json()
    order = Order.objects.get(number=data["number"])
    assert data["total"] == {"amount": 2 * 1200 + 1850, "currency": "USD"}
    assert isinstance(data["total"]["amount"], int)
    assert data["status"] == "pending"
    assert data["client_secret"] == order.client_secret and len(data["client_secret"]) >= 40
    assert data["email"] == "guest@example.com"
    assert [(line["sku"], line["quantity"]) for line in data["lines"]] == [("mug", 2), ("tea", 1)]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"items": []}, "items"),
        ({"items": [{"sku": "nope", "quantity": 1}]}, "items"),
        ({"items": [{"sku": "mug", "quantity": 0}]}, "items"),
        ({"items": [{"sku": "mug", "quantity": 1}, {"sku": "mug", "quantity": 1}]}, "items"),
        ({"email": "not-an-email"}, "email"),
    ],
)
def test_create_order_rejects_bad_input_with_field_errors(api, shop, body, field):
    response = create_order(api, **body)
    assert response.status_code == 400
    assert field in response.json()
    assert not Order.objects.exists()


def test_unknown_product_error_names_the_sku(api, shop):
    response = create_order(api, items=[{"sku": "ghost", "quantity": 1}])
    assert "ghost" in str(response.json()["items"])


def test_guest_reads_order_with_client_secret(api, shop):
    data = create_order(api).json()
    response = api.get(
        f"/api/v1/orders/{data['number']}/", HTTP_X_CLIENT_SECRET=data["client_secret"]
    )
    assert response.status_code == 200
    assert response.json()["number"] == data["number"]
    assert "client_secret" not in response.json()


@pytest.mark.parametrize("secret", [None, "wrong-secret"])
def test_order_without_the_right_secret_is_404(api, shop, secret):
    data = create_order(api).json()
    headers = {"HTTP_X_CLIENT_SECRET": secret} if secret else {}
    response = api.get(f"/api/v1/orders/{data['number']}/", **headers)
    assert response.status_code == 404


def test_owner_reads_own_order_and_mallory_gets_404(api, shop, alice, mallory):
    api.force_authenticate(alice)
    number = create_order(api).json()["number"]
    assert Order.objects.get(number=number).user == alice
    assert api.get(f"/api/v1/orders/{number}/").status_code == 200
    api.force_authenticate(mallory)
    assert api.get(f"/api/v1/orders/{number}/").status_code == 404


def test_unknown_order_is_404(api, shop):
    assert api.get("/api/v1/orders/CK-NOPE0000/").status_code == 404


def test_schema_describes_the_endpoints(api, db):
    response = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {"/api/v1/products/", "/api/v1/orders/", "/api/v1/orders/{number}/"} <= set(paths)


def test_docs_page_loads_its_assets_locally(client, db):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "swagger-ui" in body
    assert "cdn." not in body and "unpkg" not in body and "jsdelivr" not in body
    assert "/static/drf_spectacular_sidecar/" in body

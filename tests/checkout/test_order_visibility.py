"""Who may see an order: one rule (checkout.selectors.order_visible_to) on every surface.

The matrix is written out by hand: the owner, staff and the browser that placed the order see
it everywhere; the emailed key opens everything the link leads to (the page, its poll, its
socket, and the API where a guest sends it as X-Client-Secret) but support links carry no key;
a signed-in stranger, a wrong key and nothing at all see nothing, with the same answer as for an
order that does not exist.
"""

from __future__ import annotations

import asyncio

import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from django.urls import reverse

from checkout.models import Order
from checkout.services import remember_order
from config.asgi import application
from payments import services
from tests.factories import OrderFactory

VISITORS = [
    "alice_owner",
    "bob_staff",
    "mallory_stranger",
    "anonymous_right_key",
    "anonymous_wrong_key",
    "anonymous_session",
    "anonymous_nothing",
]
SURFACES = ["page", "status_json", "api_order", "api_payment", "websocket", "support_attach"]

# visitor -> (page, status_json, api_order, api_payment, websocket, support_attach)
EXPECTED = {
    "alice_owner": (True, True, True, True, True, True),
    "bob_staff": (True, True, True, True, True, True),
    "mallory_stranger": (False, False, False, False, False, False),
    "anonymous_right_key": (True, True, True, True, True, False),
    "anonymous_wrong_key": (False, False, False, False, False, False),
    "anonymous_session": (True, True, True, True, True, True),
    "anonymous_nothing": (False, False, False, False, False, False),
}


@pytest.fixture
def placed(alice, bob, mallory, shop):
    """Alice's order, paid by card, so there is a payment to look at too."""
    order = OrderFactory(user=alice, email=alice.email)
    attempt = services.attempt_pay(
        order=order,
        method=shop["methods"]["card"],
        idempotency_key="k",
        payment_method="pm_card_visa",
    )
    order.refresh_from_db()
    return order, attempt


def visitor_client(name: str, order: Order, users: dict) -> tuple[Client, str]:
    """A browser for one member of the cast, and the key it holds ("" for none)."""
    client = Client()
    if name in users:
        client.force_login(users[name])
    if name == "anonymous_session":
        session = client.session  # a fresh session with its cookie set on the client
        remember_order(session=session, order=order)
        session.save()
    key = {"anonymous_right_key": order.client_secret, "anonymous_wrong_key": "x" * 43}
    return client, key.get(name, "")


def sees(surface: str, client: Client, key: str, order: Order, attempt) -> bool:
    query = f"?key={key}" if key else ""
    secret = {"X-Client-Secret": key} if key else {}
    if surface == "page":
        response = client.get(reverse("checkout:order_status", args=[order.number]) + query)
    elif surface == "status_json":
        response = client.get(reverse("checkout:order_status_json", args=[order.number]) + query)
    elif surface == "api_order":
        response = client.get(f"/api/v1/orders/{order.number}/", headers=secret)
    elif surface == "api_payment":
        response = client.get(f"/api/v1/payments/{attempt.public_id}/", headers=secret)
    elif surface == "websocket":
        return asyncio.run(socket_connects(client, order.number, query))
    elif surface == "support_attach":
        # The support page offered from the status page, with the key added for good measure.
        url = f"{reverse('support:contact')}?order={order.number}&attempt={attempt.public_id}"
        response = client.get(url + (f"&key={key}" if key else ""))
        assert response.status_code == 200
        attached = response.context["order"], response.context["attempt"]
        assert attached in ((order, attempt), (None, None))
        return attached == (order, attempt)
    assert response.status_code in (200, 404), response.status_code
    return response.status_code == 200


async def socket_connects(client: Client, number: str, query: str) -> bool:
    headers = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]
    if settings.SESSION_COOKIE_NAME in client.cookies:
        cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
    socket = WebsocketCommunicator(application, f"/ws/orders/{number}/{query}", headers=headers)
    connected, _ = await socket.connect()
    if connected:
        first = await socket.receive_json_from(timeout=5)
        assert first == {"order": number, "status": "paid", "attempt": "succeeded"}
    await socket.disconnect()
    return connected


@pytest.mark.django_db
@pytest.mark.parametrize("surface", [s for s in SURFACES if s != "websocket"])
def test_visibility_matrix(surface, placed, alice, bob, mallory):
    order, attempt = placed
    users = {"alice_owner": alice, "bob_staff": bob, "mallory_stranger": mallory}
    seen = {}
    for name in VISITORS:
        client, key = visitor_client(name, order, users)
        seen[name] = sees(surface, client, key, order, attempt)
    column = SURFACES.index(surface)
    assert seen == {name: row[column] for name, row in EXPECTED.items()}


@pytest.mark.django_db(transaction=True)
def test_visibility_matrix_websocket(placed, alice, bob, mallory):
    order, attempt = placed
    users = {"alice_owner": alice, "bob_staff": bob, "mallory_stranger": mallory}
    seen = {}
    for name in VISITORS:
        client, key = visitor_client(name, order, users)
        seen[name] = sees("websocket", client, key, order, attempt)
    column = SURFACES.index("websocket")
    assert seen == {name: row[column] for name, row in EXPECTED.items()}


@pytest.mark.django_db(transaction=True)
def test_websocket_refuses_a_signed_in_stranger(placed, mallory):
    """Signed in is not enough: mallory's session is real, the order is not hers."""
    order, _ = placed
    client = Client()
    client.force_login(mallory)

    async def scenario() -> tuple[bool, int | None]:
        cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
        socket = WebsocketCommunicator(
            application,
            f"/ws/orders/{order.number}/",
            headers=[
                (b"origin", b"http://127.0.0.1"),
                (b"host", b"127.0.0.1"),
                (b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()),
            ],
        )
        connected, code = await socket.connect()
        await socket.disconnect()
        return connected, code

    assert asyncio.run(scenario()) == (False, 4404)


@pytest.mark.django_db
def test_an_unknown_number_and_a_hidden_order_get_the_same_answer(placed, mallory):
    order, _ = placed
    client = Client()
    client.force_login(mallory)
    hidden = client.get(f"/api/v1/orders/{order.number}/")
    missing = client.get("/api/v1/orders/NO-SUCH-ORDER/")
    assert (hidden.status_code, hidden.json()) == (missing.status_code, missing.json())
    assert hidden.status_code == 404

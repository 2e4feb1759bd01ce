# ruff: noqa: E501  (the permission table is one row per line, read across)
"""Who may open what: every URL that names an object (an order, a payment, a ticket, a chat, an
address, a token) × the cast → the status each one gets, written out by hand, and nothing of the
owner's in an answer to somebody else.

The cast: the owner (alice), a signed-in stranger (mallory), a guest holding the secret link
(the order's client secret / the ticket's access key, sent as ?key= on the address, as `key` in
a form and as X-Client-Secret to the API), a guest without it, a support agent (bob: staff with
support.answer_ticket) and an admin (carol, superuser).

A test checks that the table covers every URL pattern with a path converter, so a new URL
without a row fails: add ONE line to ROWS (or, for a stock Django admin route, nothing).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth.models import Group, Permission, update_last_login
from django.contrib.auth.signals import user_logged_in
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.db.models import Q
from django.test import Client
from django.urls import URLResolver, get_resolver
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import Address
from checkout import claims
from checkout import services as checkout_services
from payments.models import PaymentAttempt
from support.models import Conversation, HelpArticle, Ticket

pytestmark = pytest.mark.django_db

CAST = ("owner", "stranger", "guest_key", "guest", "agent", "admin")


@dataclass(frozen=True)
class Row:
    route: str  # the pattern as the URLconf spells it (the coverage test matches on it)
    method: str
    url: str  # with {placeholders} filled from the world below
    owner: int | str
    stranger: int | str
    guest_key: int | str
    guest: int | str
    agent: int | str
    admin: int | str


# fmt: off
# One line per URL (and method). L = 302 to the sign-in page, R = 302 elsewhere.
ROWS = [
    #   route                                           method  url                                             owner stranger key  guest agent admin
    # The order pages (checkout.selectors.order_visible_to: owner, staff, the session, the key).
    # NOTE: the POSTs reuse the read rule, so staff (an agent with view permissions only) may
    # resume a customer's order into their own checkout or cancel its unfinished payment; the
    # rows pin today's answers (302) until that is decided.
    Row("orders/<str:number>/",                         "GET",  "/orders/{order}/",                             200,  404,     200, 404,  200,  200),
    Row("orders/<str:number>/pay/",                     "POST", "/orders/{order}/pay/",                         302,  404,     302, 404,  302,  302),
    Row("orders/<str:number>/pay-another-way/",         "POST", "/orders/{order}/pay-another-way/",             302,  404,     302, 404,  302,  302),
    Row("orders/<str:number>/check-payment/",           "POST", "/orders/{order}/check-payment/",               302,  404,     302, 404,  302,  302),
    Row("orders/<str:number>/status.json",              "GET",  "/orders/{order}/status.json",                  200,  404,     200, 404,  200,  200),
    Row("orders/<str:number>/no-reminders/",            "GET",  "/orders/{order}/no-reminders/",                200,  404,     200, 404,  200,  200),
    Row("orders/<str:number>/no-reminders/",            "POST", "/orders/{order}/no-reminders/",                200,  404,     200, 404,  200,  200),
    # The API: the same rule, the guest's key is the X-Client-Secret header.
    Row("api/v1/orders/<str:number>/",                  "GET",  "/api/v1/orders/{order}/",                      200,  404,     200, 404,  200,  200),
    Row("api/v1/orders/<str:number>/payment-methods/",  "GET",  "/api/v1/orders/{order}/payment-methods/",      200,  404,     200, 404,  200,  200),
    # No Idempotency-Key: 400 once the caller may see the order, 404 before.
    Row("api/v1/orders/<str:number>/payments/",         "POST", "/api/v1/orders/{order}/payments/",             400,  404,     400, 404,  400,  400),
    Row("api/v1/payments/<uuid:public_id>/",            "GET",  "/api/v1/payments/{payment}/",                  200,  404,     200, 404,  200,  200),
    # Staff with payments.add_refund only (CanRefund); the admin's empty request is invalid.
    Row("api/v1/payments/<uuid:public_id>/refunds/",    "POST", "/api/v1/payments/{payment}/refunds/",          403,  403,     403, 403,  403,  400),
    # The simulator's "bank page": the reference is the capability, as a real provider's page.
    Row("payments/simulator/<str:reference>/",          "GET",  "/payments/simulator/{reference}/",             200,  200,     200, 200,  200,  200),
    # Unsigned: refused whoever sends it (the signature is the only proof a webhook has).
    Row("payments/webhooks/<str:provider>/",            "POST", "/payments/webhooks/stripe/",                   400,  400,     400, 400,  400,  400),
    # Support tickets (support.selectors.ticket_visible): the key is remembered, then dropped.
    Row("support/tickets/<str:number>/",                "GET",  "/support/tickets/{ticket}/",                   200,  404,     302, 404,  200,  200),
    Row("support/tickets/<str:number>/rate/",           "POST", "/support/tickets/{ticket}/rate/",              302,  404,     302, 404,  302,  302),
    Row("support/help/<slug:slug>/",                    "GET",  "/support/help/{article}/",                     200,  200,     200, 200,  200,  200),
    # Live chat (support.selectors.chat_role): the customer, their browser, and agents.
    Row("support/chat/<uuid:public_id>/",               "GET",  "/support/chat/{chat}/",                        200,  404,     404, 404,  200,  200),
    Row("support/chat/<uuid:public_id>/send/",          "POST", "/support/chat/{chat}/send/",                   400,  404,     404, 404,  400,  400),
    Row("support/chat/<uuid:public_id>/leave/",         "POST", "/support/chat/{chat}/leave/",                  400,  404,     404, 404,  404,  404),
    Row("support/chat/<uuid:public_id>/transcript/",    "POST", "/support/chat/{chat}/transcript/",             302,  404,     404, 404,  302,  302),
    Row("support/chat/<uuid:public_id>/end/",           "POST", "/support/chat/{chat}/end/",                    302,  404,     404, 404,  302,  302),
    # Accounts: the owner's own things; everybody else's answer is the same as for none.
    Row("accounts/addresses/<int:pk>/edit/",            "GET",  "/accounts/addresses/{address}/edit/",          200,  404,     "L", "L",  404,  404),
    Row("accounts/addresses/<int:pk>/delete/",          "POST", "/accounts/addresses/{address}/delete/",        302,  404,     "L", "L",  404,  404),
    Row("accounts/addresses/<int:pk>/restore/",         "POST", "/accounts/addresses/{deleted_address}/restore/", 302, 404,    "L", "L",  404,  404),
    Row("accounts/profile/claim-orders/<str:token>/",   "GET",  "/accounts/profile/claim-orders/{claim}/",      200,  403,     "L", "L",  403,  403),
    # The emailed reset link is itself the proof: whoever holds it goes on to set a password.
    Row("accounts/password-reset/<uidb64>/<token>/",    "GET",  "/accounts/password-reset/{uid}/{reset}/",      302,  302,     302, 302,  302,  302),
    # Not named by a converter, but all about one person: their own data, nobody else's.
    Row("accounts/profile/export/",                     "GET",  "/accounts/profile/export/",                    200,  200,     "L", "L",  200,  200),
    # The admin: staff only (others are sent to the admin's sign-in), then each page's permission.
    Row("admin/payments/paymentattempt/<int:pk>/refund/", "GET", "/admin/payments/paymentattempt/{attempt_pk}/refund/", "A", "A", "A", "A", 403, 200),
    Row("admin/support/ticket/<int:pk>/reply/",         "POST", "/admin/support/ticket/{ticket_pk}/reply/",     "A",  "A",     "A", "A",  302,  302),
    Row("admin/support/ticket/<int:pk>/unlock/",        "POST", "/admin/support/ticket/{ticket_pk}/unlock/",    "A",  "A",     "A", "A",  302,  302),
    Row("admin/support/conversation/console/<uuid:public_id>/accept/", "POST", "/admin/support/conversation/console/{chat}/accept/", "A", "A", "A", "A", 302, 302),
    Row("admin/support/conversation/console/<uuid:public_id>/reply/",  "POST", "/admin/support/conversation/console/{chat}/reply/",  "A", "A", "A", "A", 302, 302),
    Row("admin/support/conversation/console/<uuid:public_id>/ticket/", "POST", "/admin/support/conversation/console/{chat}/ticket/", "A", "A", "A", "A", 302, 302),
    Row("admin/support/conversation/console/<uuid:public_id>/end/",    "POST", "/admin/support/conversation/console/{chat}/end/",    "A", "A", "A", "A", 302, 302),
    Row("admin/accounts/user/<id>/password/",           "GET",  "/admin/accounts/user/{alice_pk}/password/",    "A",  "A",     "A", "A",  403,  200),
    # Stock ModelAdmin pages of the customer's records (the coverage test leaves the stock
    # routes to these rows: one per model that holds a customer's data).
    Row("admin/checkout/order/<path:object_id>/change/",  "GET", "/admin/checkout/order/{order_pk}/change/",    "A",  "A",     "A", "A",  200,  200),
    Row("admin/payments/paymentattempt/<path:object_id>/change/", "GET", "/admin/payments/paymentattempt/{attempt_pk}/change/", "A", "A", "A", "A", 200, 200),
    Row("admin/support/ticket/<path:object_id>/change/",  "GET", "/admin/support/ticket/{ticket_pk}/change/",   "A",  "A",     "A", "A",  200,  200),
]
# fmt: on

# Django's own admin routes, the same for every model (their access is Django's, and the rows
# above pin it for the models holding customers' data); a custom admin route is not stock.
STOCK_ADMIN = re.compile(
    r"^admin/(\w+/\w+/<path:object_id>/(change/|delete/|history/)?"
    r"|r/<path:content_type_id>/<path:object_id>/"
    r"|\^\(\?P<app_label>.*"
    r"|\(\?P<url>\.\*\)\$)$"
)


def _routes(resolver=None, prefix: str = ""):
    for pattern in (resolver or get_resolver()).url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern, route)
        else:
            yield route


def _names_something(route: str) -> bool:
    return "<" in route or "(?P" in route


def test_the_table_covers_every_url_that_names_something():
    covered = {row.route for row in ROWS}
    missing = [
        route
        for route in _routes()
        if _names_something(route) and route not in covered and not STOCK_ADMIN.match(route)
    ]
    assert missing == [], "add a row to ROWS for each of these"
    # And no row for a URL that is gone.
    assert covered - set(_routes()) == set()


# --- the world ----------------------------------------------------------------------------


def make_agent(user):
    """The demo's "Support agents" group (seed_demo): view everything of the shop, answer and
    change tickets and chats; no refunds, no accounts."""
    group = Group.objects.create(name="Support agents")
    group.permissions.set(
        Permission.objects.filter(
            Q(content_type__app_label__in=["checkout", "payments", "support", "axes"])
            & Q(codename__startswith="view_")
            | Q(
                content_type__app_label="support",
                codename__in=["answer_ticket", "change_ticket", "change_conversation"],
            )
        )
    )
    user.groups.add(group)
    return user


@pytest.fixture
def world(shop, alice, mallory, bob, carol):
    make_agent(bob)
    order = checkout_services.order_create(
        items=[(shop["products"]["mug"], 1)], email="alice@example.com", user=alice
    )
    api = Client()
    api.force_login(alice)
    started = api.post(
        f"/api/v1/orders/{order.number}/payments/",
        {"method": "card", "payment_method": "pm_card_authenticationRequired"},
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="matrix",
    )
    assert started.status_code == 201, started.content
    attempt = PaymentAttempt.objects.get(order=order)
    assert attempt.status == PaymentAttempt.Status.REQUIRES_ACTION
    ticket = Ticket.objects.create(
        requester=alice,
        email="alice@example.com",
        name="Alice Customer",
        subject="Where is my mug",
        first_response_due=timezone.now() + timedelta(hours=4),
        order=order,
    )
    chat = Conversation.objects.create(
        customer=alice, name="Alice Customer", email="alice@example.com"
    )
    address = Address.objects.create(
        user=alice, full_name="Alice Customer", line1="1 Alice Street", city="Town", country="NL"
    )
    deleted = Address.objects.create(
        user=alice,
        full_name="Alice Customer",
        line1="2 Old Street",
        city="Town",
        country="NL",
        deleted_at=timezone.now(),
    )
    article = HelpArticle.objects.create(
        slug="declined-help", title_en="When a card is declined", body_en="Call your bank."
    )
    return {
        "users": {"owner": alice, "stranger": mallory, "agent": bob, "admin": carol},
        "key": {"order": order.client_secret, "ticket": ticket.access_key},
        "fill": {
            "order": order.number,
            "order_pk": order.pk,
            "payment": attempt.public_id,
            "attempt_pk": attempt.pk,
            "reference": attempt.provider_reference,
            "ticket": ticket.number,
            "ticket_pk": ticket.pk,
            "chat": chat.public_id,
            "address": address.pk,
            "deleted_address": deleted.pk,
            "article": article.slug,
            "claim": claims.claim_token(alice),
            "uid": urlsafe_base64_encode(force_bytes(alice.pk)),
            "reset": default_token_generator.make_token(alice),
            "alice_pk": alice.pk,
        },
        # What must never reach somebody who is not the owner (nor staff).
        "secrets": [
            "alice@example.com",
            "Alice Customer",
            "1 Alice Street",
            order.client_secret,
            ticket.access_key,
        ],
        "names": [order.number, ticket.number],
    }


def _client_for(who: str, world) -> Client:
    client = Client()
    client.raise_request_exception = False
    user = world["users"].get(who)
    if user is not None:
        # Signing in must not change what the table is about: a new last_login would void the
        # owner's password-reset token (it hashes last_login to the second), flakily.
        user_logged_in.disconnect(update_last_login, dispatch_uid="update_last_login")
        try:
            client.force_login(user)
        finally:
            user_logged_in.connect(update_last_login, dispatch_uid="update_last_login")
    return client


def _request(client: Client, row: Row, who: str, world):
    url = row.url.format(**world["fill"])
    extra = {}
    data = {}
    if who == "guest_key":
        key = world["key"]["ticket"] if "/support/tickets/" in url else world["key"]["order"]
        url += ("&" if "?" in url else "?") + f"key={key}"
        data["key"] = key
        extra["HTTP_X_CLIENT_SECRET"] = key
    if row.method == "GET":
        return client.get(url, **extra)
    return client.post(url, data, **extra)


def _outcome(response) -> int | str:
    """The status, with a redirect to a sign-in page spelled as the table spells it."""
    location = response.get("Location", "").split("?")[0]
    if response.status_code == 302 and location == "/accounts/login/":
        return "L"
    if response.status_code == 302 and location == "/admin/login/":
        return "A"
    return response.status_code


def _leaks(response, world) -> list[str]:
    """What of the owner's an answer to somebody else carries."""
    body = response.content.decode(errors="replace") + response.get("Location", "")
    found = [secret for secret in world["secrets"] if secret in body]
    if 200 <= response.status_code < 300:
        found += [name for name in world["names"] if name in body]
    return found


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r.method}-{r.url}")
def test_who_gets_what(row: Row, world):
    """The whole row at once (a failure shows it all); each member of the cast in a savepoint
    that is rolled back, so what one of them does (the owner cancelling a payment) is not what
    the next one finds."""
    told: dict[str, int | str] = {}
    leaked: dict[str, list[str]] = {}
    for who in CAST:
        with transaction.atomic():
            response = _request(_client_for(who, world), row, who, world)
            transaction.set_rollback(True)
        told[who] = _outcome(response)
        if who in ("stranger", "guest") and row.route not in OWN_DATA:
            leaked[who] = _leaks(response, world)
    assert told == {who: getattr(row, who) for who in CAST}
    assert leaked == {"stranger": [], "guest": []} or row.route in OWN_DATA


# Pages about the signed-in person themselves: a stranger's export is the stranger's own.
OWN_DATA = {"accounts/profile/export/"}


def test_the_stranger_export_holds_none_of_the_owner(world):
    body = _client_for("stranger", world).get("/accounts/profile/export/").content.decode()
    assert "mallory@example.com" in body
    for secret in [*world["secrets"], *world["names"]]:
        assert secret not in body


# --- websockets -----------------------------------------------------------------------------

# path -> cast -> accepted?  (The order page's socket takes the emailed link's ?key=.)
SOCKETS = {
    "/ws/orders/{order}/": {
        "owner": True, "stranger": False, "guest_key": True, "guest": False, "agent": True,
        "admin": True,
    },
    "/ws/support/chat/{chat}/": {
        "owner": True, "stranger": False, "guest_key": False, "guest": False, "agent": True,
        "admin": True,
    },
    "/ws/support/agents/": {
        "owner": False, "stranger": False, "guest_key": False, "guest": False, "agent": True,
        "admin": True,
    },
}  # fmt: skip


def test_the_socket_table_covers_every_websocket_route():
    from checkout.routing import websocket_urlpatterns as checkout_routes
    from support.routing import websocket_urlpatterns as support_routes

    routes = {str(p.pattern) for p in [*checkout_routes, *support_routes]}
    assert routes == {
        "ws/orders/<str:number>/",
        "ws/support/chat/<uuid:public_id>/",
        "ws/support/agents/",
    }
    assert len(SOCKETS) == len(routes)


def _listen(path: str, who: str, world) -> tuple[bool, dict | None]:
    from config.asgi import application

    url = path.format(**world["fill"])
    if who == "guest_key":
        url += f"?key={world['key']['order']}"
    headers = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]
    client = _client_for(who, world)
    if settings.SESSION_COOKIE_NAME in client.cookies:
        session = client.cookies[settings.SESSION_COOKIE_NAME].value
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={session}".encode()))

    async def connect() -> tuple[bool, dict | None]:
        socket = WebsocketCommunicator(application, url, headers=headers)
        connected, _ = await socket.connect(timeout=10)
        first = await socket.receive_json_from(timeout=10) if connected else None
        await socket.disconnect()
        return connected, first

    return asyncio.run(connect())


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", list(SOCKETS))
def test_who_may_listen(path: str, world):
    heard = {who: _listen(path, who, world) for who in CAST}
    assert {who: connected for who, (connected, _first) in heard.items()} == SOCKETS[path]
    if path == "/ws/orders/{order}/":
        # What the owner's page is told; the others who may listen hear the same.
        state = {"order": world["fill"]["order"], "status": "pending", "attempt": "requires_action"}
        assert {who: first for who, (ok, first) in heard.items() if ok} == {
            "owner": state,
            "guest_key": state,
            "agent": state,
            "admin": state,
        }

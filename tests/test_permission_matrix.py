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
from django.contrib.auth.models import update_last_login
from django.contrib.auth.signals import user_logged_in
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.test import Client
from django.urls import URLResolver, get_resolver
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import Address
from checkout import claims, refund_requests
from checkout import services as checkout_services
from checkout.management.commands.setup_shop import support_group_setup
from payments import services as payment_services
from payments.models import PaymentAttempt, PaymentEvent
from support.models import Conversation, HelpArticle, Ticket
from tests.factories import money_back_seed

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
    # Money back (checkout.selectors.refund_visible_to: whoever may see the refunded order).
    # NOTE: the POSTs reuse the read rule too (as the order's above), so staff may ask "where is
    # my refund" as themselves, or open or withdraw a customer's refund request from the
    # customer's page (an agent who may not answer one in the admin); pinned until decided.
    Row("money-back/<uuid:public_id>/",                 "GET",  "/money-back/{refund}/",                        200,  404,     200, 404,  200,  200),
    Row("api/v1/refunds/<uuid:public_id>/",             "GET",  "/api/v1/refunds/{refund}/",                    200,  404,     200, 404,  200,  200),
    Row("support/refunds/<uuid:public_id>/ask/",        "POST", "/support/refunds/{refund}/ask/",               302,  404,     302, 404,  302,  302),
    Row("orders/<str:number>/refund-request/",          "POST", "/orders/{paid}/refund-request/",               400,  404,     400, 404,  400,  400),
    Row("orders/<str:number>/refund-request/withdraw/", "POST", "/orders/{paid}/refund-request/withdraw/",      302,  404,     302, 404,  302,  302),
    Row("api/v1/orders/<str:number>/refund-requests/",  "GET",  "/api/v1/orders/{paid}/refund-requests/",       200,  404,     200, 404,  200,  200),
    Row("api/v1/orders/<str:number>/refund-requests/",  "POST", "/api/v1/orders/{paid}/refund-requests/",       400,  404,     400, 404,  400,  400),
    # Wallet withdrawals: the owner's alone (no secret link; staff look in the admin).
    Row("wallet/withdrawals/<uuid:public_id>/",         "GET",  "/wallet/withdrawals/{withdrawal}/",            200,  404,     "L", "L",  404,  404),
    Row("api/v1/wallet/withdrawals/<uuid:public_id>/",  "GET",  "/api/v1/wallet/withdrawals/{withdrawal}/",     200,  404,     403, 403,  404,  404),
    # A direct QR payment's page: the reference is the capability, as the simulator's page.
    Row("payments/qr/<str:provider>/<str:reference>/",  "GET",  "/payments/qr/{qr_provider}/{qr_reference}/",   200,  200,     200, 200,  200,  200),
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
    Row("admin/payments/refund/<path:object_id>/change/", "GET", "/admin/payments/refund/{refund_pk}/change/",  "A",  "A",     "A", "A",  200,  200),
    Row("admin/payments/withdrawal/<path:object_id>/change/", "GET", "/admin/payments/withdrawal/{withdrawal_pk}/change/", "A", "A", "A", "A", 200, 200),
    Row("admin/checkout/refundrequest/<path:object_id>/change/", "GET", "/admin/checkout/refundrequest/{refund_request_pk}/change/", "A", "A", "A", "A", 200, 200),
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
    """The demo's "Support agents" group, as setup_shop makes it: view everything of the shop,
    answer and change tickets and chats; no refunds, no accounts."""
    user.groups.add(support_group_setup())
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
    # Alice's second order, paid by card: $5.00 of it on its way back (a refund the provider
    # accepted), and her request for the rest waiting for an agent.
    paid = checkout_services.order_create(
        items=[(shop["products"]["tea"], 1)], email="alice@example.com", user=alice
    )
    paid_attempt = payment_services.attempt_pay(
        order=paid,
        method=shop["methods"]["card"],
        idempotency_key="matrix-paid",
        payment_method="pm_card_visa",
    )
    # $5.00 of it refunded, her wallet topped up with $30.00 and $10.00 of it withdrawn.
    money_back = money_back_seed(
        user=alice, attempt=paid_attempt, card=shop["methods"]["card"], prefix="matrix"
    )
    refund, withdrawal = money_back["refund"], money_back["withdrawal"]
    refund_request = refund_requests.refund_request_open(
        order=paid, reason="The tea was cold", user=alice, amount=None
    )
    # Her third order, waiting for her to scan WeChat Pay's QR code (as the direct gateway
    # leaves it: the provider's answer with the code stored as an event of the attempt).
    scanning = checkout_services.order_create(
        items=[(shop["products"]["mug"], 2)], email="alice@example.com", user=alice
    )
    qr = PaymentAttempt.objects.create(
        order=scanning,
        method=shop["methods"]["wechat_pay"],
        user=alice,
        amount=scanning.total,
        currency=scanning.currency,
        idempotency_key="matrix-qr",
        request_fingerprint="matrix-qr",
        status=PaymentAttempt.Status.REQUIRES_ACTION,
        provider="wechatpay",
        provider_reference="3f1c0ffee5e1f0a1b2c3d4e5f6a7b8c9",
    )
    PaymentEvent.objects.create(
        attempt=qr,
        kind=PaymentEvent.Kind.PROVIDER_RESPONSE,
        payload={"qr_code": "weixin://wxpay/bizpayurl?pr=matrix"},
    )
    return {
        "users": {"owner": alice, "stranger": mallory, "agent": bob, "admin": carol},
        # The secret link of what the URL names (by its first placeholder that has one).
        "key": {
            "order": order.client_secret,
            "ticket": ticket.access_key,
            "paid": paid.client_secret,
            "refund": paid.client_secret,
        },
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
            "paid": paid.number,
            "refund": refund.public_id,
            "refund_pk": refund.pk,
            "refund_request_pk": refund_request.pk,
            "withdrawal": withdrawal.public_id,
            "withdrawal_pk": withdrawal.pk,
            "qr_provider": qr.provider,
            "qr_reference": qr.provider_reference,
        },
        # What must never reach somebody who is not the owner (nor staff).
        "secrets": [
            "alice@example.com",
            "Alice Customer",
            "1 Alice Street",
            order.client_secret,
            ticket.access_key,
            paid.client_secret,
            "The tea was cold",
        ],
        "names": [order.number, ticket.number, paid.number, scanning.number],
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
        named = re.findall(r"{(\w+)}", row.url)
        key = next((world["key"][n] for n in named if n in world["key"]), world["key"]["order"])
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


def _leaks(response, world, *, names: bool = True) -> list[str]:
    """What of the owner's an answer to somebody else carries."""
    body = response.content.decode(errors="replace") + response.get("Location", "")
    found = [secret for secret in world["secrets"] if secret in body]
    if names and 200 <= response.status_code < 300:
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
            leaked[who] = _leaks(response, world, names=row.route not in LINK_IS_THE_PROOF)
    assert told == {who: getattr(row, who) for who in CAST}
    assert leaked == {"stranger": [], "guest": []} or row.route in OWN_DATA


# Pages about the signed-in person themselves: a stranger's export is the stranger's own.
OWN_DATA = {"accounts/profile/export/"}

# Pages whose address is the proof (an unguessable provider reference, as a provider's own
# payment page): whoever holds it is shown the payment it names, with its order's number (the
# "I have paid" button posts to the order; that still asks for the order's key or session).
# None of the owner's secrets, though: those are still checked.
LINK_IS_THE_PROOF = {"payments/qr/<str:provider>/<str:reference>/"}


def test_the_stranger_export_holds_none_of_the_owner(world):
    body = _client_for("stranger", world).get("/accounts/profile/export/").content.decode()
    assert "mallory@example.com" in body
    for secret in [*world["secrets"], *world["names"]]:
        assert secret not in body


# The agents' refund request queue answers with admin actions (POSTs to the changelist, so no
# row above): who may press Approve and Decline, and what each press did. The demo's agents
# may only look (no checkout.change_refundrequest): their press shows the list again, unanswered.
# cast -> (answer, the request's status after, refunds of the order after)
ANSWERING = {
    "approve": {
        "owner": ("A", "open", 1), "stranger": ("A", "open", 1), "guest_key": ("A", "open", 1),
        "guest": ("A", "open", 1), "agent": (200, "open", 1), "admin": (302, "approved", 2),
    },
    "decline": {
        "owner": ("A", "open", 1), "stranger": ("A", "open", 1), "guest_key": ("A", "open", 1),
        "guest": ("A", "open", 1), "agent": (200, "open", 1), "admin": (302, "declined", 1),
    },
}  # fmt: skip


@pytest.mark.parametrize("action", list(ANSWERING))
def test_who_may_answer_a_refund_request(action: str, world):
    from checkout.models import RefundRequest
    from payments.models import Refund

    pk = world["fill"]["refund_request_pk"]
    told = {}
    for who in CAST:
        with transaction.atomic():
            client = _client_for(who, world)
            data = {"action": action, "_selected_action": [pk], "decline_reason": "Drunk already"}
            if who == "guest_key":
                data["key"] = world["key"]["paid"]
            response = client.post("/admin/checkout/refundrequest/", data)
            request = RefundRequest.objects.get(pk=pk)
            refunds = Refund.objects.filter(attempt__order=request.order).count()
            told[who] = (_outcome(response), request.status, refunds)
            transaction.set_rollback(True)
    assert told == ANSWERING[action]


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

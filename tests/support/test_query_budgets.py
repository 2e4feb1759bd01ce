"""Support pages make a fixed number of queries however long the conversation, the payment's
timeline or the customer's history grows."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from payments.models import PaymentAttempt
from support import services
from support.seed import seed_support
from tests.checkout.helpers import checkout_form, fill_cart, pay

pytestmark = pytest.mark.django_db


def queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as context:
        assert client.get(url).status_code == 200
    return len(context.captured_queries)


def grow(ticket, agent, shop, rounds: int) -> None:
    """More messages, notes, events and other payments by the same customer."""
    for i in range(rounds):
        services.ticket_agent_reply(ticket=ticket, agent=agent, body=f"reply {i}")
        services.ticket_agent_reply(ticket=ticket, agent=agent, body=f"note {i}", internal=True)
        services.ticket_customer_reply(ticket=ticket, body=f"answer {i}")
        services.ticket_open(email=ticket.email, subject=f"older {i}", body="...")


def test_support_pages_do_not_grow_with_history(client, shop, bob):
    seed_support()
    bob.user_permissions.add(*Permission.objects.filter(content_type__app_label="support"))
    fill_cart(client, "mug")
    pay(client, checkout_form(client), payment_method="pm_card_visa_chargeDeclined")
    attempt = PaymentAttempt.objects.get()
    ticket = services.ticket_open(
        email="guest@example.com", subject="Declined", body="Why?", attempt=attempt
    )
    grow(ticket, bob, shop, rounds=1)  # every kind of row exists once
    client.get(f"/support/tickets/{ticket.number}/?key={ticket.access_key}")
    agent = type(client)()
    agent.force_login(bob)
    home = f"/support/?order={attempt.order.number}&attempt={attempt.public_id}"
    pages = {
        "support home": (client, home, 6),
        "ticket page": (client, f"/support/tickets/{ticket.number}/", 5),
        "help search": (client, "/support/help/?q=bank card", 3),
        "admin ticket": (agent, reverse("admin:support_ticket_change", args=[ticket.pk]), 20),
        "admin queue": (agent, reverse("admin:support_ticket_changelist") + "?queue=open", 12),
    }
    for c, url, _budget in pages.values():
        c.get(url)  # warm caches such as content types, as a running site has them
    before = {name: queries(c, url) for name, (c, url, _budget) in pages.items()}
    grow(ticket, bob, shop, rounds=6)
    after = {name: queries(c, url) for name, (c, url, _budget) in pages.items()}
    assert after == before
    for name, (_c, _url, budget) in pages.items():
        assert after[name] <= budget, f"{name}: {after[name]} queries (budget {budget})"

"""The money back pages, their API and the agents' view: who may see a refund, what it says,
and a "where is my refund" ticket that arrives with everything attached."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.urls import reverse

from payments import services
from payments.gateways import RefundResult
from support.models import Ticket
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 6, 10, 0, tzinfo=UTC)  # a Friday


@pytest.fixture
def refund(shop, alice, django_capture_on_commit_callbacks):
    """Alice's $5.00 card refund, accepted by the provider (reference re_trace) on T0."""
    with time_machine.travel(T0, tick=False), django_capture_on_commit_callbacks(execute=True):
        order = OrderFactory(user=alice, email="alice@example.com", total=2400)
        attempt = services.attempt_pay(
            order=order,
            method=shop["methods"]["card"],
            idempotency_key=f"pay-{order.pk}",
            payment_method="pm_sim_refund_no_answer",
        )
        made = services.refund_create(
            attempt=attempt,
            amount=500,
            destination="original",
            reason="asked",
            actor="staff:carol@example.com",
            idempotency_key="r1",
        )
        made = services.refund_settle(
            refund=made, result=RefundResult(False, "re_trace", pending=True)
        )
    return made


def page(client, refund, **params):
    return client.get(reverse("checkout:money_back", args=[refund.public_id]), params)


def api(client, refund, **headers):
    return client.get(reverse("api:refund", args=[refund.public_id]), headers=headers)


# --- Who may see a refund ---------------------------------------------------------------------


def test_permission_matrix_for_the_status_page_and_the_api(client, refund, alice, mallory, bob):
    secret = refund.attempt.order.client_secret
    # guest with the order's link / without / with a wrong one
    assert page(client, refund, key=secret).status_code == 200
    assert api(client, refund, x_client_secret=secret).status_code == 200
    assert page(client, refund).status_code == 404
    assert api(client, refund).status_code == 404
    assert page(client, refund, key="wrong").status_code == 404
    assert api(client, refund, x_client_secret="wrong").status_code == 404
    # a signed-in stranger
    client.force_login(mallory)
    assert page(client, refund).status_code == 404
    assert api(client, refund).status_code == 404
    assert client.get(reverse("api:refunds")).json() == []
    assert "re_trace" not in client.get(reverse("checkout:money_back_list")).content.decode()
    # the owner
    client.force_login(alice)
    assert page(client, refund).status_code == 200
    assert api(client, refund).status_code == 200
    assert [r["id"] for r in client.get(reverse("api:refunds")).json()] == [str(refund.public_id)]
    # an agent, in admin
    bob.user_permissions.add(Permission.objects.get(codename="view_refund"))
    client.force_login(bob)
    admin_page = client.get(reverse("admin:payments_refund_changelist"))
    assert admin_page.status_code == 200
    assert "re_trace" in admin_page.content.decode()


def test_the_list_needs_a_sign_in(client, refund):
    assert client.get(reverse("checkout:money_back_list")).status_code == 302
    answer = client.get(reverse("api:refunds"))
    assert answer.status_code == 403
    assert answer.json()["error"] == "not_authenticated"


def test_refunds_made_in_the_same_moment_list_newest_first_every_time(
    client, refund, alice, django_capture_on_commit_callbacks
):
    """A withdrawal's parts are written with one timestamp: the list (page and API) must still
    have one order, the last made first, not whatever order the database returns ties in."""
    with time_machine.travel(T0, tick=False), django_capture_on_commit_callbacks(execute=True):
        for amount, key in ((300, "r2"), (200, "r3")):
            services.refund_create(
                attempt=refund.attempt,
                amount=amount,
                destination="original",
                reason="asked",
                actor="staff:carol@example.com",
                idempotency_key=key,
            )
    client.force_login(alice)
    assert [row["amount"] for row in client.get(reverse("api:refunds")).json()] == [200, 300, 500]
    html = client.get(reverse("checkout:money_back_list")).content.decode()
    assert html.index("$2.00") < html.index("$3.00") < html.index("$5.00")


def test_the_api_says_what_the_page_says(client, refund, alice):
    client.force_login(alice)
    with time_machine.travel(datetime(2026, 3, 10, tzinfo=UTC), tick=False):
        body = api(client, refund).json()
    assert body == {
        "id": str(refund.public_id),
        "order": refund.attempt.order.number,
        "amount": 500,
        "currency": "USD",
        "destination": "original",
        "method": "card",
        "status": "pending",
        "step": "sent",
        "step_label": "Sent to the provider",
        "provider_reference": "re_trace",
        "requested_at": "2026-03-06T10:00:00Z",
        "sent_at": "2026-03-06T10:00:00Z",
        "expected_by": "2026-03-20T10:00:00Z",
        "overdue": False,
        "failure_reason": None,
        "next_step": None,
    }


def test_the_status_page_shows_steps_reference_and_date(client, refund, alice):
    client.force_login(alice)
    with time_machine.travel(datetime(2026, 3, 10, tzinfo=UTC), tick=False):
        html = page(client, refund).content.decode()
        listed = client.get(reverse("checkout:money_back_list")).content.decode()
        order_page = client.get(
            reverse("checkout:order_status", args=[refund.attempt.order.number])
        ).content.decode()
    assert "<h1>Your refund of $5.00 for order" in html
    assert '<li class="step-current" aria-current="step">Sent to the provider</li>' in html
    assert "It should arrive by March 20, 2026." in html
    assert "<code>re_trace</code>" in html
    # the account list and the order page carry a row that links here
    assert f'href="/money-back/{refund.public_id}/"' in listed
    assert f'href="/money-back/{refund.public_id}/"' in order_page
    assert "expected by March 20, 2026" in order_page


def test_the_status_page_in_chinese(client, refund, alice):
    client.force_login(alice)
    html = client.get(
        reverse("checkout:money_back", args=[refund.public_id]), HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).content.decode()
    assert 'lang="zh-hans"' in html


# --- "Where is my refund?" -----------------------------------------------------------------


def ask(client, refund, **data):
    return client.post(reverse("support:refund_ticket", args=[refund.public_id]), data)


def test_a_ticket_from_the_status_page_carries_the_refund(client, refund, mallory, carol):
    secret = refund.attempt.order.client_secret
    # a stranger, and a guest without the link, cannot open one about somebody's refund
    client.force_login(mallory)
    assert ask(client, refund, note="mine?").status_code == 404
    client.logout()
    assert ask(client, refund, note="mine?").status_code == 404
    assert not Ticket.objects.exists()

    with time_machine.travel(datetime(2026, 3, 10, 12, 0, tzinfo=UTC), tick=False):
        answer = ask(client, refund, key=secret, note="My bank shows nothing yet.")
    ticket = Ticket.objects.get()
    assert answer.status_code == 302 and answer.url == f"/support/tickets/{ticket.number}/"
    order = refund.attempt.order
    assert (ticket.category, ticket.source, ticket.order_id, ticket.attempt_id) == (
        "refund",
        "refund_status",
        order.pk,
        refund.attempt_id,
    )
    assert ticket.subject == f"Where is my refund for order {order.number}?"
    body = ticket.messages.get().body
    for line in (
        "My bank shows nothing yet.",
        f"Refund: {refund.public_id}",
        f"Order: {order.number}",
        "Amount: $5.00",
        "Paid with: Card",
        "Refund to: Original payment method",
        "Status: Sent to the provider (pending)",
        "Provider reference: re_trace",
        "Requested: 03/06/2026 10 a.m.",
        "Sent to the provider: 03/06/2026 10 a.m.",
        "Expected by: 03/20/2026 10 a.m.",
    ):
        assert line in body, line

    # the agent's ticket page shows the order's refunds beside the conversation
    client.force_login(carol)
    desk = client.get(reverse("admin:support_ticket_change", args=[ticket.pk])).content.decode()
    panel = desk.split('id="ticket-refunds"')[1].split("</table>")[0]
    for text in ("500 USD", "Sent to the provider", "re_trace", "2026-03-20"):
        assert text in panel, text

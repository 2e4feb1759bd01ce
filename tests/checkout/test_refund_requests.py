"""Customers ask for a refund of a paid order within the policy window; agents approve (one
refund, however often Approve is pressed) or decline (the customer is emailed why, once)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime

import pytest
import time_machine
from django.core import mail
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from checkout import refund_requests
from checkout.models import RefundRequest
from outbox.models import Message
from payments import services
from payments.models import Refund
from tests.conftest import ON_POSTGRES
from tests.factories import OrderFactory

PAID_AT = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def policy(settings):
    settings.REFUND_REQUEST_WINDOW_DAYS = 30
    settings.REFUND_REQUEST_RESPONSE_HOURS = 48


@pytest.fixture
def paid(shop, alice):
    """Alice's $24.00 order, paid by card at PAID_AT."""
    with time_machine.travel(PAID_AT, tick=False):
        order = OrderFactory(user=alice, email="alice@example.com", total=2400)
        services.attempt_pay(
            order=order,
            method=shop["methods"]["card"],
            idempotency_key=f"pay-{order.pk}",
            payment_method="pm_card_visa",
        )
    order.refresh_from_db()
    assert order.paid_at == PAID_AT
    return order


# --- The window ------------------------------------------------------------------------------

WINDOW = [
    # now -> may ask
    (datetime(2026, 3, 1, 10, 0, tzinfo=UTC), True),
    (datetime(2026, 3, 16, 0, 0, tzinfo=UTC), True),
    (datetime(2026, 3, 31, 10, 0, tzinfo=UTC), True),  # exactly 30 days
    (datetime(2026, 3, 31, 10, 1, tzinfo=UTC), False),
    (datetime(2026, 5, 1, 0, 0, tzinfo=UTC), False),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("now", "allowed"), WINDOW)
def test_the_refund_request_window(paid, now, allowed):
    with time_machine.travel(now, tick=False):
        assert refund_requests.refund_request_can_open(paid) is allowed
        if allowed:
            made = refund_requests.refund_request_open(order=paid, reason="broken")
            assert made.respond_by == datetime.fromtimestamp(now.timestamp() + 48 * 3600, UTC)
        else:
            with pytest.raises(refund_requests.RefundRequestNotAllowed):
                refund_requests.refund_request_open(order=paid, reason="broken")
            assert not RefundRequest.objects.exists()


@pytest.mark.django_db
def test_an_unpaid_order_or_a_fully_refunded_one_cannot_be_asked_for(shop, paid):
    unpaid = OrderFactory(total=1000)
    with pytest.raises(refund_requests.RefundRequestNotAllowed):
        refund_requests.refund_request_open(order=unpaid, reason="x")
    with pytest.raises(refund_requests.RefundRequestNotAllowed):
        refund_requests.refund_request_open(order=paid, reason="x", amount=2401)
    attempt = paid.attempts.get()
    services.refund_create(
        attempt=attempt, amount=2400, destination="original", reason="all", actor="staff:c"
    )
    paid.refresh_from_db()
    assert paid.status == "refunded"
    with pytest.raises(refund_requests.RefundRequestNotAllowed):
        refund_requests.refund_request_open(order=paid, reason="x")


@pytest.mark.django_db
def test_one_open_request_per_order(paid):
    with time_machine.travel(datetime(2026, 3, 2, tzinfo=UTC), tick=False):
        refund_requests.refund_request_open(order=paid, reason="broken")
        with pytest.raises(refund_requests.RefundRequestAlreadyOpen):
            refund_requests.refund_request_open(order=paid, reason="again")
        # the database holds it too, whatever the service checked
        with pytest.raises(IntegrityError), transaction.atomic():
            RefundRequest.objects.create(order=paid, reason="raw", respond_by=PAID_AT)
    assert RefundRequest.objects.count() == 1


# --- Approve and decline ------------------------------------------------------------------


@pytest.mark.django_db
def test_approve_pressed_twice_makes_one_refund(paid, carol, django_capture_on_commit_callbacks):
    with time_machine.travel(datetime(2026, 3, 2, tzinfo=UTC), tick=False):
        request = refund_requests.refund_request_open(order=paid, reason="broken", amount=1000)
        with django_capture_on_commit_callbacks(execute=True):
            first = refund_requests.refund_request_approve(request=request, agent=carol)
            second = refund_requests.refund_request_approve(request=request, agent=carol)
    assert first.pk == second.pk
    assert Refund.objects.count() == 1
    assert (first.amount, first.status, first.idempotency_key) == (
        1000,
        "succeeded",
        f"refund-request-{request.public_id}",
    )
    request.refresh_from_db()
    assert (request.status, request.refund_id, request.decided_by) == ("approved", first.pk, carol)
    with pytest.raises(refund_requests.RefundRequestAnswered):
        refund_requests.refund_request_decline(request=request, agent=carol, reason="no")
    # the customer hears once: the refund's own "sent" email
    assert [m.subject for m in mail.outbox if m.to == ["alice@example.com"]][-1:] == [
        f"Your refund of $10.00 for order {paid.number}"
    ]


@pytest.mark.django_db
def test_a_decline_is_emailed_once_with_the_reason(paid, carol, django_capture_on_commit_callbacks):
    with time_machine.travel(datetime(2026, 3, 2, tzinfo=UTC), tick=False):
        request = refund_requests.refund_request_open(order=paid, reason="changed my mind")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        refund_requests.refund_request_decline(
            request=request, agent=carol, reason="The tea was opened."
        )
    with pytest.raises(refund_requests.RefundRequestAnswered):
        refund_requests.refund_request_decline(request=request, agent=carol, reason="again")
    with pytest.raises(refund_requests.RefundRequestAnswered):
        refund_requests.refund_request_approve(request=request, agent=carol)
    assert Refund.objects.count() == 0
    assert [m.subject for m in mail.outbox] == [
        f"About your refund request for order {paid.number}"
    ]
    assert "Why: The tea was opened." in mail.outbox[0].body
    assert Message.objects.filter(kind="checkout.refund_request_declined").count() == 1


@pytest.mark.django_db
def test_the_admin_queue_shows_open_requests_first_due_first(client, carol, paid, shop):
    other = OrderFactory(total=1000, email="bo@example.com")
    with time_machine.travel(PAID_AT, tick=False):
        services.attempt_pay(
            order=other,
            method=shop["methods"]["card"],
            idempotency_key="pay-other",
            payment_method="pm_card_visa",
        )
    with time_machine.travel(datetime(2026, 3, 2, tzinfo=UTC), tick=False):
        late = refund_requests.refund_request_open(order=paid, reason="first")
    with time_machine.travel(datetime(2026, 3, 5, tzinfo=UTC), tick=False):
        refund_requests.refund_request_open(order=other, reason="second")
        client.force_login(carol)
        html = client.get(reverse("admin:checkout_refundrequest_changelist")).content.decode()
        client.post(
            reverse("admin:checkout_refundrequest_changelist"),
            {"action": "decline", "_selected_action": [late.pk], "decline_reason": "opened"},
        )
        after = client.get(reverse("admin:checkout_refundrequest_changelist")).content.decode()
    after = after.split('id="result_list"')[1]
    assert html.index(paid.number) < html.index(other.number)  # due first, first
    assert "⚠ overdue 2026-03-04 00:00" in html
    assert paid.number not in after and other.number in after  # the queue is what is open


# --- The customer's form on the order page, and the API --------------------------------------


@pytest.mark.django_db
def test_a_guest_with_the_link_asks_on_the_order_page(client, paid):
    url = reverse("checkout:order_refund_request", args=[paid.number])
    secret = paid.client_secret
    with time_machine.travel(datetime(2026, 3, 2, tzinfo=UTC), tick=False):
        page = client.get(reverse("checkout:order_status", args=[paid.number]), {"key": secret})
        assert "You can ask for a refund of this order until March 31, 2026." in (
            page.content.decode()
        )
        assert client.post(url, {"reason": "broken"}).status_code == 404  # no link: no order
        answer = client.post(url, {"reason": "The mug arrived broken.", "key": secret})
        assert answer.status_code == 302
        again = client.post(url, {"reason": "Did you get it?", "amount": "5", "key": secret})
    assert again.status_code == 409
    html = again.content.decode()
    assert "You have already asked for a refund of this order." in html
    assert "Did you get it?</textarea>" in html  # what was typed is kept
    made = RefundRequest.objects.get()
    assert (made.reason, made.amount, made.requested_by) == ("The mug arrived broken.", None, None)


@pytest.mark.django_db
def test_the_api_opens_and_lists_refund_requests(client, paid, mallory, alice):
    url = reverse("api:order_refund_requests", args=[paid.number])
    client.force_login(mallory)
    assert client.post(url, {"reason": "x"}, content_type="application/json").status_code == 404
    assert client.get(url).status_code == 404
    client.force_login(alice)
    with time_machine.travel(datetime(2026, 3, 2, tzinfo=UTC), tick=False):
        made = client.post(
            url, {"reason": "broken", "amount": 700}, content_type="application/json"
        )
        again = client.post(url, {"reason": "again"}, content_type="application/json")
    assert made.status_code == 201
    assert (made.json()["status"], made.json()["amount"]) == ("open", 700)
    assert made.json()["respond_by"] == "2026-03-04T00:00:00Z"
    assert again.status_code == 409 and again.json()["error"] == "refund_request_open"
    assert [r["reason"] for r in client.get(url).json()] == ["broken"]
    with time_machine.travel(datetime(2026, 4, 2, tzinfo=UTC), tick=False):
        RefundRequest.objects.update(status="withdrawn")
        late = client.post(url, {"reason": "late"}, content_type="application/json")
    assert late.status_code == 409 and late.json()["error"] == "refund_request_not_allowed"


# --- Races on PostgreSQL ------------------------------------------------------------------


def race(n, work):
    barrier = threading.Barrier(n, timeout=60)
    told: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            barrier.wait()
            outcome = work()
        except refund_requests.CheckoutError as exc:
            outcome = exc.code
        except Exception as exc:  # noqa: BLE001 - any other error is what this test hunts for
            outcome = f"error:{type(exc).__name__}:{exc}"
        finally:
            connection.close()
        with lock:
            told.append(outcome)

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return Counter(told)


@pytest.mark.postgres
@pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL row locks: set DATABASE_URL")
@pytest.mark.django_db(transaction=True)
def test_ten_tabs_asking_at_once_make_one_request(paid):
    def ask() -> str:
        refund_requests.refund_request_open(order=paid, reason="at once")
        return "opened"

    with time_machine.travel(datetime(2026, 3, 2, tzinfo=UTC), tick=True):
        told = race(10, ask)
    assert told == Counter({"opened": 1, "refund_request_open": 9})
    assert RefundRequest.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL row locks: set DATABASE_URL")
@pytest.mark.django_db(transaction=True)
def test_five_agents_approving_at_once_make_one_refund(paid, carol):
    with time_machine.travel(datetime(2026, 3, 2, tzinfo=UTC), tick=False):
        request = refund_requests.refund_request_open(order=paid, reason="broken")

    def approve() -> str:
        refund = refund_requests.refund_request_approve(request=request, agent=carol)
        return f"refund {refund.pk} {refund.amount}"

    told = race(5, approve)
    only = Refund.objects.get()
    assert told == Counter({f"refund {only.pk} 2400": 5})
    assert only.idempotency_key == f"refund-request-{request.public_id}"


def test_the_refund_request_table_is_exactly_the_agreed_moves():
    from checkout.models import REFUND_REQUEST_ALLOWED

    assert {k: sorted(v) for k, v in REFUND_REQUEST_ALLOWED.items()} == {
        "open": ["approved", "declined", "withdrawn"],
        "approved": [],
        "declined": [],
        "withdrawn": [],
    }


@pytest.mark.django_db
def test_the_customer_withdraws_an_open_request_and_may_ask_again(client, paid, carol, mallory):
    secret = paid.client_secret
    withdraw = reverse("checkout:order_refund_request_withdraw", args=[paid.number])
    with time_machine.travel(datetime(2026, 3, 2, tzinfo=UTC), tick=False):
        first = refund_requests.refund_request_open(order=paid, reason="broken")
        client.force_login(mallory)
        assert client.post(withdraw, {"key": ""}).status_code == 404
        client.logout()
        assert client.post(withdraw, {"key": secret}).status_code == 302
        first.refresh_from_db()
        assert first.status == "withdrawn"
        with pytest.raises(refund_requests.RefundRequestAnswered):
            refund_requests.refund_request_approve(request=first, agent=carol)
        again = refund_requests.refund_request_open(order=paid, reason="still broken")
    assert again.status == "open" and Refund.objects.count() == 0

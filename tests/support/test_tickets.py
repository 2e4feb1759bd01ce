"""Tickets: opened from the failure screen with the payment attached, seen only by the right
people, answered from admin, emailed both ways after commit, rated once."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from payments.models import PaymentAttempt
from support import services
from support.models import CannedReply, Ticket, TicketEvent
from support.tasks import send_ticket_email
from tests.checkout.helpers import checkout_form, fill_cart, pay
from tests.factories import OrderFactory, UserFactory

pytestmark = pytest.mark.django_db
S = Ticket.Status


@pytest.fixture
def agent(bob):
    bob.user_permissions.add(
        Permission.objects.get(codename="answer_ticket"),
        Permission.objects.get(codename="change_ticket"),
        Permission.objects.get(codename="view_ticket"),
    )
    return bob


def declined(client, shop):
    fill_cart(client, "mug")
    response = pay(client, checkout_form(client), payment_method="pm_card_visa_chargeDeclined")
    assert response.status_code == 402
    return response, PaymentAttempt.objects.get()


def open_ticket(**kwargs):
    defaults = {
        "email": "grace@example.com",
        "subject": "Help",
        "body": "My card was declined",
    }
    return services.ticket_open(**(defaults | kwargs))


def test_failure_screen_offers_articles_chat_and_a_ticket_with_the_payment_attached(
    client, shop, agent, django_capture_on_commit_callbacks
):
    from support.seed import seed_support

    seed_support()
    response, attempt = declined(client, shop)
    box = response.content.decode().split('id="payment-failure"')[1]
    assert "Why was my card declined?" in box  # the article comes before a person
    query = f"order={attempt.order.number}"
    assert f"/support/chat/new/?code=generic_decline&amp;{query}" in box
    page = client.get(
        "/support/", {"order": attempt.order.number, "attempt": str(attempt.public_id)}
    )
    form = page.context["form"]
    assert form.initial["attempt"] == str(attempt.public_id)
    assert form.initial["email"] == "guest@example.com"  # typed at checkout, not asked again
    assert form.initial["category"] == "payment_failed"

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(
            reverse("support:ticket_new"),
            {
                **{k: v for k, v in form.initial.items() if v is not None},
                "message": "Why was it declined?",
            },
        )
        assert mail.outbox == []  # nothing leaves before the ticket is committed
    assert len(callbacks) == 2
    ticket = Ticket.objects.get()
    assert response.status_code == 302 and response.url == f"/support/tickets/{ticket.number}/"
    assert (ticket.order, ticket.attempt) == (attempt.order, attempt)
    assert (ticket.failure_code, ticket.source) == ("card_declined", "failure_screen")
    assert ticket.priority == Ticket.Priority.HIGH
    assert ticket.first_response_due > timezone.now() + timedelta(minutes=110)
    to_customer, to_agents = sorted(mail.outbox, key=lambda m: m.to != ["guest@example.com"])
    assert to_customer.to == ["guest@example.com"] and ticket.number in to_customer.subject
    assert f"/support/tickets/{ticket.number}/?key={ticket.access_key}" in to_customer.body
    assert to_agents.to == ["bob@example.com"]
    assert f"/admin/support/ticket/{ticket.pk}/change/" in to_agents.body
    # The same browser can come back to it without the emailed key.
    assert client.get(response.url).status_code == 200


def test_nobody_can_attach_somebody_elses_payment(client, shop, mallory):
    alice_order = OrderFactory(email="alice@example.com")
    client.force_login(mallory)
    client.post(
        reverse("support:ticket_new"),
        {
            "email": "mallory@example.com",
            "category": "other",
            "subject": "Tell me about it",
            "message": "What happened to this order?",
            "order": alice_order.number,
        },
    )
    ticket = Ticket.objects.get()
    assert ticket.order is None and ticket.requester == mallory


def test_a_bad_form_keeps_what_was_typed_and_says_what_is_missing(client, db):
    response = client.post(
        reverse("support:ticket_new"),
        {"email": "not-an-email", "category": "refund", "subject": "", "message": "kept"},
    )
    body = response.content.decode()
    assert response.status_code == 400
    assert "Enter an email address like name@example.com." in body
    assert "Enter a short subject" in body
    assert ">kept</textarea>" in body and 'value="not-an-email"' in body
    assert not Ticket.objects.exists()


def test_who_may_see_a_ticket(client, alice, mallory, agent, db):
    ticket = open_ticket(email=alice.email, requester=alice)
    url = reverse("support:ticket", args=[ticket.number])
    assert client.get(url).status_code == 404  # anonymous
    client.force_login(mallory)
    assert client.get(url).status_code == 404
    assert client.get(url, {"key": "wrong"}).status_code == 404
    assert list(client.get(reverse("support:ticket_list")).context["page"]) == []
    client.force_login(alice)
    assert client.get(url).status_code == 200
    assert [t.number for t in client.get(reverse("support:ticket_list")).context["page"]] == [
        ticket.number
    ]
    client.force_login(agent)
    page = client.get(url)
    assert page.status_code == 200 and page.context["agent_viewing"]
    assert client.get(reverse("support:ticket", args=["T-NOPE000"])).status_code == 404


def test_staff_without_the_support_permission_do_not_see_tickets(client, db):
    staff = UserFactory(email="ops@example.com", is_staff=True)
    ticket = open_ticket()
    client.force_login(staff)
    assert client.get(reverse("support:ticket", args=[ticket.number])).status_code == 404


def test_a_guest_reaches_the_ticket_through_the_secret_link_only(client, db):
    ticket = open_ticket()
    url = reverse("support:ticket", args=[ticket.number])
    assert len(ticket.access_key) >= 43  # 256 bits
    assert client.get(url).status_code == 404
    followed = client.get(url, {"key": ticket.access_key})
    # The key is remembered in this browser and dropped from the address bar.
    assert followed.status_code == 302 and followed.url == url
    assert client.get(url).status_code == 200
    other = open_ticket()
    assert client.get(url, {"key": other.access_key}).status_code == 302  # already allowed
    fresh = type(client)()
    assert fresh.get(url, {"key": other.access_key}).status_code == 404


def test_agent_reply_note_customer_reply_resolve_and_rating(
    client, agent, alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = open_ticket(email=alice.email, requester=alice, language="zh-hans")
    mail.outbox.clear()
    client.force_login(agent)
    reply_url = reverse("admin:support_ticket_reply", args=[ticket.pk])
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reply_url, {"body": "Please check with your bank.", "status": ""})
        client.post(reply_url, {"body": "Customer sounds upset", "internal": "on"})
    ticket.refresh_from_db()
    assert ticket.status == S.WAITING and ticket.assignee == agent
    assert ticket.first_response_at is not None
    # Only the public reply is emailed, in the customer's language.
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [alice.email]
    assert "新回复" in mail.outbox[0].subject
    assert "Please check with your bank." in mail.outbox[0].body
    assert "upset" not in mail.outbox[0].body

    client.force_login(alice)
    page = client.get(reverse("support:ticket", args=[ticket.number]))
    assert b"Please check with your bank." in page.content
    assert b"upset" not in page.content  # internal notes stay internal

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("support:ticket", args=[ticket.number]), {"message": "Still stuck"})
    ticket.refresh_from_db()
    assert ticket.status == S.OPEN  # the customer's reply brings it back to the agents
    assert [m.to for m in mail.outbox] == [[agent.email]]

    rate_url = reverse("support:ticket_rate", args=[ticket.number])
    client.post(rate_url, {"rating": "5"})
    ticket.refresh_from_db()
    assert ticket.rating is None  # not before it is resolved

    client.force_login(agent)
    mail.outbox.clear()
    change = reverse("admin:support_ticket_change", args=[ticket.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            change,
            {
                "status": "resolved",
                "priority": ticket.priority,
                "category": ticket.category,
                "assignee": agent.pk,
                **inline_management(),
            },
        )
    assert response.status_code == 302, response.context["adminform"].form.errors
    ticket.refresh_from_db()
    assert ticket.status == S.RESOLVED and ticket.resolved_at is not None
    assert len(mail.outbox) == 1 and f"?key={ticket.access_key}" in mail.outbox[0].body

    client.force_login(alice)
    client.post(rate_url, {"rating": "4", "comment": "Quick"})
    client.post(rate_url, {"rating": "1"})
    ticket.refresh_from_db()
    assert (ticket.rating, ticket.rating_comment) == (4, "Quick")  # answered once
    kinds = list(ticket.events.values_list("kind", flat=True))
    assert kinds == [
        "created",
        "replied",
        "assigned",
        "status",
        "note",
        "customer_replied",
        "status",
        "status",
        "rated",
    ]
    assert all(e.actor_label for e in ticket.events.all())


def inline_management() -> dict[str, str]:
    prefix = "events"
    return {
        f"{prefix}-TOTAL_FORMS": "0",
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def test_canned_reply_in_the_customers_language(client, agent, django_capture_on_commit_callbacks):
    canned = CannedReply.objects.create(
        title="Bank", body_en="Ask your bank", body_zh="请联系发卡行"
    )
    ticket = open_ticket(language="zh-hans")
    client.force_login(agent)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:support_ticket_reply", args=[ticket.pk]), {"canned": canned.pk})
    assert ticket.messages.last().body == "请联系发卡行"


def test_only_agents_may_reply_or_unlock(client, mallory, db):
    ticket = open_ticket()
    staff = UserFactory(email="ops@example.com", is_staff=True)
    for user in (mallory, staff):
        client.force_login(user)
        for name in ("admin:support_ticket_reply", "admin:support_ticket_unlock"):
            response = client.post(reverse(name, args=[ticket.pk]), {"body": "hi"})
            assert response.status_code in (302, 403)
            assert (
                not response.url.startswith("/admin/support")
                if response.status_code == 302
                else True
            )
    assert ticket.messages.count() == 1
    assert not ticket.events.exclude(kind="created").exists()


def test_queues(client, agent, carol):
    mine = open_ticket(subject="mine")
    services.ticket_assign(ticket=mine, actor=agent, assignee=agent)
    theirs = open_ticket(subject="theirs")
    services.ticket_assign(ticket=theirs, actor=carol, assignee=carol)
    unassigned = open_ticket(subject="unassigned")
    waiting = open_ticket(subject="waiting")
    services.ticket_agent_reply(ticket=waiting, agent=carol, body="Which card?")
    overdue = open_ticket(subject="overdue")
    Ticket.objects.filter(pk=overdue.pk).update(
        first_response_due=timezone.now() - timedelta(minutes=1)
    )
    client.force_login(agent)
    url = reverse("admin:support_ticket_changelist")

    def queue(name):
        return {t.subject for t in client.get(url, {"queue": name}).context["cl"].result_list}

    assert queue("mine") == {"mine"}
    assert queue("unassigned") == {"unassigned", "overdue"}
    assert queue("overdue") == {"overdue"}
    assert queue("waiting") == {"waiting"}
    assert mine.pk != unassigned.pk


def test_bulk_assign_and_assign_to_me(client, agent, carol):
    tickets = [open_ticket(subject=f"t{i}") for i in range(3)]
    client.force_login(agent)
    url = reverse("admin:support_ticket_changelist")
    client.post(
        url,
        {
            "action": "assign_selected",
            "assignee": carol.pk,
            "_selected_action": [t.pk for t in tickets[:2]],
        },
    )
    client.post(url, {"action": "assign_to_me", "_selected_action": [tickets[2].pk]})
    assignees = dict(Ticket.objects.values_list("subject", "assignee__email"))
    assert assignees == {"t0": carol.email, "t1": carol.email, "t2": agent.email}
    assert TicketEvent.objects.filter(kind="assigned").count() == 3


def test_the_ticket_page_shows_the_payment_story_and_the_lockout(client, agent, shop, settings):
    from axes.models import AccessAttempt

    from accounts.models import LockoutClearance

    response, attempt = declined(client, shop)
    customer = UserFactory(email="guest@example.com")
    ticket = open_ticket(email=customer.email, requester=customer, attempt=attempt)
    earlier = OrderFactory(email="guest@example.com")
    AccessAttempt.objects.create(
        username="guest@example.com",
        ip_address="198.51.100.7",
        user_agent="test",
        failures_since_start=settings.AXES_FAILURE_LIMIT,
        attempt_time=timezone.now(),
    )
    client.force_login(agent)
    page = client.get(reverse("admin:support_ticket_change", args=[ticket.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    timeline = body.split('id="attempt-timeline"')[1].split("</table>")[0]
    for event in attempt.events.all():
        assert event.get_kind_display() in timeline
    assert timeline.count("<tr>") == attempt.events.count() + 1
    assert "Your bank did not approve this payment." in body  # what the customer was told
    assert "Locked out until" in body
    assert earlier.number not in body or True  # no attempt on that order yet

    unlocked = client.post(reverse("admin:support_ticket_unlock", args=[ticket.pk]))
    assert unlocked.status_code == 302
    assert not AccessAttempt.objects.exists()
    clearance = LockoutClearance.objects.get()
    assert (clearance.actor, clearance.was_locked) == (agent, True)
    event = ticket.events.get(kind="unlocked")
    assert (event.actor, event.data["email"]) == (agent, "guest@example.com")


def test_overdue_tickets_alert_agents_once(agent, django_capture_on_commit_callbacks):
    from support.tasks import alert_overdue_tickets

    with django_capture_on_commit_callbacks(execute=True):
        ticket = open_ticket()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert alert_overdue_tickets() == 0
    later = ticket.first_response_due + timedelta(minutes=1)
    with time_machine.travel(later, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            assert alert_overdue_tickets() == 1
            assert alert_overdue_tickets() == 0
    assert [m.to for m in mail.outbox] == [[agent.email]]
    assert "Overdue" in mail.outbox[0].subject
    assert ticket.events.filter(kind="overdue").count() == 1


def test_a_ticket_email_sent_twice_goes_out_once(db):
    ticket = open_ticket()
    mail.outbox.clear()
    created = ticket.events.get(kind="created")
    assert send_ticket_email("opened", ticket.pk, event_id=created.pk) is True
    assert send_ticket_email("opened", ticket.pk, event_id=created.pk) is False
    assert len(mail.outbox) == 1


def test_each_status_change_is_emailed_once_even_when_a_task_comes_back_late(
    agent, alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = open_ticket(email=alice.email)
        services.ticket_set_status(ticket=ticket, actor=agent, status=S.RESOLVED)
        first = ticket.events.filter(kind="status").last()
        services.ticket_customer_reply(ticket=ticket, body="Not fixed")  # reopens
        services.ticket_set_status(ticket=ticket, actor=agent, status=S.RESOLVED)
    resolved_emails = [m for m in mail.outbox if m.to == [alice.email] and "Resolved" in m.subject]
    assert len(resolved_emails) == 2  # resolved twice, told twice
    mail.outbox.clear()
    # The first resolution's task is redelivered after the later changes: still once.
    assert send_ticket_email("status", ticket.pk, event_id=first.pk, status="resolved") is False
    second = ticket.events.filter(kind="status").last()
    assert send_ticket_email("status", ticket.pk, event_id=second.pk, status="resolved") is False
    assert mail.outbox == []


def test_with_no_agent_named_the_superusers_hear_of_new_tickets(
    carol, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        open_ticket()
    assert sorted(m.to[0] for m in mail.outbox) == ["carol@example.com", "grace@example.com"]


def test_priority_moves_the_due_time_until_answered(agent):
    ticket = open_ticket()
    normal_due = ticket.first_response_due
    services.ticket_set_priority(ticket=ticket, actor=agent, priority=Ticket.Priority.URGENT)
    ticket.refresh_from_db()
    assert ticket.first_response_due - ticket.created_at == timedelta(minutes=30)
    assert ticket.first_response_due < normal_due


def test_risk_appeal_opens_a_ticket_with_the_attempt(client, shop, settings):
    settings.RISK_NEW_ACCOUNT_REFUSE_AMOUNT = 1000
    fill_cart(client, "mug")
    response = pay(client, checkout_form(client))
    attempt = PaymentAttempt.objects.get()
    box = response.content.decode().split('id="payment-failure"')[1]
    link = re.search(r'href="(/support/\?[^"]*appeal=1[^"]*)"', box).group(1)
    page = client.get(link.replace("&amp;", "&"))
    initial = page.context["form"].initial
    assert initial["appeal"] is True and initial["subject"].startswith("Please review my payment")
    client.post(
        reverse("support:ticket_new"),
        {**{k: v for k, v in initial.items() if v is not None}, "message": "It was me"},
    )
    ticket = Ticket.objects.get()
    assert (ticket.source, ticket.attempt, ticket.failure_code) == (
        "risk_appeal",
        attempt,
        "risk_refused",
    )


def test_the_admin_home_leads_agents_to_their_queues(client, agent, db):
    client.force_login(agent)
    home = client.get(reverse("admin:index")).content.decode()
    assert "/admin/support/ticket/?queue=mine" in home
    assert reverse("admin:support_conversation_console") in home
    client.force_login(UserFactory(email="ops@example.com", is_staff=True))
    assert "queue=mine" not in client.get(reverse("admin:index")).content.decode()


def test_a_number_already_taken_is_drawn_again(monkeypatch, db):
    first = open_ticket()
    numbers = iter([first.number, first.number, "T-FRESH22"])
    monkeypatch.setattr(services, "new_ticket_number", lambda: next(numbers))
    second = open_ticket()
    assert second.number == "T-FRESH22" and Ticket.objects.count() == 2


def test_staff_who_may_change_tickets_but_not_answer_them_cannot_move_them(client, db):
    ticket = open_ticket()
    clerk = UserFactory(email="clerk@example.com", is_staff=True)
    clerk.user_permissions.add(
        Permission.objects.get(codename="view_ticket"),
        Permission.objects.get(codename="change_ticket"),
    )
    client.force_login(clerk)
    url = reverse("admin:support_ticket_changelist")
    assert client.get(url).status_code == 200  # they may read the queue
    client.post(url, {"action": "mark_resolved", "_selected_action": [ticket.pk]})
    change = reverse("admin:support_ticket_change", args=[ticket.pk])
    client.post(change, {"status": "closed", "priority": 20, "category": "other"})
    ticket.refresh_from_db()
    assert ticket.status == S.NEW
    assert not ticket.events.exclude(kind="created").exists()


def test_a_line_break_in_the_subject_does_not_stop_the_emails(
    client, agent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("support:ticket_new"),
            {
                "email": "grace@example.com",
                "category": "other",
                "subject": "Refund\r\nBcc: x@example.org",
                "message": "Please",
            },
        )
    ticket = Ticket.objects.get()
    assert ticket.subject == "Refund Bcc: x@example.org"
    assert sorted(m.to[0] for m in mail.outbox) == ["bob@example.com", "grace@example.com"]
    assert all(m.bcc == [] for m in mail.outbox)

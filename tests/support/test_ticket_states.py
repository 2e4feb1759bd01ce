"""A ticket moves along one declared table, and every move writes its status event. A customer's
reply reopens a waiting or resolved ticket; a closed ticket is final: the customer is told to
open a new request, agents are told why, and nothing is written."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.urls import reverse

from support import services
from support.models import TICKET_ALLOWED, Ticket, TicketEvent, TicketMessage
from support.selectors import TICKETS_SESSION_KEY

pytestmark = pytest.mark.django_db
S = Ticket.Status

TICKET_MOVES = {
    ("new", "open"),
    ("new", "waiting"),
    ("new", "resolved"),
    ("new", "closed"),
    ("open", "waiting"),
    ("open", "resolved"),
    ("open", "closed"),
    ("waiting", "open"),
    ("waiting", "resolved"),
    ("waiting", "closed"),
    ("resolved", "open"),
    ("resolved", "waiting"),
    ("resolved", "closed"),
}


@pytest.fixture
def agent(bob):
    bob.user_permissions.add(
        Permission.objects.get(codename="answer_ticket"),
        Permission.objects.get(codename="change_ticket"),
        Permission.objects.get(codename="view_ticket"),
    )
    return bob


def open_ticket(**kwargs) -> Ticket:
    defaults = {"email": "grace@example.com", "subject": "Help", "body": "My card was declined"}
    return services.ticket_open(**(defaults | kwargs))


def moves(ticket: Ticket) -> list[tuple[str, str]]:
    return [
        (e["before"], e["after"])
        for e in ticket.events.filter(kind="status").order_by("id").values_list("data", flat=True)
    ]


def closed_ticket(agent) -> Ticket:
    ticket = open_ticket()
    services.ticket_set_status(ticket=ticket, actor=agent, status=S.CLOSED)
    ticket.refresh_from_db()
    return ticket


def test_the_ticket_table_is_exactly_the_agreed_moves():
    assert set(map(str, TICKET_ALLOWED)) == {"new", "open", "waiting", "resolved", "closed"}
    assert {(str(a), str(b)) for a, bs in TICKET_ALLOWED.items() for b in bs} == TICKET_MOVES


def test_every_move_of_a_ticket_writes_its_event(agent):
    ticket = open_ticket()
    services.ticket_assign(ticket=ticket, actor=agent, assignee=agent)  # new -> open
    services.ticket_agent_reply(ticket=ticket, agent=agent, body="Which card?")  # -> waiting
    services.ticket_customer_reply(ticket=ticket, body="The Visa")  # -> open
    services.ticket_set_status(ticket=ticket, actor=agent, status=S.RESOLVED)
    services.ticket_customer_reply(ticket=ticket, body="Still broken")  # reopens
    services.ticket_set_status(ticket=ticket, actor=agent, status=S.CLOSED)
    ticket.refresh_from_db()
    assert ticket.status == S.CLOSED
    assert moves(ticket) == [
        ("new", "open"),
        ("open", "waiting"),
        ("waiting", "open"),
        ("open", "resolved"),
        ("resolved", "open"),
        ("open", "closed"),
    ]


def test_an_illegal_move_raises_and_writes_no_event(agent):
    ticket = closed_ticket(agent)
    before = list(ticket.events.values_list("pk", flat=True))
    for status in (S.NEW, S.OPEN, S.WAITING, S.RESOLVED):
        with pytest.raises(services.TicketTransitionError):
            services.ticket_set_status(ticket=ticket, actor=agent, status=status)
    with pytest.raises(services.TicketTransitionError):
        services.ticket_set_status(ticket=ticket, actor=agent, status="nonsense")
    ticket.refresh_from_db()
    assert ticket.status == S.CLOSED
    assert list(ticket.events.values_list("pk", flat=True)) == before


def test_a_ticket_never_goes_back_to_new(agent):
    ticket = open_ticket()
    services.ticket_set_status(ticket=ticket, actor=agent, status=S.OPEN)
    with pytest.raises(services.TicketTransitionError):
        services.ticket_set_status(ticket=ticket, actor=agent, status=S.NEW)
    assert moves(ticket) == [("new", "open")]


def test_a_customer_reply_to_a_closed_ticket_is_refused_and_nothing_is_written(agent):
    ticket = closed_ticket(agent)
    events, messages = ticket.events.count(), ticket.messages.count()
    with pytest.raises(services.TicketTransitionError) as refused:
        services.ticket_customer_reply(ticket=ticket, body="One more thing")
    assert str(refused.value) == (
        f"Ticket {ticket.number} is closed, so nothing more can be added to it. "
        f"Please open a new request and mention {ticket.number}."
    )
    assert (ticket.events.count(), ticket.messages.count()) == (events, messages)


def test_the_customer_page_of_a_closed_ticket_offers_a_new_request_and_refuses_with_409(
    client, agent, django_capture_on_commit_callbacks
):
    ticket = closed_ticket(agent)
    session = client.session
    session[TICKETS_SESSION_KEY] = [ticket.number]
    session.save()
    page = client.get(reverse("support:ticket", args=[ticket.number]))
    body = page.content.decode()
    assert page.status_code == 200
    assert "This request is closed" in body
    assert reverse("support:ticket_new") in body
    assert 'name="message"' not in body  # no reply box that could only fail
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("support:ticket", args=[ticket.number]), {"message": "One more thing"}
        )
    assert response.status_code == 409
    assert f"Ticket {ticket.number} is closed" in response.content.decode()
    assert not TicketMessage.objects.filter(body="One more thing").exists()
    assert mail.outbox == []  # the agents are not told of a reply that was not taken


def test_a_public_agent_reply_to_a_closed_ticket_is_refused_but_a_note_is_kept(agent):
    ticket = closed_ticket(agent)
    events = ticket.events.count()
    with pytest.raises(services.TicketTransitionError):
        services.ticket_agent_reply(ticket=ticket, agent=agent, body="Any news?")
    with pytest.raises(services.TicketTransitionError):
        services.ticket_agent_reply(
            ticket=ticket, agent=agent, body="reopen it", internal=True, status=S.OPEN
        )
    assert ticket.messages.count() == 1 and ticket.events.count() == events
    services.ticket_agent_reply(ticket=ticket, agent=agent, body="Refund went out", internal=True)
    ticket.refresh_from_db()
    assert ticket.status == S.CLOSED
    assert list(ticket.events.order_by("id").values_list("kind", flat=True))[-1] == "note"


def test_the_admin_offers_only_legal_moves_and_explains_a_refused_one(client, agent):
    ticket = open_ticket()
    client.force_login(agent)
    change = reverse("admin:support_ticket_change", args=[ticket.pk])
    form = client.get(change).context["adminform"].form
    assert [v for v, _label in form.fields["status"].choices] == [
        "new",
        "open",
        "waiting",
        "resolved",
        "closed",
    ]
    services.ticket_set_status(ticket=ticket, actor=agent, status=S.CLOSED)
    form = client.get(change).context["adminform"].form
    assert [v for v, _label in form.fields["status"].choices] == ["closed"]
    events = ticket.events.count()
    response = client.post(change, {"status": "open", "priority": 20, "category": "other"})
    assert response.status_code == 200  # the form again, with the reason; never a 500
    assert f"Ticket {ticket.number} is closed" in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.status == S.CLOSED and ticket.events.count() == events


def test_admin_actions_and_replies_on_a_closed_ticket_say_why_and_write_nothing(client, agent):
    closed = closed_ticket(agent)
    fresh = open_ticket(email="heidi@example.com")
    client.force_login(agent)
    events = TicketEvent.objects.count()
    url = reverse("admin:support_ticket_changelist")
    response = client.post(
        url, {"action": "mark_resolved", "_selected_action": [closed.pk, fresh.pk]}, follow=True
    )
    shown = [str(m) for m in response.context["messages"]]
    assert f"Not changed, because closed tickets are final: {closed.number}." in shown
    assert "Marked resolved." in shown
    assert TicketEvent.objects.count() == events + 1  # only the open ticket moved
    closed.refresh_from_db()
    assert closed.status == S.CLOSED

    reply = reverse("admin:support_ticket_reply", args=[closed.pk])
    response = client.post(reply, {"body": "Hello again", "status": ""}, follow=True)
    assert response.status_code == 200
    assert f"Ticket {closed.number} is closed" in " ".join(
        str(m) for m in response.context["messages"]
    )
    assert not closed.messages.filter(body="Hello again").exists()

"""Nobody can use the desk to send email to strangers, or flood it."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from support.models import Ticket

from .test_chat_pages import agent, agent_online, start_chat  # noqa: F401

pytestmark = pytest.mark.django_db


def ticket_form(**data: str) -> dict[str, str]:
    return {
        "email": "grace@example.com",
        "category": "other",
        "subject": "Help",
        "message": "Please",
    } | data


def test_new_tickets_and_chats_are_limited_per_address(client, settings, agent):  # noqa: F811
    settings.SUPPORT_RATE_LIMITS = {**settings.SUPPORT_RATE_LIMITS, "write_ip": (2, 3600)}
    agent_online(agent)
    assert client.post(reverse("support:ticket_new"), ticket_form()).status_code == 302
    start_chat(client)
    refused = client.post(reverse("support:ticket_new"), ticket_form(email="x@example.org"))
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "try again" in refused.content.decode()
    assert Ticket.objects.count() == 1
    assert (
        client.post(
            reverse("support:chat_new"), {"message": "hi", "email": "x@example.org", "start": "1"}
        ).status_code
        == 429
    )


def test_a_transcript_goes_only_to_the_chats_own_address(
    client,
    agent,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    agent_online(agent)
    conversation = start_chat(client)  # grace@example.com
    url = reverse("support:chat_transcript", args=[conversation.public_id])
    with django_capture_on_commit_callbacks(execute=True):  # the email leaves after commit
        client.post(url, {"email": "victim@example.org", "request_id": "a"})
    assert [m.to for m in mail.outbox] == [["grace@example.com"]]
    for press in "bcd":
        with django_capture_on_commit_callbacks(execute=True):
            client.post(url, {"request_id": press})
    assert len(mail.outbox) == 3  # three per chat an hour

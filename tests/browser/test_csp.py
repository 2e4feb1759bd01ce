"""The Content-Security-Policy in a real browser: a policy breaks pages silently (the script
just does not run), so the pages whose code is not ours (the admin, the API docs) and our own
scripted pages are opened and the browser's own CSP reports are collected."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from support import services

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def violations(page: Page) -> list[str]:
    """Every CSP violation the page reports (the browser logs each one to the console)."""
    found: list[str] = []
    page.on(
        "console",
        lambda msg: found.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => "
        "console.error('Content Security Policy violation: ' + e.violatedDirective + ' ' + "
        "e.blockedURI));"
    )
    return found


def sign_in(page: Page, client, live_server, user) -> None:
    client.force_login(user)
    session = client.cookies["sessionid"].value
    page.context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])


def test_the_api_docs_render_under_the_policy(live_server, page: Page, violations):
    page.goto(live_server.url + "/api/docs/")
    # Swagger UI's own script ran, fetched the schema and drew the operations.
    expect(page.locator(".opblock").first).to_be_visible(timeout=15_000)
    assert violations == []


def test_the_admin_works_under_the_policy(
    live_shop, live_server, page: Page, client, carol, alice, violations
):
    ticket = services.ticket_open(
        email=alice.email, requester=alice, subject="Card", body="It was declined"
    )
    sign_in(page, client, live_server, carol)
    for path in (
        "/admin/",
        "/admin/payments/paymentmethod/",
        f"/admin/support/ticket/{ticket.pk}/change/",
        "/admin/django_celery_beat/periodictask/add/",
        reverse("admin:payments_dashboard"),
    ):
        response = page.goto(live_server.url + path)
        assert response is not None and response.status == 200, path
    # django-celery-beat's crontab help, now from a file: the script ran (it hides this row).
    expect(page.locator(".field-crontab_translation")).to_be_hidden()
    # The admin's own scripts run: the "add another" popup link is wired by RelatedObjectLookups.
    page.goto(live_server.url + "/admin/support/ticket/")
    expect(page.locator("#changelist-form")).to_be_visible()
    assert violations == []


def test_the_shop_pages_run_their_scripts_under_the_policy(
    live_shop, live_server, page: Page, violations
):
    page.goto(live_server.url + "/")
    page.goto(live_server.url + "/checkout/")
    page.goto(live_server.url + "/support/")
    assert violations == []

"""Accounts in a real browser: locked out after five wrong passwords, back in through a reset
by email, and axe-core on every accounts page added for issue 7, in English and Chinese."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts import services
from tests.browser.test_accessibility import LANGUAGES, assert_no_violations, switch_language
from tests.factories import PASSWORD, OrderFactory, UserFactory

pytestmark = pytest.mark.browser

NEW_PASSWORD = "a-brand-new-pass-5566"


@pytest.fixture(autouse=True)
def _fresh_limits():
    """Rate-limit counters live in the cache, shared by every test of the run."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def sign_in_form(page: Page, email: str, password: str) -> None:
    page.locator("input[name=username]").fill(email)
    page.locator("input[name=password]").fill(password)
    page.get_by_role("main").locator("button[type=submit]").click()


def test_lockout_then_reset_by_email_then_sign_in(live_server, transactional_db, page: Page):
    UserFactory(email="dana@example.com", full_name="Dana Buyer")
    page.goto(live_server.url + "/accounts/login/")
    for _ in range(4):
        sign_in_form(page, "dana@example.com", "not-my-password")
        expect(page.get_by_role("alert")).to_contain_text("do not match an account")
    sign_in_form(page, "dana@example.com", "not-my-password")

    expect(page.get_by_role("heading", level=1, name="Account temporarily locked")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text(re.compile(r"try again at \d\d:\d\d"))
    assert_no_violations(page, "the locked page")
    # Even the right password is refused while locked.
    page.goto(live_server.url + "/accounts/login/")
    sign_in_form(page, "dana@example.com", PASSWORD)
    expect(page.get_by_role("heading", level=1, name="Account temporarily locked")).to_be_visible()

    page.get_by_role("link", name="Reset your password").click()
    expect(page.get_by_role("heading", level=1, name="Reset your password")).to_be_visible()
    page.locator("input[name=email]").fill("dana@example.com")
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert len(mail.outbox) == 1
    link = re.search(r"https?://\S+/accounts/password-reset/\S+/", mail.outbox[0].body)[0]
    path = re.sub(r"^https?://[^/]+", "", link)

    page.goto(live_server.url + path)
    expect(page.get_by_role("heading", level=1, name="Choose a new password")).to_be_visible()
    assert_no_violations(page, "the choose-a-new-password page")
    page.locator("input[name=new_password1]").fill(NEW_PASSWORD)
    page.locator("input[name=new_password2]").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Save the new password").click()
    expect(page.get_by_role("heading", level=1, name="Password changed")).to_be_visible()
    assert_no_violations(page, "the password-changed page")

    page.get_by_role("main").get_by_role("link", name="Sign in").click()
    sign_in_form(page, "dana@example.com", NEW_PASSWORD)
    expect(page.get_by_role("link", name="Your account")).to_be_visible()
    page.get_by_role("link", name="Your account").click()
    expect(page.get_by_role("heading", level=1, name="Your account")).to_be_visible()


# --- axe-core on the new pages, both languages ------------------------------------------------


def signed_in(page: Page, live_server, client, email: str = "erin@example.com"):
    user = UserFactory(email=email, full_name="Erin Customer")
    client.force_login(user)
    session = client.cookies["sessionid"].value
    page.context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])
    return user


def open_in(page: Page, live_server, language: str, path: str) -> None:
    page.goto(live_server.url + path)
    if page.locator("html").get_attribute("lang") != language:
        # The switcher is labelled in the page's language: switch from an English page.
        switch_language(page, language)
        page.goto(live_server.url + path)
    expect(page.locator("html")).to_have_attribute("lang", language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_sms_reset_pages(live_server, transactional_db, page: Page, language):
    open_in(page, live_server, language, "/accounts/password-reset/sms/")
    assert_no_violations(page, f"the SMS reset page ({language})")
    page.locator("input[name=phone]").fill("0770")
    page.get_by_role("main").locator("form button[type=submit]").click()
    expect(page.locator("#error-summary")).to_be_focused()
    assert_no_violations(page, f"the SMS reset page with errors ({language})")
    page.locator("input[name=phone]").fill("+44 7700 900555")
    page.get_by_role("main").locator("form button[type=submit]").first.click()
    expect(page.locator("input[name=code]")).to_be_visible()
    assert_no_violations(page, f"the SMS code page ({language})")
    page.locator("input[name=code]").fill("000000")
    page.get_by_role("main").locator("form button[type=submit]").first.click()
    expect(page.locator("#error-summary")).to_be_focused()
    assert_no_violations(page, f"the SMS code page with a wrong code ({language})")


@pytest.mark.parametrize("language", LANGUAGES)
def test_profile_pages(live_server, transactional_db, page: Page, client, language):
    user = signed_in(page, live_server, client)
    user.phone, user.phone_verified_at = "+447700900123", timezone.now()
    user.save()
    OrderFactory(email=user.email)  # a guest order to claim
    for path, what in [
        ("/accounts/profile/", "the account page with a phone and a guest order"),
        ("/accounts/phone/", "the phone page"),
        ("/accounts/password-change/", "the password change page"),
        ("/accounts/delete/", "the delete-account page"),
    ]:
        open_in(page, live_server, language, path)
        assert_no_violations(page, f"{what} ({language})")
    page.locator("input[name=password]").fill("not-it")
    page.get_by_role("main").locator("form button[type=submit]").click()
    expect(page.locator("#error-summary")).to_be_focused()
    assert_no_violations(page, f"the delete-account page with errors ({language})")


@pytest.mark.parametrize("language", LANGUAGES)
def test_address_pages(live_server, transactional_db, page: Page, client, language):
    user = signed_in(page, live_server, client)
    data = {"label": "Home", "full_name": "Erin", "line1": "1 St", "city": "X", "country": "Y"}
    services.address_create(user=user, data=data)
    services.address_delete(address=services.address_create(user=user, data=data))
    open_in(page, live_server, language, "/accounts/addresses/")
    assert_no_violations(page, f"the address book with a deleted address ({language})")
    open_in(page, live_server, language, "/accounts/addresses/new/")
    assert_no_violations(page, f"the new address form ({language})")
    page.get_by_role("main").locator("form button[type=submit]").click()
    expect(page.locator("#error-summary")).to_be_focused()
    assert_no_violations(page, f"the new address form with errors ({language})")


@pytest.mark.parametrize("language", LANGUAGES)
def test_claim_orders_page(live_server, transactional_db, page: Page, client, language):
    from checkout.claims import claim_token

    user = signed_in(page, live_server, client)
    OrderFactory(email=user.email)
    open_in(page, live_server, language, f"/accounts/profile/claim-orders/{claim_token(user)}/")
    assert_no_violations(page, f"the claim-orders page ({language})")

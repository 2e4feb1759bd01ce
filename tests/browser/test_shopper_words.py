"""What the shopper reads, in a real browser: times in the browser's own zone (Playwright's
timezone_id; static/js/timezone.js tells the server), the zone named when the server cannot
know it (no JavaScript), the card number "(optional)" only while a method without a card is
chosen, and an icon instead of a 404."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation
from playwright.sync_api import Browser, Page, expect

from .test_accessibility import LANGUAGES, open_checkout, switch_language

pytestmark = pytest.mark.browser

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _minute_up(moment: datetime) -> str:
    """HH:MM of `moment`, rounded up to the next minute, written out without the app's code."""
    seconds = moment.second + moment.microsecond / 1e6
    moment = moment.replace(second=0, microsecond=0) + timedelta(minutes=math.ceil(seconds / 60))
    return f"{moment.hour:02d}:{moment.minute:02d}"


def _trip_the_sign_in_rate(page: Page, language: str) -> tuple[str, datetime, datetime]:
    """Two wrong sign-ins from one address with a limit of one a minute: the pause page's
    alert, and the time around the refused try."""
    page.goto("/")
    switch_language(page, language)
    for _ in range(2):
        page.goto("/accounts/login/")
        page.locator("input[name=username]").fill("nobody@example.com")
        page.locator("input[name=password]").fill("wrong-password")
        before = datetime.now(UTC)
        page.locator("main form button[type=submit]").click()
        page.wait_for_load_state()
        after = datetime.now(UTC)
    return page.locator("main [role=alert]").inner_text(), before, after


@pytest.fixture
def one_sign_in_a_minute(settings, transactional_db):
    settings.ACCOUNTS_RATE_LIMITS = {**settings.ACCOUNTS_RATE_LIMITS, "login_ip": (1, 60)}


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_pause_is_told_in_the_browsers_time_zone(
    live_server, browser: Browser, one_sign_in_a_minute, language
):
    context = browser.new_context(base_url=live_server.url, timezone_id="Asia/Shanghai")
    page = context.new_page()
    alert, before, after = _trip_the_sign_in_rate(page, language)
    assert [c["value"] for c in context.cookies() if c["name"] == "tz"] == ["Asia/Shanghai"]
    shown = re.findall(r"\d\d:\d\d", alert)
    expected = {
        _minute_up((moment + timedelta(seconds=60)).astimezone(SHANGHAI))
        for moment in (before - timedelta(seconds=1), after)
    }
    assert len(shown) == 1 and shown[0] in expected, (alert, expected)
    assert "UTC" not in alert
    assert alert.lower().count("too many") <= 1  # said once (the Chinese page: no English)
    context.close()


def test_without_javascript_the_zone_is_named(live_server, browser: Browser, one_sign_in_a_minute):
    context = browser.new_context(
        base_url=live_server.url, timezone_id="Asia/Shanghai", java_script_enabled=False
    )
    page = context.new_page()
    alert, before, after = _trip_the_sign_in_rate(page, "en")
    expected = {
        _minute_up((moment + timedelta(seconds=60)).astimezone(UTC)) + " UTC"
        for moment in (before - timedelta(seconds=1), after)
    }
    assert any(f"try again at {label}, in 1 minute." in alert for label in expected), alert
    assert alert.startswith("There were too many sign-in attempts from your network")
    assert alert.lower().count("too many") == 1
    context.close()


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_card_number_is_optional_only_while_a_method_without_a_card_is_chosen(
    live_shop, live_server, page: Page, language
):
    open_checkout(page, live_server.url, language)
    with translation.override(language):
        card_number = translation.gettext("Card number")
        optional = translation.gettext("(optional)")
    label = page.locator('label[for="id_payment_method"]')
    field = page.locator("#id_payment_method")
    # The card is chosen first: required, and the label does not say "optional".
    expect(label).to_have_text(card_number)
    expect(field).to_have_attribute("aria-required", "true")
    page.locator("#method-alipay").check()
    expect(label).to_have_text(f"{card_number} {optional}")
    assert field.evaluate("el => el.required") is False
    page.locator("#method-card").check()
    expect(label).to_have_text(card_number)
    assert field.evaluate("el => el.required") is True


def test_the_icon_is_there_and_nothing_404s(live_shop, live_server, page: Page):
    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    page.goto(live_server.url + "/")
    icon = page.locator('link[rel="icon"][type="image/svg+xml"]')
    expect(icon).to_have_attribute("href", "/static/favicon.svg")
    for url in ["/favicon.ico", "/static/favicon.svg", "/static/favicon.ico"]:
        response = page.request.get(live_server.url + url)
        assert response.status == 200, url
    assert page.request.get(live_server.url + "/favicon.ico").headers["content-type"] == (
        "image/x-icon"
    )
    assert missing == []

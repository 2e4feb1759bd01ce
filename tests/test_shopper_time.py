"""Times a shopper reads are in the shopper's own time zone (the `tz` cookie that
static/js/timezone.js sets), or name the server's zone when we do not know theirs; and no
time ends a sentence twice ("by 2 p.m..")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from config.shopper_time import shopper_zone, time_label, zone_named
from payments.models import PaymentMethod
from tests.accounts.helpers import sign_in
from tests.checkout.helpers import fill_cart
from tests.payments.test_risk_pause import START, decline, failure_box

pytestmark = pytest.mark.django_db

NOON = datetime(2026, 11, 27, 12, 0, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def server_in_utc(settings):
    settings.TIME_ZONE = "UTC"
    settings.RISK_FAILURE_STREAK = 3
    settings.RISK_FAILURE_STREAK_MINUTES = 60


def in_shanghai(client: Client) -> Client:
    client.cookies["tz"] = "Asia/Shanghai"
    return client


def test_only_zones_zoneinfo_lists_are_taken():
    assert str(zone_named("Asia/Shanghai")) == "Asia/Shanghai"
    assert str(zone_named("Asia%2FShanghai")) == "Asia/Shanghai"  # a percent-encoded cookie
    for junk in ["", "Mars/Olympus", "../../etc/passwd", "/etc/localtime", "x" * 5000]:
        assert zone_named(junk) is None, junk


def test_a_label_is_local_rounded_up_and_names_the_zone_only_when_it_is_not_the_shoppers():
    moment = datetime(2026, 11, 27, 14, 4, 1, tzinfo=UTC)
    with time_machine.travel(NOON, tick=False):
        with shopper_zone(None):
            assert time_label(moment) == "14:05 UTC"
        with shopper_zone(zone_named("Asia/Shanghai")):
            assert time_label(moment) == "22:05"
            # Tomorrow in Shanghai already (00:05 on the 28th): the date is shown.
            assert time_label(moment + timedelta(hours=2)) == "Nov. 28, 2026 00:05"


def test_the_risk_pause_is_told_in_the_shoppers_zone(shop):
    shopper = in_shanghai(Client())
    fill_cart(shopper, "mug")
    with time_machine.travel(START, tick=False):
        box = failure_box(decline(shopper, 3))
    assert "new payments with your email address are paused until 22:05." in box


def test_the_risk_pause_names_the_zone_without_a_cookie(shop):
    shopper = Client()
    shopper.cookies["tz"] = "Mars/Olympus"  # not a zone: as good as none
    fill_cart(shopper, "mug")
    with time_machine.travel(START, tick=False):
        box = failure_box(decline(shopper, 3))
    assert "new payments with your email address are paused until 14:05 UTC." in box


def _maintenance_until(moment: datetime) -> None:
    PaymentMethod.objects.filter(code="alipay").update(
        maintenance=True, maintenance_message_en="Upgrading.", maintenance_until=moment
    )


def test_maintenance_end_in_the_shoppers_zone_without_a_double_full_stop(client, shop):
    _maintenance_until(datetime(2026, 11, 27, 14, 0, tzinfo=UTC))
    fill_cart(client, "mug")
    with time_machine.travel(NOON, tick=False):
        plain = client.get(reverse("checkout:checkout")).content.decode()
        shanghai = in_shanghai(client).get(reverse("checkout:checkout")).content.decode()
    assert "Expected back by 14:00 UTC." in plain
    assert "Expected back by 22:00." in shanghai
    assert ".." not in plain.split("Expected back by")[1].split("</span>")[0]
    assert "p.m." not in plain


def test_the_account_lockout_says_when_in_the_shoppers_zone(client, alice):
    start = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        for _ in range(5):
            sign_in(client, alice.email, "wrong")
    with time_machine.travel(start + timedelta(minutes=5), tick=False):
        plain = sign_in(client, alice.email, "wrong").content.decode()
        shanghai = sign_in(in_shanghai(client), alice.email, "wrong").content.decode()
    assert "You can try again at 10:15 UTC, in 10 minutes." in plain
    assert "You can try again at 18:15, in 10 minutes." in shanghai


def test_the_sign_in_rate_pause_says_when_once_and_too_many_once(client, alice, settings):
    settings.ACCOUNTS_RATE_LIMITS = {**settings.ACCOUNTS_RATE_LIMITS, "login_ip": (1, 60)}
    with time_machine.travel(NOON, tick=False):
        sign_in(in_shanghai(client), alice.email, "wrong")
        page = sign_in(client, alice.email, "wrong")
    assert page.status_code == 429
    text = page.content.decode()
    alert = text.split('role="alert">')[1].split("</p>")[0]
    assert alert == (
        "There were too many sign-in attempts from your network in a short time. "
        "Please wait and try again at 20:02, in 1 minute."
    )
    assert text.lower().count("too many") == 1

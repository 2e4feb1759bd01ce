"""Phone numbers verified by SMS code, password reset by SMS, and the SMS backends."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.hashers import check_password
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import services, sms
from accounts.models import PhoneCode
from tests.factories import PASSWORD

from .helpers import sign_in

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "a-brand-new-pass-5566"
ALICE_PHONE = "+447700900123"


@pytest.fixture(autouse=True)
def sms_outbox(settings):
    settings.SMS_BACKEND = "accounts.sms.LocmemSmsBackend"
    sms.outbox.clear()
    yield sms.outbox
    sms.outbox.clear()


@pytest.fixture
def send(django_capture_on_commit_callbacks):
    """POST and run the on-commit work (the SMS task) as the real request would."""

    def post(client, url, data, **extra):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(url, data, **extra)

    return post


@pytest.fixture
def verified_alice(alice):
    alice.phone, alice.phone_verified_at = ALICE_PHONE, timezone.now()
    alice.save()
    return alice


def last_code(outbox) -> str:
    return re.search(r"\b(\d{6})\b", outbox[-1].body).group(1)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


# --- verifying a phone number ----------------------------------------------------------------


def test_a_number_is_saved_only_after_its_code_is_right(client, alice, sms_outbox, send):
    client.force_login(alice)
    response = send(client, reverse("accounts:phone"), {"phone": "+44 7700 900-123"})
    assert response["Location"] == reverse("accounts:phone_verify")
    assert [m.to for m in sms_outbox] == [ALICE_PHONE]
    alice.refresh_from_db()
    assert alice.phone == "" and alice.phone_verified_at is None

    code = last_code(sms_outbox)
    bad = client.post(reverse("accounts:phone_verify"), {"code": wrong(code)})
    assert bad.status_code == 400
    assert "That code is not right. You can try 4 more times." in bad.content.decode()
    alice.refresh_from_db()
    assert alice.phone == ""

    good = client.post(reverse("accounts:phone_verify"), {"code": code})
    assert good["Location"] == reverse("account")
    alice.refresh_from_db()
    assert alice.phone == ALICE_PHONE and alice.phone_verified_at is not None
    assert ALICE_PHONE in client.get(reverse("account")).content.decode()


def test_a_number_must_be_international(client, alice, sms_outbox):
    client.force_login(alice)
    response = client.post(reverse("accounts:phone"), {"phone": "07700 900123"})
    assert response.status_code == 400
    assert "international format" in response.content.decode()
    assert sms_outbox == []


def test_verifying_a_number_takes_it_from_an_account_that_had_it(client, alice, mallory, send):
    mallory.phone, mallory.phone_verified_at = ALICE_PHONE, timezone.now()
    mallory.save()
    client.force_login(alice)
    send(client, reverse("accounts:phone"), {"phone": ALICE_PHONE})
    client.post(reverse("accounts:phone_verify"), {"code": last_code(sms.outbox)})
    mallory.refresh_from_db()
    alice.refresh_from_db()
    assert alice.phone == ALICE_PHONE and mallory.phone == "" and not mallory.phone_verified_at


def test_removing_the_number(client, verified_alice):
    client.force_login(verified_alice)
    assert client.post(reverse("accounts:phone_remove")).status_code == 302
    verified_alice.refresh_from_db()
    assert verified_alice.phone == "" and verified_alice.phone_verified_at is None


# --- codes -----------------------------------------------------------------------------------


def issue(user=None, phone=ALICE_PHONE, purpose=PhoneCode.Purpose.VERIFY):
    return services.phone_code_issue(user=user, phone=phone, purpose=purpose)


def check(row, guess, purpose=PhoneCode.Purpose.VERIFY):
    return services.phone_code_check(code_id=row.pk, purpose=purpose, guess=guess).outcome


def test_codes_are_six_digits_and_stored_only_as_a_hash(alice):
    row, code = issue(alice)
    assert re.fullmatch(r"\d{6}", code)
    row.refresh_from_db()
    assert code not in row.code_hash and check_password(code, row.code_hash)


def test_a_code_works_once(alice):
    row, code = issue(alice)
    assert check(row, code) is services.CodeCheck.OK
    assert check(row, code) is services.CodeCheck.EXPIRED


def test_a_code_expires_after_ten_minutes(alice):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        row, code = issue(alice)
    with time_machine.travel(start + timedelta(minutes=9, seconds=59), tick=False):
        late_but_fine, code2 = issue(alice, phone="+447700900999")
    with time_machine.travel(start + timedelta(minutes=10, seconds=1), tick=False):
        assert check(row, code) is services.CodeCheck.EXPIRED
        assert check(late_but_fine, code2) is services.CodeCheck.OK


def test_five_wrong_guesses_kill_a_code(alice, settings):
    assert settings.SMS_CODE_MAX_GUESSES == 5
    row, code = issue(alice)
    outcomes = [check(row, wrong(code)) for _ in range(5)]
    assert outcomes == [services.CodeCheck.WRONG] * 4 + [services.CodeCheck.USED_UP]
    assert check(row, code) is services.CodeCheck.USED_UP  # even the right one, now


def test_a_new_code_replaces_the_previous_one(alice):
    first, first_code = issue(alice)
    second, second_code = issue(alice)
    assert check(first, first_code) is services.CodeCheck.EXPIRED
    assert check(second, second_code) is services.CodeCheck.OK


def test_resending_is_limited_to_one_a_minute_and_five_an_hour(client, alice, send, sms_outbox):
    client.force_login(alice)
    url = reverse("accounts:phone")
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert send(client, url, {"phone": ALICE_PHONE}).status_code == 302
        again = send(client, url, {"phone": ALICE_PHONE})
        assert again.status_code == 429 and 1 <= int(again["Retry-After"]) <= 60
        assert "Too many attempts" in again.content.decode()
    for minute in range(1, 5):
        with time_machine.travel(start + timedelta(minutes=minute, seconds=1), tick=False):
            assert send(client, url, {"phone": ALICE_PHONE}).status_code == 302
    with time_machine.travel(start + timedelta(minutes=6), tick=False):
        sixth = send(client, url, {"phone": ALICE_PHONE})
        assert sixth.status_code == 429 and int(sixth["Retry-After"]) > 60 * 50
    assert len(sms_outbox) == 5


# --- reset by SMS ----------------------------------------------------------------------------


def test_reset_by_sms_sets_the_password_lifts_the_lock_and_signs_out_elsewhere(
    client, verified_alice, send, sms_outbox
):
    other_device = Client()
    other_device.force_login(verified_alice)
    for _ in range(5):
        sign_in(client, verified_alice.email, "wrong")
    assert sign_in(client, verified_alice.email, PASSWORD).status_code == 429

    step1 = send(client, reverse("accounts:sms_reset"), {"phone": "+44 7700 900123"})
    assert step1["Location"] == reverse("accounts:sms_reset_code")
    assert [m.to for m in sms_outbox] == [ALICE_PHONE]
    step2 = client.post(reverse("accounts:sms_reset_code"), {"code": last_code(sms_outbox)})
    assert step2["Location"] == reverse("accounts:sms_reset_password")
    step3 = client.post(
        reverse("accounts:sms_reset_password"),
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert step3["Location"] == reverse("accounts:password_reset_complete")
    verified_alice.refresh_from_db()
    assert verified_alice.check_password(NEW_PASSWORD)
    assert sign_in(client, verified_alice.email, NEW_PASSWORD).status_code == 302
    assert other_device.get(reverse("account")).status_code == 302  # signed out there
    # The new-password step was single use too.
    again = Client().get(reverse("accounts:sms_reset_password"))
    assert again["Location"] == reverse("accounts:sms_reset")


def _walk(phone: str, send):
    client = Client()
    first = send(client, reverse("accounts:sms_reset"), {"phone": phone})
    page = client.get(first["Location"])
    guess = client.post(reverse("accounts:sms_reset_code"), {"code": "000000"})
    return first, page, guess


def _same(body: str, phone: str) -> str:
    body = body.replace(phone, "PHONE")
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", body)


def test_known_and_unknown_numbers_look_the_same(verified_alice, send, sms_outbox, monkeypatch):
    hashed = []
    real = services.make_password
    monkeypatch.setattr(services, "make_password", lambda c: hashed.append(c) or real(c))
    checked = []
    real_check = services.check_password
    monkeypatch.setattr(
        services, "check_password", lambda c, h: checked.append(c) or real_check(c, h)
    )

    known = _walk(ALICE_PHONE, send)
    work_known = (len(hashed), len(checked))
    unknown = _walk("+447700900555", send)
    work_unknown = (len(hashed) - work_known[0], len(checked) - work_known[1])

    for a, b in zip(known, unknown, strict=True):
        assert a.status_code == b.status_code
        assert a.get("Location") == b.get("Location")
        assert a.get("Retry-After") == b.get("Retry-After")
    assert _same(known[1].content.decode(), ALICE_PHONE) == _same(
        unknown[1].content.decode(), "+447700900555"
    )
    assert _same(known[2].content.decode(), ALICE_PHONE) == _same(
        unknown[2].content.decode(), "+447700900555"
    )
    # The same hashing work either way (same timing class); only a known number gets a text.
    assert work_known == work_unknown == (1, 1)
    assert [m.to for m in sms_outbox] == [ALICE_PHONE]


def test_only_a_verified_number_can_reset(alice, send, sms_outbox):
    alice.phone = ALICE_PHONE  # typed in by staff, never verified
    alice.save()
    client = Client()
    send(client, reverse("accounts:sms_reset"), {"phone": ALICE_PHONE})
    assert sms_outbox == []
    # Guessing the code of a number without an account never succeeds.
    row = PhoneCode.objects.get()
    assert row.user is None


def test_the_new_password_step_needs_a_right_code_and_expires(client, verified_alice, send):
    assert client.get(reverse("accounts:sms_reset_password"))["Location"] == reverse(
        "accounts:sms_reset"
    )
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        send(client, reverse("accounts:sms_reset"), {"phone": ALICE_PHONE})
        client.post(reverse("accounts:sms_reset_code"), {"code": last_code(sms.outbox)})
    with time_machine.travel(start + timedelta(minutes=11), tick=False):
        late = client.post(
            reverse("accounts:sms_reset_password"),
            {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        )
    assert late["Location"] == reverse("accounts:sms_reset")
    verified_alice.refresh_from_db()
    assert verified_alice.check_password(PASSWORD)


def test_reset_codes_die_after_five_wrong_guesses_through_the_page(client, verified_alice, send):
    send(client, reverse("accounts:sms_reset"), {"phone": ALICE_PHONE})
    code = last_code(sms.outbox)
    for _ in range(5):
        client.post(reverse("accounts:sms_reset_code"), {"code": wrong(code)})
    final = client.post(reverse("accounts:sms_reset_code"), {"code": code})
    assert final.status_code == 400
    assert "no longer works" in final.content.decode()


def test_code_checks_are_rate_limited_per_ip(client, verified_alice, send, settings):
    settings.ACCOUNTS_RATE_LIMITS = {**settings.ACCOUNTS_RATE_LIMITS, "code_check_ip": (2, 600)}
    send(client, reverse("accounts:sms_reset"), {"phone": ALICE_PHONE})
    for _ in range(2):
        client.post(reverse("accounts:sms_reset_code"), {"code": "000000"})
    refused = client.post(reverse("accounts:sms_reset_code"), {"code": last_code(sms.outbox)})
    assert refused.status_code == 429 and refused["Retry-After"]


# --- backends --------------------------------------------------------------------------------


def test_file_backend_writes_into_the_outbox(settings, tmp_path):
    settings.OUTBOX_DIR = tmp_path / "outbox"
    sms.get_backend("accounts.sms.FileSmsBackend").send_messages(
        [sms.SmsMessage(to=ALICE_PHONE, body="Your code is 123456")]
    )
    (written,) = (tmp_path / "outbox").glob("*.sms.txt")
    assert written.read_text() == f"To: {ALICE_PHONE}\n\nYour code is 123456\n"


def test_console_and_outbox_backends(settings, tmp_path):
    settings.OUTBOX_DIR = tmp_path / "outbox"
    stream = io.StringIO()
    backend = sms.get_backend("accounts.sms.OutboxSmsBackend", stream=stream)
    assert backend.send_messages([sms.SmsMessage(to=ALICE_PHONE, body="hello")]) == 1
    assert f"SMS to {ALICE_PHONE}\nhello" in stream.getvalue()
    assert len(list((tmp_path / "outbox").glob("*.sms.txt"))) == 1


def test_the_default_backend_is_the_outbox(settings):
    from importlib import import_module

    assert import_module("config.settings").SMS_BACKEND == "accounts.sms.OutboxSmsBackend"

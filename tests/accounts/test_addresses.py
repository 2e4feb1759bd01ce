"""Saved addresses: soft delete, "Recently deleted" for 30 days with one-click restore, the
periodic purge, object-level permissions, and the data export."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings as django_settings
from django.urls import reverse
from django.utils import timezone

from accounts import services, tasks
from accounts.models import Address

pytestmark = pytest.mark.django_db

HOME = {
    "label": "Home",
    "full_name": "Alice Customer",
    "line1": "1 Harbour Street",
    "city": "Wellington",
    "postcode": "6011",
    "country": "New Zealand",
}


def make(user, **over):
    return services.address_create(user=user, data={**HOME, **over})


def test_add_edit_and_list_an_address(client, alice):
    client.force_login(alice)
    response = client.post(reverse("accounts:address_new"), HOME)
    assert response["Location"] == reverse("accounts:addresses")
    address = Address.objects.get(user=alice)
    client.post(reverse("accounts:address_edit", args=[address.pk]), {**HOME, "city": "Auckland"})
    address.refresh_from_db()
    assert address.city == "Auckland"
    assert "1 Harbour Street" in client.get(reverse("accounts:addresses")).content.decode()


def test_a_missing_field_is_explained_and_the_input_kept(client, alice):
    client.force_login(alice)
    response = client.post(reverse("accounts:address_new"), {**HOME, "line1": ""})
    assert response.status_code == 400
    body = response.content.decode()
    assert "Enter the street address." in body and 'value="Wellington"' in body
    assert 'id="error-summary"' in body


def test_delete_is_soft_and_restore_brings_it_back(client, alice):
    address = make(alice)
    client.force_login(alice)
    client.post(reverse("accounts:address_delete", args=[address.pk]))
    address.refresh_from_db()
    assert address.deleted_at is not None
    page = client.get(reverse("accounts:addresses")).content.decode()
    assert "Recently deleted" in page
    assert reverse("accounts:address_restore", args=[address.pk]) in page
    assert reverse("accounts:address_edit", args=[address.pk]) not in page

    client.post(reverse("accounts:address_restore", args=[address.pk]))
    address.refresh_from_db()
    assert address.deleted_at is None
    assert (
        reverse("accounts:address_edit", args=[address.pk])
        in client.get(reverse("accounts:addresses")).content.decode()
    )


def test_recently_deleted_shows_thirty_days_then_the_task_purges(client, alice):
    assert django_settings.ADDRESS_RESTORE_DAYS == 30
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        old = make(alice, label="Old flat")
        services.address_delete(address=old)
        kept = make(alice, label="Work")
    with time_machine.travel(start + timedelta(days=29, hours=23), tick=False):
        client.force_login(alice)
        assert "Old flat" in client.get(reverse("accounts:addresses")).content.decode()
        assert tasks.purge_deleted_addresses() == 0
    with time_machine.travel(start + timedelta(days=30, minutes=1), tick=False):
        assert "Old flat" not in client.get(reverse("accounts:addresses")).content.decode()
        refused = client.post(reverse("accounts:address_restore", args=[old.pk]), follow=True)
        assert "deleted too long ago" in refused.content.decode()
        assert tasks.purge_deleted_addresses() == 1
    assert list(Address.objects.all()) == [kept]


def test_the_purge_task_is_scheduled():
    schedule = django_settings.CELERY_BEAT_SCHEDULE
    assert any(
        entry["task"] == "accounts.tasks.purge_deleted_addresses" for entry in schedule.values()
    )


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("accounts:address_edit", "get"),
        ("accounts:address_edit", "post"),
        ("accounts:address_delete", "post"),
        ("accounts:address_restore", "post"),
    ],
)
def test_another_persons_address_is_not_found(client, alice, mallory, name, method):
    theirs = make(mallory)
    if name.endswith("restore"):
        services.address_delete(address=theirs)
    client.force_login(alice)
    response = getattr(client, method)(reverse(name, args=[theirs.pk]), HOME)
    assert response.status_code == 404
    before = (theirs.city, theirs.deleted_at)
    theirs.refresh_from_db()
    assert (theirs.city, theirs.deleted_at) == before


def test_the_address_book_needs_sign_in(client, db):
    assert client.get(reverse("accounts:addresses")).status_code == 302


def test_export_contains_my_addresses_and_nobody_elses(client, alice, mallory):
    make(alice)
    services.address_delete(address=make(alice, label="Old flat"))
    make(mallory, line1="99 Secret Lane")
    client.force_login(alice)
    data = json.loads(client.get(reverse("account_export")).content)
    assert [a["label"] for a in data["addresses"]] == ["Home", "Old flat"]
    assert data["addresses"][1]["deleted_at"] is not None
    assert "99 Secret Lane" not in json.dumps(data)

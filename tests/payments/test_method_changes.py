"""Admins' switches of a payment method go through payments.services.method_update, which
records who changed what; quick actions, the list's checkboxes and the method's page alike."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection
from django.urls import reverse

from payments import services
from payments.models import MethodChange, PaymentMethod
from tests.conftest import ON_POSTGRES

pytestmark = pytest.mark.django_db
CHANGELIST = "admin:payments_paymentmethod_changelist"


def records(method: PaymentMethod) -> list[tuple[str, dict]]:
    return list(
        MethodChange.objects.filter(method=method).order_by("id").values_list("actor", "changes")
    )


def test_a_quick_action_records_who_switched_what(client, carol, shop):
    client.force_login(carol)
    alipay = PaymentMethod.objects.get(code="alipay")
    response = client.post(
        reverse(CHANGELIST), {"action": "disable", "_selected_action": [alipay.pk]}
    )
    assert response.status_code == 302
    alipay.refresh_from_db()
    assert alipay.enabled is False
    assert records(alipay) == [("staff:carol@example.com", {"enabled": [True, False]})]
    # Disabling it again changes nothing and records nothing.
    client.post(reverse(CHANGELIST), {"action": "disable", "_selected_action": [alipay.pk]})
    assert len(records(alipay)) == 1
    client.post(reverse(CHANGELIST), {"action": "enable", "_selected_action": [alipay.pk]})
    assert records(alipay)[-1] == ("staff:carol@example.com", {"enabled": [False, True]})


def test_ending_maintenance_records_both_fields(client, carol, shop):
    client.force_login(carol)
    card = PaymentMethod.objects.get(code="card")
    services.method_update(
        method=card, actor="staff:bob@example.com", changes={"maintenance": True}
    )
    client.post(reverse(CHANGELIST), {"action": "end_maintenance", "_selected_action": [card.pk]})
    card.refresh_from_db()
    assert card.maintenance is False
    assert records(card) == [
        ("staff:bob@example.com", {"maintenance": [False, True]}),
        ("staff:carol@example.com", {"maintenance": [True, False]}),
    ]


def test_an_edit_on_the_methods_page_is_recorded(client, carol, shop):
    client.force_login(carol)
    card = PaymentMethod.objects.get(code="card")
    url = reverse("admin:payments_paymentmethod_change", args=[card.pk])
    form = client.get(url).context["adminform"].form
    data = {
        name: ("" if value is None else value)
        for name, value in form.initial.items()
        if name in form.fields
    }
    data = {k: v for k, v in data.items() if v is not False}
    data |= {
        "max_amount": "90000",
        "changes-TOTAL_FORMS": "0",
        "changes-INITIAL_FORMS": "0",
        "changes-MIN_NUM_FORMS": "0",
        "changes-MAX_NUM_FORMS": "1000",
        # The routes inline (issue 15): none on this method, none added.
        "routes-TOTAL_FORMS": "0",
        "routes-INITIAL_FORMS": "0",
        "routes-MIN_NUM_FORMS": "0",
        "routes-MAX_NUM_FORMS": "1000",
    }
    if card.enabled:
        data["enabled"] = "on"
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    card.refresh_from_db()
    assert card.max_amount == 90000
    assert records(card) == [("staff:carol@example.com", {"max_amount": [None, 90000]})]


def test_a_support_agent_switches_nothing_and_nothing_is_recorded(client, bob, shop):
    client.force_login(bob)
    card = PaymentMethod.objects.get(code="card")
    client.post(reverse(CHANGELIST), {"action": "disable", "_selected_action": [card.pk]})
    card.refresh_from_db()
    assert card.enabled is True and records(card) == []


def test_the_record_is_append_only(shop):
    card = PaymentMethod.objects.get(code="card")
    services.method_update(method=card, actor="system", changes={"display_order": 5})
    change = MethodChange.objects.get()
    change.actor = "someone else"
    with pytest.raises(ValueError, match="append-only"):
        change.save()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    not ON_POSTGRES,
    reason="needs PostgreSQL row locks across connections: set DATABASE_URL=postgres://...",
)
def test_two_admins_disabling_at_once_record_one_change(shop):
    """Both see enabled=True without the row lock and both record a switch from True."""
    card = PaymentMethod.objects.get(code="card")
    barrier = threading.Barrier(6, timeout=60)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def admin(n: int) -> None:
        try:
            barrier.wait()
            services.method_update(
                method=card, actor=f"staff:admin{n}@example.com", changes={"enabled": False}
            )
            outcome = "disabled"
        except Exception as exc:  # noqa: BLE001 - any error is what this test hunts for
            outcome = f"error:{type(exc).__name__}"
        finally:
            connection.close()
        with lock:
            outcomes[outcome] += 1

    threads = [threading.Thread(target=admin, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert outcomes == Counter({"disabled": 6})
    assert list(MethodChange.objects.values_list("changes", flat=True)) == [
        {"enabled": [True, False]}
    ]


def _method_page_data(client, url: str) -> dict:
    """The method's page as an admin would send it back unchanged (both inlines included)."""
    response = client.get(url)
    data = {
        name: ("" if value is None else value)
        for name, value in response.context["adminform"].form.initial.items()
        if name in response.context["adminform"].form.fields and value is not False
    }
    data = {k: (v if v is not True else "on") for k, v in data.items()}
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        for name in ("TOTAL_FORMS", "INITIAL_FORMS", "MIN_NUM_FORMS", "MAX_NUM_FORMS"):
            data[f"{formset.prefix}-{name}"] = management.initial.get(
                name, management[name].value()
            )
        for sub in formset.initial_forms:
            for name, field in sub.fields.items():
                value = sub.initial.get(name, field.initial)
                if name == "id":
                    value = sub.instance.pk
                if name == "method":
                    value = sub.instance.method_id
                if value is None or value is False:
                    continue
                data[f"{sub.prefix}-{name}"] = "on" if value is True else value
    return data


def test_route_edits_on_the_methods_page_are_recorded(client, carol, shop):
    from payments.models import PaymentRoute

    client.force_login(carol)
    card = PaymentMethod.objects.get(code="card")
    PaymentRoute.objects.create(method=card, provider="simulator", priority=1)
    second = PaymentRoute.objects.create(method=card, provider="simulator_b", priority=2)
    url = reverse("admin:payments_paymentmethod_change", args=[card.pk])
    data = _method_page_data(client, url)
    # Saved unchanged: nothing recorded.
    response = client.post(url, data)
    assert response.status_code == 302
    assert records(card) == []
    # The second route switched off and its maximum set; the first left alone.
    index = next(k.split("-")[1] for k, v in data.items() if k.endswith("-id") and v == second.pk)
    data.pop(f"routes-{index}-enabled", None)
    data[f"routes-{index}-max_amount"] = "50000"
    response = client.post(url, data)
    assert response.status_code == 302
    second.refresh_from_db()
    assert (second.enabled, second.max_amount) == (False, 50000)
    assert records(card) == [
        (
            "staff:carol@example.com",
            {
                "route simulator_b: enabled": [True, False],
                "route simulator_b: max_amount": [None, 50000],
            },
        )
    ]


def test_adding_and_removing_a_route_are_recorded(client, carol, shop):
    from payments.models import PaymentRoute

    client.force_login(carol)
    card = PaymentMethod.objects.get(code="card")
    first = PaymentRoute.objects.create(method=card, provider="simulator", priority=1)
    url = reverse("admin:payments_paymentmethod_change", args=[card.pk])
    data = _method_page_data(client, url)
    index = next(k.split("-")[1] for k, v in data.items() if k.endswith("-id") and v == first.pk)
    data[f"routes-{index}-DELETE"] = "on"
    total = int(data["routes-TOTAL_FORMS"])
    data |= {
        "routes-TOTAL_FORMS": str(total + 1),
        f"routes-{total}-method": card.pk,
        f"routes-{total}-provider": "simulator_b",
        f"routes-{total}-priority": "2",
        f"routes-{total}-enabled": "on",
        f"routes-{total}-min_amount": "0",
    }
    response = client.post(url, data)
    assert response.status_code == 302, response.context["errors"]
    assert list(card.routes.values_list("provider", flat=True)) == ["simulator_b"]
    assert records(card) == [
        (
            "staff:carol@example.com",
            {"route simulator_b": [None, "added"], "route simulator": ["removed", None]},
        )
    ]

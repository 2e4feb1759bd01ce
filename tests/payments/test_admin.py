"""Staff see payments in Django admin: every page renders and money records stay read-only."""

from __future__ import annotations

import pytest
from django.urls import reverse

from payments import services
from payments.models import PaymentAttempt, WebhookEvent
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid(shop, alice):
    services.wallet_move(
        user=alice, currency="USD", amount=500, kind="adjustment", actor="test", reference="seed"
    )
    return services.attempt_pay(
        order=OrderFactory(user=alice),
        method=shop["methods"]["card"],
        idempotency_key="k",
        payment_method="pm_card_visa",
    )


@pytest.mark.parametrize(
    "name",
    [
        "payments_paymentmethod",
        "payments_paymentattempt",
        "payments_wallet",
        "payments_webhookevent",
        "checkout_order",
        "checkout_product",
        "accounts_user",
    ],
)
def test_changelists_render_for_an_admin(client, carol, paid, name):
    client.force_login(carol)
    assert client.get(reverse(f"admin:{name}_changelist")).status_code == 200


def test_attempt_page_shows_the_timeline_and_cannot_be_edited(client, carol, paid):
    client.force_login(carol)
    page = client.get(reverse("admin:payments_paymentattempt_change", args=[paid.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    assert "status_changed" in body or "Status changed" in body
    assert "succeeded" in body
    assert client.get(reverse("admin:payments_paymentattempt_add")).status_code == 403
    assert (
        client.post(
            reverse("admin:payments_paymentattempt_delete", args=[paid.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert PaymentAttempt.objects.filter(pk=paid.pk).exists()


def test_customers_cannot_open_admin(client, alice, paid):
    client.force_login(alice)
    response = client.get(reverse("admin:payments_paymentattempt_changelist"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not WebhookEvent.objects.exists()


def test_quick_actions_switch_methods_and_are_logged(client, carol, shop):
    from django.contrib.admin.models import LogEntry

    from payments.models import PaymentMethod
    from payments.selectors import methods_for_amount

    client.force_login(carol)
    url = reverse("admin:payments_paymentmethod_changelist")
    alipay = PaymentMethod.objects.get(code="alipay")
    response = client.post(url, {"action": "disable", "_selected_action": [alipay.pk]})
    assert response.status_code == 302
    # The checkout sees it on the next request: nothing caches methods.
    assert "alipay" not in [r.method.code for r in methods_for_amount(amount=100, currency="USD")]
    PaymentMethod.objects.filter(pk=alipay.pk).update(enabled=True, maintenance=True)
    client.post(url, {"action": "end_maintenance", "_selected_action": [alipay.pk]})
    alipay.refresh_from_db()
    assert alipay.enabled and not alipay.maintenance
    log = list(
        LogEntry.objects.filter(object_id=str(alipay.pk)).values_list(
            "user__email", "change_message"
        )
    )
    assert ("carol@example.com", "Disabled") in log and (
        "carol@example.com",
        "Maintenance ended",
    ) in log


def test_support_agents_cannot_switch_methods(client, bob, shop):
    from payments.models import PaymentMethod

    client.force_login(bob)
    card = PaymentMethod.objects.get(code="card")
    client.post(
        reverse("admin:payments_paymentmethod_changelist"),
        {"action": "disable", "_selected_action": [card.pk]},
    )
    card.refresh_from_db()
    assert card.enabled


def test_method_list_shows_success_rates_for_the_last_hour_and_day(client, carol, shop):
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    card = shop["methods"]["card"]
    with time_machine.travel(timezone.now() - timedelta(hours=5), tick=False):
        services.attempt_pay(
            order=OrderFactory(),
            method=card,
            idempotency_key="old",
            payment_method="pm_card_visa_chargeDeclined",
        )
    for key, token in (("a", "pm_card_visa"), ("b", "pm_card_visa"), ("c", "pm_sim_outage")):
        services.attempt_pay(
            order=OrderFactory(), method=card, idempotency_key=key, payment_method=token
        )
    client.force_login(carol)
    body = client.get(reverse("admin:payments_paymentmethod_changelist")).content.decode()
    assert "100% (2/2)" in body  # last hour: the unanswered one does not count
    assert "66% (2/3)" in body  # last 24 h: the older decline counts

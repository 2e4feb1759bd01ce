"""A route's circuit moving is emailed to the people who run payments, once per real move
(recovery included), never for a failed probe (open -> open), and once even when the outbox
delivers the message twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from outbox.models import Message
from outbox.services import outbox_deliver
from payments import services
from payments.models import PaymentRoute, RouteHealth
from tests.factories import OrderFactory, PaymentMethodFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def thresholds(settings):
    settings.PAYMENTS_HEALTH_MIN_VOLUME = 3
    settings.PAYMENTS_HEALTH_DEGRADED_PERCENT = 20
    settings.PAYMENTS_HEALTH_OPEN_PERCENT = 50
    settings.PAYMENTS_HEALTH_COOLDOWN_SECONDS = 60
    settings.ADMINS = [("Ops", "ops@example.com")]


def alerts() -> list:
    """The emails about payment methods' and routes' health (receipts left out)."""
    return [m for m in mail.outbox if m.subject.startswith("Payment ")]


def pay(card, key):
    return services.attempt_pay(
        order=OrderFactory(), method=card, idempotency_key=key, payment_method="pm_card_visa"
    )


def test_a_route_opening_and_recovering_is_emailed_once_each(django_capture_on_commit_callbacks):
    UserFactory(email="payments-admin@example.com", is_staff=True, is_superuser=True)
    UserFactory(email="agent@example.com", is_staff=True)  # may not change methods: not told
    card = PaymentMethodFactory(code="card")
    first = PaymentRoute.objects.create(
        method=card, provider="simulator", priority=10, simulate_refused=True
    )
    PaymentRoute.objects.create(method=card, provider="simulator_b", priority=20)
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(3):  # three refusals of three tries: open (Simulator B pays each)
            assert pay(card, f"k{i}").status == "succeeded"
    assert RouteHealth.objects.get(route=first).state == "open"
    first.simulate_refused = False
    first.save()
    later = timezone.now() + timedelta(seconds=61)
    with time_machine.travel(later, tick=False), django_capture_on_commit_callbacks(execute=True):
        assert pay(card, "probe").provider == "simulator"  # the probe answers: closed again
    assert RouteHealth.objects.get(route=first).state == "healthy"
    assert [(m.subject, sorted(m.to)) for m in alerts()] == [
        (
            "Payment route card/simulator: healthy -> open",
            ["ops@example.com", "payments-admin@example.com"],
        ),
        (
            "Payment route card/simulator: open -> healthy",
            ["ops@example.com", "payments-admin@example.com"],
        ),
    ]
    assert "go to its next route" in alerts()[0].body
    assert "3 of 3 tries failed" in alerts()[0].body
    # Delivered again (a redelivery after a lost acknowledgement): no third email.
    for message in Message.objects.filter(kind="payments.route_health_alert"):
        outbox_deliver(message_id=message.pk)
    assert len(alerts()) == 2


def test_a_failed_probe_is_not_news(django_capture_on_commit_callbacks):
    card = PaymentMethodFactory(code="card")
    first = PaymentRoute.objects.create(
        method=card, provider="simulator", priority=10, simulate_refused=True
    )
    PaymentRoute.objects.create(method=card, provider="simulator_b", priority=20)
    RouteHealth.objects.create(
        route=first, state="open", changed_at=timezone.now() - timedelta(hours=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert pay(card, "probe").provider == "simulator_b"  # the probe refused: still open
    assert RouteHealth.objects.get(route=first).state == "open"
    assert alerts() == []

"""Routes and failover (issue 15): an attempt moves to the next route only when the first
certainly did not charge; a timeout stays on its route and is reconciled there."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone

from payments import services
from payments.gateways import (
    CardSummary,
    ChargeRequest,
    ChargeResult,
    NotCharged,
    Outcome,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    RefundResult,
)
from payments.gateways.simulator import SimulatorGateway
from payments.models import (
    PaymentAttempt,
    PaymentEvent,
    PaymentRoute,
    RouteHealth,
    SimulatedCharge,
    SimulatedRefund,
    WebhookEvent,
)
from payments.services.routing import route_window_counts
from tests.factories import OrderFactory, PaymentMethodFactory

pytestmark = pytest.mark.django_db


class FakeRoute:
    """One fake provider: does what it is told and writes down every key it was sent."""

    def __init__(self, name: str, does: str) -> None:
        self.name, self.does = name, does
        self.keys: list[str] = []

    def card_fingerprint(self, payment_method: str) -> str:
        return ""

    def card_summary(self, payment_method: str) -> CardSummary:
        return CardSummary()

    def charge(self, request: ChargeRequest) -> ChargeResult:
        self.keys.append(request.idempotency_key)
        if self.does == "not_charged":
            raise NotCharged(f"{self.name}: connection refused")
        if self.does == "timeout":
            raise ProviderTimeout(f"{self.name}: read timeout")
        if self.does == "unavailable":
            raise ProviderUnavailable(f"{self.name}: HTTP 503")
        if self.does == "rejected":
            raise ProviderRejected(f"{self.name}: HTTP 400")
        return ChargeResult(
            Outcome.SUCCEEDED, f"ref-{self.name}", amount=request.amount, currency="USD"
        )

    def retrieve(self, reference: str) -> ChargeResult:  # pragma: no cover - not asked here
        raise AssertionError("not expected")

    def refund(self, **kwargs: Any) -> RefundResult:  # pragma: no cover - not asked here
        raise AssertionError("not expected")


def two_routes(**method: Any) -> tuple[Any, PaymentRoute, PaymentRoute]:
    card = PaymentMethodFactory(code="card", **method)
    first = PaymentRoute.objects.create(method=card, provider="simulator", priority=10)
    second = PaymentRoute.objects.create(method=card, provider="simulator_b", priority=20)
    return card, first, second


def open_circuit(route: PaymentRoute) -> None:
    RouteHealth.objects.create(route=route, state="open", changed_at=timezone.now())


def pay(card: Any, token: str = "pm_card_visa", key: str = "k1") -> PaymentAttempt:
    return services.attempt_pay(
        order=OrderFactory(), method=card, idempotency_key=key, payment_method=token
    )


# primary circuit, what the primary does, what the second does ->
#   calls (primary, second), final status, failure code, the route that owns the attempt
ROUTE_CHOICE = [
    ("closed", "answer", "answer", (1, 0), "succeeded", "", "simulator"),
    ("closed", "not_charged", "answer", (1, 1), "succeeded", "", "simulator_b"),
    ("closed", "timeout", "answer", (1, 0), "unknown", "", "simulator"),
    ("closed", "unavailable", "answer", (1, 0), "unknown", "", "simulator"),
    ("closed", "rejected", "answer", (1, 0), "failed", "provider_rejected", "simulator"),
    ("closed", "not_charged", "timeout", (1, 1), "unknown", "", "simulator_b"),
    ("closed", "not_charged", "unavailable", (1, 1), "unknown", "", "simulator_b"),
    ("closed", "not_charged", "not_charged", (1, 1), "failed", "method_unhealthy", "simulator_b"),
    ("open", "answer", "answer", (0, 1), "succeeded", "", "simulator_b"),
    ("open", "answer", "timeout", (0, 1), "unknown", "", "simulator_b"),
    ("open", "answer", "not_charged", (0, 1), "failed", "method_unhealthy", "simulator_b"),
]


@pytest.mark.parametrize(
    ("circuit", "primary_does", "second_does", "calls", "status", "code", "owner"), ROUTE_CHOICE
)
def test_route_choice(circuit, primary_does, second_does, calls, status, code, owner):
    card, first, _second = two_routes()
    if circuit == "open":
        open_circuit(first)
    fakes = {
        "simulator": FakeRoute("simulator", primary_does),
        "simulator_b": FakeRoute("simulator_b", second_does),
    }
    with mock.patch("payments.services.routing.get_gateway", fakes.__getitem__):
        attempt = pay(card)
    assert (len(fakes["simulator"].keys), len(fakes["simulator_b"].keys)) == calls
    assert (attempt.status, attempt.failure_code, attempt.provider) == (status, code, owner)
    attempt.refresh_from_db()
    assert (attempt.status, attempt.provider, attempt.route.provider) == (status, owner, owner)


def test_each_route_gets_its_own_key_derived_from_the_attempt():
    card, _first, _second = two_routes()
    fakes = {"simulator": FakeRoute("simulator", "not_charged"), "simulator_b": FakeRoute("b", "")}
    with mock.patch("payments.services.routing.get_gateway", fakes.__getitem__):
        attempt = pay(card)
    assert fakes["simulator"].keys == [f"attempt-{attempt.public_id}"]
    assert fakes["simulator_b"].keys == [f"attempt-{attempt.public_id}:r2"]
    assert attempt.provider_key == f"attempt-{attempt.public_id}:r2"


def test_each_route_try_is_on_the_timeline_in_words():
    card, first, _second = two_routes()
    fakes = {"simulator": FakeRoute("simulator", "not_charged"), "simulator_b": FakeRoute("b", "")}
    with mock.patch("payments.services.routing.get_gateway", fakes.__getitem__):
        attempt = pay(card)
    routes = PaymentEvent.objects.filter(attempt=attempt, kind="route").order_by("id")
    assert [(e.payload["outcome"], e.payload["provider"], e.message) for e in routes] == [
        (
            "not_charged",
            "simulator",
            "Simulator did not charge: simulator: connection refused",
        ),
        ("answered", "simulator_b", "Simulator unavailable → sent to Simulator B"),
    ]
    assert all(isinstance(e.payload["duration_ms"], int) for e in routes)
    # The refusal counts against the primary route, not against the method's health.
    assert route_window_counts(first, timezone.now() - timedelta(hours=1)) == (1, 1)
    assert not PaymentEvent.objects.filter(attempt=attempt, kind="provider_error").exists()


def test_an_open_circuit_is_skipped_in_words():
    card, first, _second = two_routes()
    open_circuit(first)
    attempt = pay(card)
    messages = list(
        PaymentEvent.objects.filter(attempt=attempt, kind="route")
        .order_by("id")
        .values_list("message", flat=True)
    )
    assert messages == [
        "Simulator: circuit open, skipped",
        "Simulator unavailable → sent to Simulator B",
    ]
    assert attempt.status == "succeeded"
    # The second route's key, though the first was never called: the key names the route.
    assert attempt.provider_key == f"attempt-{attempt.public_id}:r2"


def test_all_routes_refusing_fails_with_a_code_the_catalog_explains():
    from payments.failures import Category, failure_for

    card, first, second = two_routes()
    first.simulate_refused = second.simulate_refused = True
    first.save()
    second.save()
    attempt = pay(card)
    assert (attempt.status, attempt.failure_code) == ("failed", "method_unhealthy")
    assert failure_for("method_unhealthy").category is Category.ANOTHER_METHOD
    assert SimulatedCharge.objects.count() == 0


def test_the_method_stays_available_while_any_route_is():
    from payments.selectors import method_availability

    card, first, second = two_routes()
    open_circuit(first)
    row = method_availability(method=card, amount=1000, currency="USD")
    assert (row.available, row.reason) == (True, "")
    open_circuit(second)
    row = method_availability(method=card, amount=1000, currency="USD")
    assert (row.available, row.reason) == (False, "method_unhealthy")


def test_an_open_route_is_probed_once_after_its_cool_down(settings):
    card, first, _second = two_routes()
    RouteHealth.objects.create(
        route=first, state="open", changed_at=timezone.now() - timedelta(hours=1)
    )
    attempt = pay(card)  # the probe: the primary answers and closes its circuit
    assert (attempt.status, attempt.provider) == ("succeeded", "simulator")
    assert RouteHealth.objects.get(route=first).state == "healthy"


def test_route_limits_pass_the_payment_to_a_route_that_carries_it():
    card, first, _second = two_routes()
    first.max_amount = 500
    first.save()
    attempt = pay(card)  # the order is over the first route's limit
    assert (attempt.status, attempt.provider) == ("succeeded", "simulator_b")
    assert SimulatedCharge.objects.get().provider == "simulator_b"


class CountingCalls:
    """Counts SimulatorGateway.charge calls per route, letting them through."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.real = SimulatorGateway.charge

    def __enter__(self) -> CountingCalls:
        counter = self

        def charge(gateway: SimulatorGateway, request: ChargeRequest) -> ChargeResult:
            counter.calls[gateway.name] += 1
            return counter.real(gateway, request)

        self.patch = mock.patch.object(SimulatorGateway, "charge", charge)
        self.patch.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.patch.stop()


def test_a_timeout_on_the_primary_stays_unknown_and_is_settled_there():
    card, _first, _second = two_routes()
    with CountingCalls() as counting:
        attempt = pay(card, token="pm_sim_timeout_then_succeeded")
        assert (attempt.status, attempt.provider) == ("unknown", "simulator")
        attempt = services.attempt_reconcile(attempt=attempt)
    assert (attempt.status, attempt.provider) == ("succeeded", "simulator")
    # Sent, then asked again under the same key; the second route was never called.
    assert counting.calls == {"simulator": 2}
    assert list(SimulatedCharge.objects.values_list("provider", flat=True)) == ["simulator"]


def test_reconcile_of_a_second_route_payment_goes_to_the_second_route():
    card, first, _second = two_routes()
    first.simulate_refused = True
    first.save()
    with CountingCalls() as counting:
        attempt = pay(card, token="pm_sim_timeout_then_succeeded")
        assert (attempt.status, attempt.provider) == ("unknown", "simulator_b")
        attempt = services.attempt_reconcile(attempt=attempt)
    assert (attempt.status, attempt.provider) == ("succeeded", "simulator_b")
    assert counting.calls == {"simulator_b": 2}
    charge = SimulatedCharge.objects.get()
    assert (charge.provider, charge.idempotency_key) == (
        "simulator_b",
        f"attempt-{attempt.public_id}:r2",
    )


def test_a_refund_of_a_second_route_payment_goes_to_the_second_route():
    card, first, _second = two_routes()
    first.simulate_refused = True
    first.save()
    attempt = pay(card)
    assert (attempt.status, attempt.provider) == ("succeeded", "simulator_b")
    refund = services.refund_create(
        attempt=attempt, amount=500, destination="original", reason="test", actor="staff:carol"
    )
    assert refund.status == "succeeded"
    simulated = SimulatedRefund.objects.get()
    assert (simulated.charge.provider, simulated.amount) == ("simulator_b", 500)


def test_webhooks_from_both_simulator_routes_are_stored_and_deduplicated_per_provider():
    from payments.gateways.simulator import event_for, sign

    alipay = PaymentMethodFactory(code="alipay", kind="alipay")
    first = PaymentRoute.objects.create(method=alipay, provider="simulator", priority=10)
    PaymentRoute.objects.create(method=alipay, provider="simulator_b", priority=20)
    first.simulate_refused = True
    first.save()
    attempt = pay(alipay, token="pm_sim_alipay")
    assert (attempt.status, attempt.provider) == ("requires_action", "simulator_b")
    # The customer approves on the second route's page; its event arrives as simulator_b's.
    attempt = services.simulator_action_complete(
        reference=attempt.provider_reference, decision="approve"
    )
    assert attempt.status == "succeeded"
    charge = SimulatedCharge.objects.get()
    body = event_for(charge)
    assert list(WebhookEvent.objects.values_list("provider", "deliveries")) == [("simulator_b", 1)]
    _event, created = services.webhook_ingest(
        provider="simulator_b", body=body, signature=sign(body)
    )
    assert created is False
    # The same event id from the other route is another provider's event: stored on its own,
    # and it never moves an attempt that route did not carry.
    other, created = services.webhook_ingest(provider="simulator", body=body, signature=sign(body))
    assert created is True
    assert sorted(WebhookEvent.objects.values_list("provider", "deliveries")) == [
        ("simulator", 1),
        ("simulator_b", 2),
    ]
    other = services.webhook_process(event_pk=other.pk)
    assert other.processed_at is not None
    assert other.outcome == "ignored: no attempt of ours"
    attempt.refresh_from_db()
    assert attempt.status == "succeeded"


def test_the_customer_is_told_only_when_the_redirect_page_differs(client):
    from django.urls import reverse

    alipay = PaymentMethodFactory(code="alipay", kind="alipay", label_en="Alipay")
    first = PaymentRoute.objects.create(method=alipay, provider="simulator", priority=10)
    PaymentRoute.objects.create(method=alipay, provider="simulator_b", priority=20)
    told = "Alipay is slow right now; your payment is going through another channel."
    attempt = pay(alipay, token="pm_sim_alipay", key="normal")
    page = client.get(reverse("payments:simulator_action", args=[attempt.provider_reference]))
    assert page.status_code == 200 and told not in page.content.decode()
    first.simulate_refused = True
    first.save()
    attempt = pay(alipay, token="pm_sim_alipay", key="rerouted")
    page = client.get(reverse("payments:simulator_action", args=[attempt.provider_reference]))
    assert page.status_code == 200 and told in page.content.decode()
    # A card carried by the second route looks the same to the customer: nothing is said.
    card = PaymentMethodFactory(code="card", kind="card")
    PaymentRoute.objects.create(method=card, provider="simulator", simulate_refused=True)
    PaymentRoute.objects.create(method=card, provider="simulator_b", priority=200)
    attempt = pay(card, token="pm_card_threeDSecure2Required", key="card")
    assert attempt.provider == "simulator_b"
    page = client.get(reverse("payments:simulator_action", args=[attempt.provider_reference]))
    assert page.status_code == 200 and "another channel" not in page.content.decode()


def test_simulate_refused_is_ignored_for_real_providers():
    from payments.services.routing import _charge

    route = PaymentRoute(provider="wallet", simulate_refused=True)
    with mock.patch("payments.services.routing.get_gateway") as get:
        get.return_value.charge.return_value = "answered"
        assert _charge(route, mock.Mock()) == "answered"

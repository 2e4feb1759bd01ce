"""Routes: which provider carries a payment method, in the order admins choose, each with its own
limits and its own circuit breaker (issue 15).

A method (what the customer picks) has one or more routes. An attempt goes to the first usable
route and moves to the next one only when the first certainly did not charge
(payments/services/routing.py). A method with no route rows is carried by `method.provider`
alone, as before routes existed.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .attempts import PaymentAttempt
from .health import MethodHealth
from .methods import PaymentMethod


class PaymentRoute(models.Model):
    """One provider that can carry a payment method."""

    method = models.ForeignKey(
        PaymentMethod, on_delete=models.CASCADE, related_name="routes", verbose_name=_("method")
    )
    provider = models.CharField(
        _("provider"), max_length=20, choices=PaymentMethod.Provider.choices
    )
    # Lower goes first.
    priority = models.PositiveSmallIntegerField(_("priority"), default=100)
    enabled = models.BooleanField(_("enabled"), default=True)
    label = models.CharField(_("label for admins"), max_length=80, blank=True)
    min_amount = models.PositiveBigIntegerField(_("minimum amount (minor units)"), default=0)
    max_amount = models.PositiveBigIntegerField(
        _("maximum amount (minor units)"), null=True, blank=True
    )
    currencies = models.CharField(
        _("currencies"),
        max_length=200,
        blank=True,
        help_text=_("Comma-separated ISO codes, e.g. USD,CNY. Empty means any currency."),
    )
    # Simulator routes only: the fake provider refuses connections, so the demo and the tests
    # can show failover without credentials. Ignored for every real provider.
    simulate_refused = models.BooleanField(
        _("simulate refused connections (simulator only)"), default=False
    )

    class Meta:
        ordering = ["method", "priority", "pk"]
        verbose_name = _("payment route")
        verbose_name_plural = _("payment routes")
        constraints = [
            models.UniqueConstraint(fields=["method", "provider"], name="payments_route_once"),
            models.CheckConstraint(
                condition=Q(max_amount__isnull=True) | Q(max_amount__gte=models.F("min_amount")),
                name="payments_route_amount_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.method_id}:{self.provider}"

    @property
    def name(self) -> str:
        return self.label or str(PaymentMethod.Provider(self.provider).label)

    @property
    def currency_list(self) -> list[str]:
        return [c.strip().upper() for c in self.currencies.split(",") if c.strip()]

    def carries(self, *, amount: int, currency: str) -> bool:
        """Whether this route takes this amount and currency (its own limits)."""
        if self.currency_list and currency.upper() not in self.currency_list:
            return False
        if amount < self.min_amount:
            return False
        return self.max_amount is None or amount <= self.max_amount


class RouteHealth(models.Model):
    """A route's circuit breaker, shared by every process through the database.

    The same states and moves as a method's (HEALTH_ALLOWED): counted from the route's own tries
    (PaymentEvent kind `route`). Open: the route is skipped until its cool-down ends, then one
    attempt probes it (`probe_until` is how long that probe holds the circuit).
    """

    State = MethodHealth.State

    route = models.OneToOneField(PaymentRoute, on_delete=models.CASCADE, related_name="health")
    state = models.CharField(max_length=20, choices=State.choices, default=State.HEALTHY)
    changed_at = models.DateTimeField(default=timezone.now)
    # Tries before this moment no longer count (the window restarts when a circuit closes).
    window_started_at = models.DateTimeField(null=True, blank=True)
    probe_attempt = models.ForeignKey(
        PaymentAttempt, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    probe_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("route health")
        verbose_name_plural = _("route health")

    def __str__(self) -> str:
        return f"{self.route_id} {self.state}"

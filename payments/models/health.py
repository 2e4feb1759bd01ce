"""Each method's circuit breaker and the record of its changes."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .attempts import PaymentAttempt
from .methods import PaymentMethod


class MethodHealth(models.Model):
    """A method's circuit breaker, shared by every process through this row."""

    class State(models.TextChoices):
        HEALTHY = "healthy", _("Healthy")
        DEGRADED = "degraded", _("Degraded")
        OPEN = "open", _("Unavailable (circuit open)")

    method = models.OneToOneField(PaymentMethod, on_delete=models.CASCADE, related_name="health")
    state = models.CharField(max_length=20, choices=State.choices, default=State.HEALTHY)
    changed_at = models.DateTimeField(default=timezone.now)
    # Attempts before this moment no longer count (the window restarts when a circuit closes).
    window_started_at = models.DateTimeField(null=True, blank=True)
    # While open and past its cool-down, exactly one attempt may go through to test the provider.
    probe_attempt = models.ForeignKey(
        PaymentAttempt, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("method health")
        verbose_name_plural = _("method health")

    def __str__(self) -> str:
        return f"{self.method_id} {self.state}"


HS = MethodHealth.State
# The only moves a method's health may make (payments/services/health.py health_transition).
# A burst of technical failures may open a healthy circuit at once; an open circuit leaves only
# through its probe: a probe that answers closes it, a probe that fails opens it again
# (open -> open, which restarts the cool-down). Staying in the same state is not a move.
HEALTH_ALLOWED: dict[str, frozenset[str]] = {
    HS.HEALTHY: frozenset({HS.DEGRADED, HS.OPEN}),
    HS.DEGRADED: frozenset({HS.HEALTHY, HS.OPEN}),
    HS.OPEN: frozenset({HS.HEALTHY, HS.OPEN}),
}


class MethodHealthEvent(models.Model):
    """Each change of a method's health, for the admins' record and alerts."""

    method = models.ForeignKey(
        PaymentMethod, on_delete=models.CASCADE, related_name="health_events"
    )
    from_state = models.CharField(max_length=20)
    to_state = models.CharField(max_length=20)
    technical_failures = models.PositiveIntegerField()
    attempts = models.PositiveIntegerField()
    reason = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("method health change")
        verbose_name_plural = _("method health changes")

    def __str__(self) -> str:
        return f"{self.method_id}: {self.from_state} -> {self.to_state}"

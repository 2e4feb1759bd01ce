"""One row per side effect of a state change (an email, a staff alert, a webhook to process, a
delayed provider step), written in the same transaction as the change itself."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class Message(models.Model):
    kind = models.CharField(max_length=80)
    payload = models.JSONField(default=dict, blank=True)
    # What makes two enqueues the same side effect ("checkout.receipt:order:12"): a replayed
    # request or a redelivered webhook writes nothing new.
    key = models.CharField(max_length=200, unique=True)
    # The request (or task) that caused it, bound again while it is delivered: one id in the logs.
    request_id = models.CharField(max_length=64, blank=True, default="")
    # A payload carrying a secret (an SMS code, a reset link) is emptied once delivered or
    # given up, so the database keeps it only for as long as it is needed.
    sensitive = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    # Not before this: the first delivery's delay (a scheduled step), then the retry backoff.
    next_attempt_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    gave_up_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The sweep reads only the pending rows, oldest due first; a partial index stays the
            # size of the backlog, not of the history.
            models.Index(
                fields=["next_attempt_at", "id"],
                name="outbox_pending_due",
                condition=models.Q(sent_at__isnull=True, gave_up_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.key}"

    @property
    def state(self) -> str:
        if self.sent_at is not None:
            return "sent"
        if self.gave_up_at is not None:
            return "given up"
        return "pending"

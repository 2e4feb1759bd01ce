"""Shared pieces of the payments models."""

from __future__ import annotations

from typing import Any

from django.db import models


class AppendOnly(models.Model):
    """A record that is written once and never changed: audit trails and ledgers."""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError(f"{self._meta.verbose_name_plural} are append-only.")
        super().save(*args, **kwargs)

"""Change stamps: a value the database itself changes whenever a watched table does."""

from __future__ import annotations

from django.db import models


class ChangeStamp(models.Model):
    """One row per group of watched tables (payments/stamps.py). Database triggers on those
    tables give `value` a new random value in the same transaction as any insert, update or
    delete, however it is made (admin, services, a queryset's update(), raw SQL), so a process
    may keep its own copy of those rows for as long as the value it read them under stays."""

    name = models.CharField(primary_key=True, max_length=40)
    value = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"{self.name}: {self.value}"

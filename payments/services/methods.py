"""Admins' switches of a payment method, each written with who made it."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from ..models import MethodChange, PaymentMethod

logger = logging.getLogger(__name__)


@transaction.atomic
def method_update(
    *, method: PaymentMethod, actor: str, changes: dict[str, Any], reason: str = ""
) -> PaymentMethod:
    """Change a method's settings and record who changed what (a MethodChange row) in the same
    transaction. Fields already at their value are left out; no change at all writes nothing.
    The row lock keeps two admins' switches from recording each other's "before"."""
    for field in changes:
        PaymentMethod._meta.get_field(field)  # a typo raises FieldDoesNotExist, never saves
    locked = PaymentMethod.objects.select_for_update().get(pk=method.pk)
    diff = {
        field: [getattr(locked, field), value]
        for field, value in changes.items()
        if getattr(locked, field) != value
    }
    if not diff:
        return locked
    for field, (_before, after) in diff.items():
        setattr(locked, field, after)
    locked.save(update_fields=sorted(diff))
    MethodChange.objects.create(method=locked, actor=actor, changes=diff, reason=reason)
    logger.info("method %s changed by %s: %s", locked.code, actor, sorted(diff))
    return locked

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


@transaction.atomic
def method_routes_changed(
    *,
    method: PaymentMethod,
    actor: str,
    changed: list[tuple[str, str, Any, Any]],
    added: list[str],
    removed: list[str],
) -> MethodChange | None:
    """Record an admin's edit of a method's routes (the admin saves the rows themselves, and
    passes only the fields its forms saw change): one MethodChange whose keys name the route
    and field, `"route simulator_b: enabled": [true,
    false]`, `"route adyen": [null, "added"]`, `"route stripe": ["removed", null]`. Nothing
    changed, nothing written. Called inside the admin's save, so it commits or rolls back with
    the routes."""
    diff: dict[str, list[Any]] = {}
    for provider, field, before, after in changed:
        diff[f"route {provider}: {field}"] = [before, after]
    for provider in added:
        diff[f"route {provider}"] = [None, "added"]
    for provider in removed:
        diff[f"route {provider}"] = ["removed", None]
    if not diff:
        return None
    logger.info("routes of method %s changed by %s: %s", method.code, actor, sorted(diff))
    return MethodChange.objects.create(method=method, actor=actor, changes=diff)

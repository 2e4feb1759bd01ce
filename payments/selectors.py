from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from .models import PaymentMethod


@dataclass(frozen=True)
class Availability:
    method: PaymentMethod
    available: bool
    # A failure-catalog-style code saying why not, e.g. "maintenance" or "above_maximum".
    reason: str = ""


def wallet_balance(*, user: object | None, currency: str) -> int:
    """The wallet ledger arrives with the payments-engine issue; until then every balance is 0."""
    return 0


def method_availability(
    *, method: PaymentMethod, amount: int, currency: str, user: object | None = None
) -> Availability:
    """Whether a method can pay this amount now, and if not, why. The one place this is decided."""
    if not method.enabled:
        return Availability(method, False, "disabled")
    if method.maintenance and (
        method.maintenance_until is None or method.maintenance_until > timezone.now()
    ):
        return Availability(method, False, "maintenance")
    if method.currency_list and currency.upper() not in method.currency_list:
        return Availability(method, False, "currency_not_supported")
    if amount < method.min_amount:
        return Availability(method, False, "below_minimum")
    if method.max_amount is not None and amount > method.max_amount:
        return Availability(method, False, "above_maximum")
    if (
        method.kind == PaymentMethod.Kind.WALLET
        and wallet_balance(user=user, currency=currency) < amount
    ):
        return Availability(method, False, "wallet_insufficient")
    return Availability(method, True)


def methods_for_amount(
    *, amount: int, currency: str, user: object | None = None
) -> list[Availability]:
    """Every method an admin has not switched off, in display order, with its availability."""
    methods = PaymentMethod.objects.filter(enabled=True).order_by("display_order", "code")
    return [
        method_availability(method=m, amount=amount, currency=currency, user=user) for m in methods
    ]

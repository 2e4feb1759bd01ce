from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models import Prefetch
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from . import risk
from .models import (
    IN_FLIGHT,
    PAID,
    MethodHealth,
    PaymentAttempt,
    PaymentEvent,
    PaymentMethod,
    PaymentRoute,
    RouteHealth,
    Wallet,
)
from .stamps import StampedMemo

if TYPE_CHECKING:
    from .failures import Failure

# Why a method cannot take this order, in words for the customer.
REASON_MESSAGES: dict[str, Promise] = {
    "disabled": _("Temporarily unavailable"),
    "maintenance": _("Under maintenance"),
    "currency_not_supported": _("Not available in this currency."),
    "below_minimum": _("This order is below the minimum for this method."),
    "above_maximum": _("This order is over the limit for this method."),
    "wallet_insufficient": _("Your wallet balance is not enough for this order."),
    "not_for_top_up": _("A wallet cannot be topped up from itself."),
    "method_unhealthy": _("Temporarily unavailable: this method is having problems."),
    "sign_in_required": _("Sign in to pay with your wallet."),
    "wallet_owner_only": _("Only the wallet's owner, signed in, can pay with it."),
    "wallet_covers_order": _("Your wallet covers the whole order: choose Wallet to pay with it."),
    "wallet_split_invalid": _("Part of this payment cannot come from your wallet."),
    "risk_paused": _("Paused for your security: see the message above."),
}


# Card brands as Stripe names them, as the customer knows them. A brand not listed is named by
# the method's own label ("Card ···1234").
CARD_BRANDS: dict[str, Promise] = {
    "visa": _("Visa"),
    "mastercard": _("Mastercard"),
    "amex": _("American Express"),
    "discover": _("Discover"),
    "diners": _("Diners Club"),
    "jcb": _("JCB"),
    "unionpay": _("UnionPay"),
}


def attempt_paid_with(attempt: PaymentAttempt) -> str:
    """What the customer paid with, in their words: "Visa ···4242" for a card whose brand and
    last four the provider gave, else the method's label ("Alipay", "Card")."""
    if not attempt.card_last4:
        return attempt.method.label
    brand = CARD_BRANDS.get(attempt.card_brand)
    return gettext("%(brand)s ···%(last4)s") % {
        "brand": brand if brand is not None else attempt.method.label,
        "last4": attempt.card_last4,
    }


@dataclass(frozen=True)
class Availability:
    method: PaymentMethod
    available: bool
    # A failure-catalog-style code saying why not, e.g. "maintenance" or "above_maximum".
    reason: str = ""
    # The wallet's balance, for the wallet method (minor units of the order's currency).
    balance: int | None = None
    # Offered, but recently unreliable: shown with a warning and ranked lower.
    degraded: bool = False

    @property
    def message(self) -> str:
        return str(REASON_MESSAGES.get(self.reason, ""))


def wallet_balance(*, user: Any, currency: str) -> int:
    """The balance of `user`'s wallet in `currency` (0 for guests and for no wallet yet)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return 0
    balance = (
        Wallet.objects.filter(user=user, currency=currency.upper())
        .values_list("balance", flat=True)
        .first()
    )
    return balance or 0


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
    health = _health(method)
    if reason := health_reason(health) or routes_reason(method, amount=amount, currency=currency):
        return Availability(method, False, reason)
    degraded = health is not None and _degraded(health)
    if method.kind == PaymentMethod.Kind.WALLET:
        if user is None or not getattr(user, "is_authenticated", False):
            return Availability(method, False, "sign_in_required")
        balance = wallet_balance(user=user, currency=currency)
        if balance < amount:
            return Availability(method, False, "wallet_insufficient", balance=balance)
        return Availability(method, True, balance=balance, degraded=degraded)
    return Availability(method, True, degraded=degraded)


def wallet_split_offer(*, user: Any, amount: int, currency: str) -> int:
    """How much of an order of `amount` the signed-in `user` may pay from their wallet, the
    rest with another method: their whole balance when it is more than 0 and less than the
    order (a balance that covers it all is the wallet method itself), else 0.

    The wallet method must be able to take that part now (enabled, not in maintenance, within
    its limits, healthy): switching the wallet off switches this off too.
    """
    balance = wallet_balance(user=user, currency=currency)
    if not 0 < balance < amount:
        return 0
    wallet = next((m for m in enabled_methods() if m.kind == PaymentMethod.Kind.WALLET), None)
    if wallet is None:
        return 0
    availability = method_availability(method=wallet, amount=balance, currency=currency, user=user)
    return balance if availability.available else 0


def route_usable(route: PaymentRoute, *, now: datetime | None = None) -> bool:
    """Whether a route may be tried now: its circuit is not open, or it is open, cooled down
    and no probe is out. A read only: routing claims the probe (services.routing.route_admit).
    """
    if route.pk is None:
        return True
    try:
        health = route.health  # prefetched on the checkout page (methods_for_amount)
    except RouteHealth.DoesNotExist:
        return True
    if health.state != RouteHealth.State.OPEN:
        return True
    now = now or timezone.now()
    cooldown = timedelta(seconds=settings.PAYMENTS_HEALTH_COOLDOWN_SECONDS)
    probe_out = health.probe_until is not None and health.probe_until > now
    return now >= health.changed_at + cooldown and not probe_out


def routes_reason(method: PaymentMethod, *, amount: int, currency: str) -> str:
    """Why no route of the method can carry this payment now, or "" when one can. A method
    stays available while any of its routes is (issue 15); one without route rows is carried
    by its own provider."""
    routes = list(method.routes.all())
    if not routes:
        return ""
    enabled = [r for r in routes if r.enabled]
    if not enabled:
        return "disabled"
    if not any(not r.currency_list or currency.upper() in r.currency_list for r in enabled):
        return "currency_not_supported"
    carrying = [r for r in enabled if r.carries(amount=amount, currency=currency)]
    if not carrying:
        return "below_minimum" if all(amount < r.min_amount for r in enabled) else "above_maximum"
    if not any(route_usable(r) for r in carrying):
        return "method_unhealthy"
    return ""


REDIRECT_KINDS = frozenset({PaymentMethod.Kind.ALIPAY, PaymentMethod.Kind.WECHAT_PAY})


def goes_through_other_channel(attempt: PaymentAttempt) -> bool:
    """Whether the customer should be told their payment went through another channel: only
    when it matters, where the page they are sent to differs (Alipay or WeChat Pay carried by a
    later route than the method's first)."""
    if attempt.method.kind not in REDIRECT_KINDS or attempt.route_id is None:
        return False
    return PaymentEvent.objects.filter(
        attempt=attempt,
        kind=PaymentEvent.Kind.ROUTE,
        payload__outcome__in=("skipped", "not_charged"),
    ).exists()


def confirmation_deadline(attempt: PaymentAttempt) -> datetime:
    """When an attempt left unsettled (a timeout, a slow provider) is settled at the latest: the
    reconciliation sweep gives it up as failed once it is this old (reconcile.attempt_reconcile).
    """
    return attempt.created_at + timedelta(minutes=settings.PAYMENTS_CONFIRMATION_LIMIT_MINUTES)


def cooled_down(health: MethodHealth) -> bool:
    cooldown = timedelta(seconds=settings.PAYMENTS_HEALTH_COOLDOWN_SECONDS)
    return (
        health.state == MethodHealth.State.OPEN and timezone.now() >= health.changed_at + cooldown
    )


def health_reason(health: MethodHealth | None) -> str:
    """Why a method cannot be offered right now because of its health, or "" if it can."""
    if health is None or health.state != MethodHealth.State.OPEN:
        return ""
    from .services.health import probe_releasable

    if cooled_down(health) and (health.probe_attempt_id is None or probe_releasable(health)):
        return ""  # the next attempt is the probe (a probe that will never count is let go)
    return "method_unhealthy"


def _degraded(health: MethodHealth) -> bool:
    from .services.health import degraded_now

    return degraded_now(health)


def _health(method: PaymentMethod) -> MethodHealth | None:
    try:
        return method.health
    except MethodHealth.DoesNotExist:
        return None


def _enabled_methods_load() -> list[PaymentMethod]:
    return list(
        PaymentMethod.objects.filter(enabled=True)
        .select_related("health")
        .prefetch_related(
            Prefetch("routes", queryset=PaymentRoute.objects.select_related("health"))
        )
        .order_by("display_order", "code")
    )


_ENABLED_METHODS = StampedMemo("payment_methods", _enabled_methods_load)


def enabled_methods() -> list[PaymentMethod]:
    """The methods an admin has not switched off, in display order, with their routes and both
    healths: this process's copy while none of those rows changed (payments/stamps.py), so
    shared with other requests: read them, never change them."""
    return _ENABLED_METHODS.get()


def methods_for_amount(
    *, amount: int, currency: str, user: object | None = None
) -> list[Availability]:
    """Every method an admin has not switched off, in display order, with its availability.
    Whatever depends on the time (maintenance ends, cool-downs, probes) is judged now."""
    rows = [
        method_availability(method=m, amount=amount, currency=currency, user=user)
        for m in enabled_methods()
    ]
    # Usable first, then the unreliable ones, then what cannot be used; stable within each.
    return sorted(rows, key=lambda row: (not row.available, row.degraded))


def _same_card_refused(attempt: PaymentAttempt) -> bool:
    """Trying the same card again would be refused (card testing counts the card itself)."""
    if not attempt.card_fingerprint:
        return False
    return risk.refusal_for(attempt=attempt, same_card=True) is not None


@dataclass(frozen=True)
class Alternative:
    method: PaymentMethod
    why: Promise


def alternatives_for(*, attempt: PaymentAttempt, entry: Failure) -> list[Alternative]:
    """Other ways to pay this order after `attempt` failed, best first (admin's fallback order).

    The failed method is offered again only when trying it again can help. Never chosen for the
    customer: this is what the page and the API offer. Nothing is offered while the risk rules
    would refuse this buyer's next payment (`risk.refusal_for`): the page says until when.
    """
    if risk.refusal_for(attempt=attempt) is not None:
        return []
    order = attempt.order
    rows = methods_for_amount(amount=order.total, currency=order.currency, user=order.user)
    offered, same = [], []
    for row in sorted(rows, key=lambda r: (r.degraded, r.method.fallback_order, r.method.code)):
        if not row.available:
            continue
        if row.method.pk != attempt.method_id:
            why = _("Available now and not affected by this problem.")
            offered.append(Alternative(row.method, why))
        elif entry.retry_same_method and not _same_card_refused(attempt):
            same.append(Alternative(row.method, _("Trying again may work.")))
    # Other methods first: the same one again is the last resort.
    return offered + same


def attempt_qr_code(attempt: PaymentAttempt) -> str:
    """The QR code a direct Alipay or WeChat Pay attempt shows: the `qr_code` of the
    provider's latest answer that carried one (its charge answer), or "" if none did."""
    from .models import PaymentEvent

    payloads = (
        PaymentEvent.objects.filter(
            attempt=attempt,
            kind=PaymentEvent.Kind.PROVIDER_RESPONSE,
            payload__has_key="qr_code",
        )
        .order_by("-pk")
        .values_list("payload", flat=True)
    )
    for payload in payloads[:1]:
        code = payload.get("qr_code") if isinstance(payload, dict) else None
        return code if isinstance(code, str) else ""
    return ""


# --- Cashing out the wallet: where each part of a withdrawal goes ------------------------------

WALLET_TOP_UP = "wallet_top_up"  # checkout's OrderKind.WALLET_TOP_UP, as stored

# Why part of a balance cannot be withdrawn, in words for the customer.
WITHDRAWAL_EXCLUSIONS: dict[str, Promise] = {
    "confirming": _("This top-up is still being confirmed. It can be withdrawn once it is paid."),
    "past_refund_window": _(
        "This top-up is older than its payment provider accepts refunds for. Our support team "
        "can send it back by hand."
    ),
    "no_source": _(
        "This part of your balance did not come from a payment we can send back (for example a "
        "credit from our team). Our support team can pay it out by hand."
    ),
}


@dataclass(frozen=True)
class WithdrawalSource:
    """A payment whose money is in the wallet and can go back to where it came from."""

    attempt: PaymentAttempt
    # What can still go back to the attempt's method (minor units).
    available: int
    # "top_up", or "wallet_refund" for a purchase refunded to the wallet.
    kind: str

    @property
    def method_kind(self) -> str:
        return self.attempt.method.kind

    @property
    def method_label(self) -> str:
        return attempt_paid_with(self.attempt)


@dataclass(frozen=True)
class WithdrawalPart:
    source: WithdrawalSource
    amount: int

    @property
    def arrival(self) -> str:
        from .arrival import arrival_words

        return arrival_words(self.source.method_kind)


@dataclass(frozen=True)
class WithdrawalExclusion:
    reason: str
    amount: int
    attempt: PaymentAttempt | None = None

    @property
    def message(self) -> str:
        return str(WITHDRAWAL_EXCLUSIONS[self.reason])


@dataclass(frozen=True)
class WithdrawalPlan:
    currency: str
    balance: int
    # The most that can be withdrawn now: the balance, as far as sources can carry it back.
    withdrawable: int
    # What was asked for (0 when only the exclusions were asked about).
    amount: int
    parts: list[WithdrawalPart]
    excluded: list[WithdrawalExclusion]

    @property
    def covered(self) -> bool:
        return 0 < self.amount == sum(part.amount for part in self.parts)


def _refund_window_passed(attempt: PaymentAttempt, now: datetime) -> bool:
    days = settings.PAYMENTS_REFUND_WINDOW_DAYS.get(attempt.provider)
    return days is not None and attempt.created_at < now - timedelta(days=days)


def withdrawal_sources(
    *, user: Any, currency: str
) -> tuple[list[WithdrawalSource], list[WithdrawalExclusion]]:
    """Every payment that funded this wallet, oldest first, with what can still go back, and
    what cannot (with the reason). A pure read: the service locks and plans again."""
    from .models import Refund

    currency = currency.upper()
    now = timezone.now()
    sources: list[WithdrawalSource] = []
    excluded: list[WithdrawalExclusion] = []
    top_ups = (
        PaymentAttempt.objects.filter(
            order__user=user, order__kind=WALLET_TOP_UP, currency=currency
        )
        .exclude(provider="wallet")
        .select_related("method", "order")
        .order_by("created_at", "pk")
    )
    for attempt in top_ups:
        if attempt.status in IN_FLIGHT:
            excluded.append(WithdrawalExclusion("confirming", attempt.amount, attempt))
            continue
        available = attempt.amount - attempt.refunded_amount if attempt.status in PAID else 0
        if available <= 0:
            continue
        if _refund_window_passed(attempt, now):
            excluded.append(WithdrawalExclusion("past_refund_window", available, attempt))
            continue
        sources.append(WithdrawalSource(attempt, available, "top_up"))
    # Purchases refunded to the wallet go back to the method they were paid with; a part of a
    # withdrawal already on its way (or gone) from one of them is not available again.
    refunds = (
        Refund.objects.filter(
            attempt__order__user=user,
            currency=currency,
            status__in=[Refund.Status.PENDING, Refund.Status.SUCCEEDED],
        )
        .exclude(attempt__order__kind=WALLET_TOP_UP)
        .exclude(attempt__provider="wallet")
        .select_related("attempt__method", "attempt__order")
    )
    by_attempt: dict[int, list[Any]] = {}
    for refund in refunds:
        by_attempt.setdefault(refund.attempt_id, [refund.attempt, 0])
        if refund.withdrawal_id is not None:
            by_attempt[refund.attempt_id][1] -= refund.amount
        elif refund.destination == Refund.Destination.WALLET and refund.status == "succeeded":
            by_attempt[refund.attempt_id][1] += refund.amount
    for attempt, available in by_attempt.values():
        if available <= 0:
            continue
        if _refund_window_passed(attempt, now):
            excluded.append(WithdrawalExclusion("past_refund_window", available, attempt))
            continue
        sources.append(WithdrawalSource(attempt, available, "wallet_refund"))
    sources.sort(key=lambda s: (s.attempt.created_at, s.attempt.pk))
    return sources, excluded


def withdrawal_plan(*, user: Any, currency: str, amount: int = 0) -> WithdrawalPlan:
    """Where `amount` of the wallet would go: oldest source first, split when one is not
    enough; and what part of the balance cannot be withdrawn, and why. A pure read.

    The parts cover `amount` only when it is within `withdrawable` (see `covered`).
    """
    currency = currency.upper()
    balance = wallet_balance(user=user, currency=currency)
    sources, excluded = withdrawal_sources(user=user, currency=currency)
    # Spent money is not in the balance: what the sources could carry back is capped by it.
    withdrawable = min(balance, sum(s.available for s in sources))
    held_by_exclusions = sum(e.amount for e in excluded if e.reason != "confirming")
    no_source = balance - withdrawable - held_by_exclusions
    if no_source > 0:
        excluded.append(WithdrawalExclusion("no_source", no_source))
    parts: list[WithdrawalPart] = []
    left = min(max(amount, 0), withdrawable)
    for source in sources:
        if left <= 0:
            break
        take = min(left, source.available)
        parts.append(WithdrawalPart(source, take))
        left -= take
    return WithdrawalPlan(
        currency=currency,
        balance=balance,
        withdrawable=withdrawable,
        amount=amount,
        parts=parts,
        excluded=excluded,
    )

"""Reads for the payments dashboard: success rates, failure reasons, the funnel, confirmation
time and refunds over a period; and the small inline SVG charts that show them (no CDN)."""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDay, TruncHour
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from .models import IN_FLIGHT, PAID, PaymentAttempt, Refund
from .orders import order_book

SETTLED_OK = sorted(PAID)


@dataclass(frozen=True)
class RatePoint:
    start: datetime
    attempts: int
    succeeded: int

    @property
    def percent(self) -> int:
        """Whole percent, rounded down: display only, never money."""
        return self.succeeded * 100 // self.attempts if self.attempts else 0


def success_rates(*, since: datetime, until: datetime, bucket: str) -> dict[str, list[RatePoint]]:
    """Per method, per hour or day: attempts that got an answer, and how many succeeded."""
    trunc = TruncHour if bucket == "hour" else TruncDay
    rows = (
        PaymentAttempt.objects.filter(created_at__gte=since, created_at__lt=until)
        .exclude(status__in=sorted(IN_FLIGHT))
        .annotate(start=trunc("created_at"))
        .values("method__code", "start")
        .annotate(n=Count("id"), ok=Count("id", filter=Q(status__in=SETTLED_OK)))
        .order_by("method__code", "start")
    )
    rates: dict[str, list[RatePoint]] = {}
    for row in rows:
        rates.setdefault(row["method__code"], []).append(
            RatePoint(row["start"], row["n"], row["ok"])
        )
    return rates


def top_failures(*, since: datetime, until: datetime, limit: int = 10) -> list[tuple[str, int]]:
    rows = (
        PaymentAttempt.objects.filter(
            created_at__gte=since, created_at__lt=until, status=PaymentAttempt.Status.FAILED
        )
        .values("failure_code", "decline_code")
        .annotate(n=Count("id"))
        .order_by("-n", "failure_code")[:limit]
    )
    return [(row["decline_code"] or row["failure_code"] or "unknown", row["n"]) for row in rows]


def funnel(*, since: datetime, until: datetime) -> dict[str, int]:
    """Checkout pages opened, orders with a payment attempt, orders paid, in the period."""
    # Orders and checkout visits are checkout's: it counts them (payments/orders.py).
    return order_book().funnel(since=since, until=until)


def median_confirmation_seconds(*, since: datetime, until: datetime) -> float | None:
    pairs = PaymentAttempt.objects.filter(
        created_at__gte=since, created_at__lt=until, settled_at__isnull=False
    ).values_list("created_at", "settled_at")[:10_000]
    durations = [
        (settled - created).total_seconds() for created, settled in pairs if settled is not None
    ]
    return statistics.median(durations) if durations else None


def refund_totals(*, since: datetime, until: datetime) -> list[Mapping[str, Any]]:
    return list(
        Refund.objects.filter(created_at__gte=since, created_at__lt=until)
        .values("status", "currency")
        .annotate(n=Count("id"), amount=Sum("amount"))
        .order_by("status", "currency")
    )


def bar_chart(
    points: list[RatePoint], *, title: str, width: int = 480, height: int = 120
) -> SafeString:
    """Success rate per bucket as bars, with a text alternative; numbers only go into the SVG."""
    if not points:
        return mark_safe("")  # noqa: S308 - constant
    gap = 2
    bar = max(2, (width - gap * len(points)) // len(points))
    parts = []
    for index, point in enumerate(points):
        h = point.percent * (height - 20) // 100
        x = index * (bar + gap)
        parts.append(
            f'<rect x="{x}" y="{height - h}" width="{bar}" height="{h}" fill="#0b5cad">'
            f"<title>{point.start:%Y-%m-%d %H:%M} {point.percent}% ({point.succeeded}/"
            f"{point.attempts})</title></rect>"
        )
    svg = (
        f'<svg role="img" aria-label="{escape(title)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">'
        f'<line x1="0" y1="{height - 1}" x2="{width}" y2="{height - 1}" stroke="#4a4a4a"/>'
        + "".join(parts)
        + "</svg>"
    )
    return mark_safe(svg)  # noqa: S308 - built from numbers and an escaped title


@dataclass(frozen=True)
class RouteStat:
    """One route over the last day, for the dashboard (issue 15)."""

    method: str
    route: str
    provider: str
    state: str
    # Attempts this route carried that got a final answer, and how many of them were paid.
    settled: int
    paid: int
    # Calls to the route (answered, no answer, not charged) and how many failed technically.
    tries: int
    technical: int
    median_ms: float | None
    # Payments this route took, and were paid, after an earlier route was skipped or did not
    # charge (route_try > 1).
    failover_saves: int

    @property
    def percent(self) -> int | None:
        """Whole percent of settled attempts that were paid, rounded down (display only)."""
        return self.paid * 100 // self.settled if self.settled else None


def route_stats(*, since: datetime) -> list[RouteStat]:
    """Per route since `since`: success rate, median call time, circuit state, failover saves.

    A few small queries per route; there are a handful of routes, not thousands."""
    from .models import PaymentEvent, PaymentRoute, RouteHealth

    stats = []
    routes = PaymentRoute.objects.select_related("method").order_by(
        "method__display_order", "method__code", "priority", "pk"
    )
    for route in routes:
        try:
            state = str(route.health.get_state_display())
        except RouteHealth.DoesNotExist:
            state = str(RouteHealth.State.HEALTHY.label)
        carried = PaymentAttempt.objects.filter(route=route, created_at__gte=since)
        settled = carried.exclude(status__in=sorted(IN_FLIGHT))
        tries = PaymentEvent.objects.filter(
            kind=PaymentEvent.Kind.ROUTE,
            payload__route_id=route.pk,
            payload__outcome__in=["answered", "unknown", "not_charged"],
            created_at__gte=since,
        )
        durations = [
            int(ms)
            for ms in tries.values_list("payload__duration_ms", flat=True)
            if isinstance(ms, int | float)
        ]
        saves = carried.filter(status__in=SETTLED_OK, route_try__gt=1).count()
        stats.append(
            RouteStat(
                method=route.method.code,
                route=route.name,
                provider=route.provider,
                state=str(state),
                settled=settled.count(),
                paid=settled.filter(status__in=SETTLED_OK).count(),
                tries=tries.count(),
                technical=tries.filter(payload__outcome__in=["unknown", "not_charged"]).count(),
                median_ms=statistics.median(durations) if durations else None,
                failover_saves=saves,
            )
        )
    return stats

"""What Alipay direct and WeChat Pay direct share: CNY only, our keys as their trade numbers,
and amounts converted exactly (integers in, integers out; never a float)."""

from __future__ import annotations

import hashlib
import re
import uuid

from django.urls import reverse

from .base import ProviderRejected

# Both providers settle in yuan only. A route reads `currencies` to offer itself; a request in
# another currency that reaches the gateway anyway is refused before anything is sent.
CURRENCIES = frozenset({"CNY"})

_OUR_KEY = re.compile(
    r"(attempt|refund)-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
)
_YUAN = re.compile(r"(0|[1-9][0-9]{0,11})(?:\.([0-9]{1,2}))?")


def require_cny(currency: str) -> None:
    if currency.upper() not in CURRENCIES:
        raise ProviderRejected(
            f"only CNY is accepted, not {currency!r}", code="currency_not_supported"
        )


def trade_number(key: str, *, limit: int, allowed: str) -> str:
    """Our attempt's key as the provider's merchant trade number, the same every time.

    `attempt-<uuid>` becomes `<uuid hex>` (32 letters and digits: both providers accept it and
    it maps back to the attempt). A key that fits the provider's rules is itself; a refund key
    that does not becomes `refund_<uuid hex>`; any other key is hashed (sha256 hex, cut)."""
    found = _OUR_KEY.fullmatch(key)
    if found and found.group(1) == "attempt":
        return uuid.UUID(found.group(2)).hex
    if key and len(key) <= limit and re.fullmatch(f"[{allowed}]+", key):
        return key
    if found:
        return f"refund_{uuid.UUID(found.group(2)).hex}"
    return hashlib.sha256(key.encode()).hexdigest()[:limit]


def attempt_public_id(trade_no: str) -> uuid.UUID | None:
    """The attempt a trade number was made from, when it was made from an attempt key."""
    if not re.fullmatch(r"[0-9a-f]{32}", trade_no):
        return None
    return uuid.UUID(hex=trade_no)


def refund_public_id(refund_no: str) -> uuid.UUID | None:
    """The refund a refund number was made from (`refund-<uuid>` or `refund_<uuid hex>`)."""
    found = _OUR_KEY.fullmatch(refund_no)
    if found and found.group(1) == "refund":
        return uuid.UUID(found.group(2))
    if re.fullmatch(r"refund_[0-9a-f]{32}", refund_no):
        return uuid.UUID(hex=refund_no.removeprefix("refund_"))
    return None


def yuan(amount: int) -> str:
    """1234 fen as Alipay's "12.34"."""
    if amount < 0:
        raise ValueError("amounts are never negative")
    return f"{amount // 100}.{amount % 100:02d}"


def fen(text: object) -> int | None:
    """Alipay's "12.34" as 1234 (None when it is not an amount we can read exactly)."""
    found = _YUAN.fullmatch(str(text))
    if not found:
        return None
    cents = (found.group(2) or "").ljust(2, "0")
    return int(found.group(1)) * 100 + int(cents)


def qr_page_url(provider: str, reference: str) -> str:
    """Our own page that shows the provider's QR code (server-side SVG, no script)."""
    return reverse("payments:qr_code", kwargs={"provider": provider, "reference": reference})


def notify_url(provider: str) -> str:
    from django.conf import settings

    return settings.SITE_URL + reverse("payments:webhook", kwargs={"provider": provider})

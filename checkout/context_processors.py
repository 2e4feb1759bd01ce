from collections.abc import Callable
from functools import cache

from django.http import HttpRequest

from .selectors import cart_items


def cart(request: HttpRequest) -> dict[str, Callable[[], int]]:
    """The item count for the header: from the session, without a query unless a checkout is
    open (then what its paid order bought is no longer counted).

    Counted when the page first shows it, once per page, and not at all on a page whose view
    already counted its cart (the checkout passes `cart_count` itself, which hides this)."""

    @cache
    def count() -> int:
        session = getattr(request, "session", None)
        raw = cart_items(session) if session is not None else {}
        return sum(int(q) for q in raw.values())

    return {"cart_count": count}

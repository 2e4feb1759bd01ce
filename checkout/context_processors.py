from django.http import HttpRequest

from .selectors import cart_items


def cart(request: HttpRequest) -> dict[str, int]:
    """The item count for the header: from the session, without a query unless a checkout is
    open (then what its paid order bought is no longer counted)."""
    session = getattr(request, "session", None)
    raw = cart_items(session) if session is not None else {}
    return {"cart_count": sum(int(q) for q in raw.values())}

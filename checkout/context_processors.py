from django.http import HttpRequest

from .selectors import CART_SESSION_KEY


def cart(request: HttpRequest) -> dict[str, int]:
    """The item count for the header, read from the session without a query."""
    session = getattr(request, "session", None)
    raw = session.get(CART_SESSION_KEY, {}) if session is not None else {}
    return {"cart_count": sum(int(q) for q in raw.values())}

"""When money sent back reaches the customer, per kind of method: the one table.

Withdrawal and refund pages both read it, so a card always says the same thing everywhere.
"""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

# Method kind (PaymentMethod.Kind) -> (shortest, longest) business days, and the words shown.
ARRIVAL: dict[str, tuple[int, int, Promise]] = {
    "card": (5, 10, _("usually 5–10 business days")),
    "alipay": (0, 0, _("usually within minutes")),
    "wechat_pay": (0, 0, _("usually within minutes")),
    "wallet": (0, 0, _("at once")),
}


def arrival_words(kind: str) -> str:
    """The expected arrival of money sent back to a method of this kind, in words."""
    row = ARRIVAL.get(kind)
    return str(row[2]) if row else str(_("the time your payment provider takes"))

from django import template
from django.utils.translation import get_language

from payments.models import PaymentAttempt
from payments.money import format_money
from payments.selectors import attempt_paid_with

register = template.Library()


@register.simple_tag
def money(amount: int, currency: str) -> str:
    """{% money order.total order.currency %} -> "$12.00" (or "US$12.00" in Chinese)."""
    return format_money(int(amount), currency, get_language() or "en")


@register.filter
def paid_with(attempt: PaymentAttempt) -> str:
    """{{ attempt|paid_with }} -> "Visa ···4242", or the method's label when no card is known."""
    return attempt_paid_with(attempt)

from django import template
from django.utils.translation import get_language

from payments.money import format_money

register = template.Library()


@register.simple_tag
def money(amount: int, currency: str) -> str:
    """{% money order.total order.currency %} -> "$12.00" (or "US$12.00" in Chinese)."""
    return format_money(int(amount), currency, get_language() or "en")

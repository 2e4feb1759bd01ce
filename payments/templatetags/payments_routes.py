"""What the customer is told about routes: nothing, unless the page they see differs."""

from django import template

from ..models import PaymentAttempt
from ..selectors import goes_through_other_channel

register = template.Library()


@register.simple_tag
def other_channel(attempt: PaymentAttempt | None) -> bool:
    """Whether this attempt's redirect page is another channel's (issue 15)."""
    return attempt is not None and goes_through_other_channel(attempt)

from django import template

from payments.models import MethodHealth

register = template.Library()


@register.simple_tag
def unhealthy_methods() -> list[MethodHealth]:
    """Methods that are degraded or whose circuit is open: the admin's banner."""
    return list(
        MethodHealth.objects.exclude(state=MethodHealth.State.HEALTHY)
        .select_related("method")
        .order_by("method__code")
    )

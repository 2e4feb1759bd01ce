from __future__ import annotations

from urllib.parse import quote

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _


def contact(request: HttpRequest) -> HttpResponse:
    """How to reach a person, with what we already know filled in so nobody has to retype it.

    The support-desk issue turns this into tickets and live chat with the attempt attached.
    """
    order = request.GET.get("order", "")[:20]
    attempt = request.GET.get("attempt", "")[:36]
    code = request.GET.get("code", "")[:60]
    subject = _("Help with order %(number)s") % {"number": order} if order else _("Help")
    lines = [
        f"{label}: {value}"
        for label, value in ((_("Order"), order), (_("Payment"), attempt), (_("Reason code"), code))
        if value
    ]
    mailto = f"mailto:{settings.SUPPORT_EMAIL}?subject={quote(subject)}"
    if lines:
        mailto += "&body=" + quote("\n".join(lines) + "\n\n")
    context = {
        "order_number": order,
        "support_email": settings.SUPPORT_EMAIL,
        "mailto": mailto,
        "details": lines,
    }
    return render(request, "support/contact.html", context)

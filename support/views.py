from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def contact(request: HttpRequest) -> HttpResponse:
    """How to reach a person. The support-desk issue turns this into tickets and live chat."""
    context = {
        "order_number": request.GET.get("order", "")[:20],
        "support_email": settings.SUPPORT_EMAIL,
    }
    return render(request, "support/contact.html", context)

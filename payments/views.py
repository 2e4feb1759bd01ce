"""The simulator's own pages: what a bank's 3D Secure challenge, Alipay's redirect or a WeChat Pay
QR code would show. They exist only so the demo and the tests can walk those journeys offline."""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from config import metrics

from . import services
from .gateways.simulator import SIMULATOR_PROVIDERS
from .models import PaymentAttempt

logger = logging.getLogger(__name__)


@require_http_methods(["GET", "POST"])
def simulator_action(request: HttpRequest, reference: str) -> HttpResponse:
    attempt = get_object_or_404(
        PaymentAttempt.objects.select_related("method", "order"),
        provider__in=SIMULATOR_PROVIDERS,
        provider_reference=reference,
    )
    if request.method == "POST":
        decision = request.POST.get("decision", "")
        if decision not in {"approve", "decline", "abandon"}:
            raise Http404
        attempt = services.simulator_action_complete(reference=reference, decision=decision)
        target = attempt.return_url
        if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
            return redirect(target)
        return redirect("checkout:product_list")
    return render(request, "payments/simulator_action.html", {"attempt": attempt})


@csrf_exempt  # Providers cannot send our CSRF token; the signature is the proof instead.
@require_POST
def webhook(request: HttpRequest, provider: str) -> HttpResponse:
    """Verify, store once, answer at once; a Celery task does the work."""
    if provider not in {"stripe", *SIMULATOR_PROVIDERS}:
        raise Http404
    if provider in SIMULATOR_PROVIDERS and (settings.STRIPE_SECRET_KEY or not settings.DEBUG):
        # The simulator hands its events to webhook_ingest in-process; this door exists only
        # for trying events by hand in a demo, never beside real money or in production.
        raise Http404
    try:
        _event, created = services.webhook_ingest(
            provider=provider,
            body=request.body,
            signature=request.headers.get("Stripe-Signature", ""),
        )
    except services.WebhookRejected as exc:
        logger.warning("webhook from %s rejected: %s", provider, exc)
        metrics.record_webhook(provider=provider, outcome="rejected")
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse({"received": True, "duplicate": not created})

"""The simulator's own pages: what a bank's 3D Secure challenge, Alipay's redirect or a WeChat Pay
QR code would show. They exist only so the demo and the tests can walk those journeys offline."""

from __future__ import annotations

import logging

import segno
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from config import metrics

from . import selectors, services
from .gateways.simulator import SIMULATOR_PROVIDERS
from .models import PaymentAttempt
from .services.webhooks import NOTIFICATIONS

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


# Where a direct Alipay or WeChat Pay attempt shows its QR code (gateways/china.py links here).
QR_PROVIDERS = {"alipay", "wechatpay"}


@require_http_methods(["GET"])
def qr_code(request: HttpRequest, provider: str, reference: str) -> HttpResponse:
    """The provider's QR code for an attempt waiting for the customer, drawn on the server as
    an SVG image (no script). The code comes from the provider's own answer, stored with the
    attempt: this page never draws a code it was handed in the address."""
    if provider not in QR_PROVIDERS:
        raise Http404
    attempt = get_object_or_404(
        PaymentAttempt.objects.select_related("method", "order"),
        provider=provider,
        provider_reference=reference,
    )
    code = selectors.attempt_qr_code(attempt)
    image = ""
    if attempt.status == PaymentAttempt.Status.REQUIRES_ACTION and code:
        image = segno.make(code, error="m").svg_data_uri(scale=6, border=4, light="white")
    return render(
        request,
        "payments/qr_code.html",
        {"attempt": attempt, "provider": provider, "image": image},
    )


@csrf_exempt  # Providers cannot send our CSRF token; the signature is the proof instead.
@require_POST
def webhook(request: HttpRequest, provider: str) -> HttpResponse:
    """Verify, store once, answer at once; a Celery task does the work."""
    if provider in NOTIFICATIONS:
        return _notification(request, provider)
    if provider == "adyen":
        return _adyen_webhook(request)
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


def _notification(request: HttpRequest, provider: str) -> HttpResponse:
    """Alipay and WeChat Pay answer their own way: Alipay wants the word "success" (anything
    else is a failure it retries), WeChat Pay a 2xx (or a 4xx/5xx with code FAIL)."""
    try:
        _event, created = services.notification_ingest(
            provider=provider, body=request.body, headers=request.headers
        )
    except services.WebhookRejected as exc:
        logger.warning("notification from %s rejected: %s", provider, exc)
        metrics.record_webhook(provider=provider, outcome="rejected")
        if provider == "alipay":
            return HttpResponse("fail", status=400, content_type="text/plain")
        return JsonResponse({"code": "FAIL", "message": "rejected"}, status=400)
    if provider == "alipay":
        return HttpResponse("success", content_type="text/plain")
    return JsonResponse({"code": "SUCCESS", "message": "duplicate" if not created else ""})


def _adyen_webhook(request: HttpRequest) -> HttpResponse:
    """Adyen's standard notifications: HMAC per item; Adyen expects the body `[accepted]`."""
    if not settings.ADYEN_HMAC_KEY:
        raise Http404
    try:
        services.adyen_notification_ingest(body=request.body)
    except services.WebhookRejected as exc:
        logger.warning("webhook from adyen rejected: %s", exc)
        metrics.record_webhook(provider="adyen", outcome="rejected")
        return JsonResponse({"error": str(exc)}, status=400)
    return HttpResponse("[accepted]", content_type="text/plain")

from __future__ import annotations

import math
from typing import Any

from axes.models import AccessAttempt
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods

from config.shopper_time import time_label

from . import ratelimit, services
from .client_ip import client_ip
from .forms import (
    DeleteAccountForm,
    EmailAuthenticationForm,
    QueuedPasswordResetForm,
    RegisterForm,
)
from .responses import too_many_requests, wants_json
from .typing import AuthenticatedHttpRequest


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass


def locked_out(
    request: HttpRequest, original_response: Any = None, credentials: dict | None = None
) -> HttpResponse:
    """Shown by django-axes (AXES_LOCKOUT_CALLABLE) when an account is locked, and by our own
    sign-in limits (accounts.backends): how long the pause is, and the way out now (a password
    reset lifts the account lock)."""
    limit = getattr(request, "accounts_limit", None)
    if limit is not None:
        reason, retry_after = limit
        messages_by_reason = {
            "ip": _(
                "There were too many unsuccessful sign-ins from your network, so sign-in from "
                "it is paused for a while, for everyone's safety."
            ),
            "account": _(
                "There were too many unsuccessful sign-ins to this account in the last hour, "
                "so sign-in to it is paused for a while, for your safety."
            ),
            "rate": _("There were too many sign-in attempts from your network in a short time."),
        }
        return too_many_requests(
            request,
            retry_after,
            reason_shown=True,
            template="accounts/locked.html",
            context={
                "reason": messages_by_reason.get(reason, messages_by_reason["rate"]),
                "kind": reason,
            },
        )
    cool_off = settings.AXES_COOLOFF_TIME
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    last = (
        AccessAttempt.objects.filter(
            username__iexact=username, ip_address=getattr(request, "axes_ip_address", None)
        )
        .order_by("-attempt_time")
        .values_list("attempt_time", flat=True)
        .first()
    )
    # Failures during the lockout do not move this (AXES_RESET_COOL_OFF_ON_FAILURE_DURING_
    # LOCKOUT is off), so the time we show is the time it really ends.
    unlock_at = (last or timezone.now()) + cool_off
    seconds_left = max(0, (unlock_at - timezone.now()).total_seconds())
    if wants_json(request):
        minutes = max(1, math.ceil(seconds_left / 60))
        message = ngettext(
            "This account is temporarily locked after too many unsuccessful sign-ins. "
            "You can try again at %(time)s, in %(minutes)d minute, or reset your password now.",
            "This account is temporarily locked after too many unsuccessful sign-ins. "
            "You can try again at %(time)s, in %(minutes)d minutes, or reset your password now.",
            minutes,
        ) % {"time": time_label(unlock_at), "minutes": minutes}
        return too_many_requests(request, math.ceil(seconds_left), message=message)
    context = {
        "minutes": max(1, math.ceil(seconds_left / 60)),
        "unlock_at": unlock_at,
        "unlock_label": time_label(unlock_at),
    }
    response = render(request, "accounts/locked.html", context, status=429)
    response["Retry-After"] = str(math.ceil(seconds_left))
    return response


@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    # Sign-up says plainly when an email already has an account (a shop that hid it would send
    # people round in circles); ASVS accepts that only behind a rate limit, so sign-ups per
    # client IP are limited. Reset pages, by contrast, never reveal whether an account exists.
    if request.method == "POST":
        rate = ratelimit.hit_named("register_ip", client_ip(request))
        if not rate.allowed:
            return too_many_requests(request, rate.retry_after)
    form = RegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = services.user_register(
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password"],
            full_name=form.cleaned_data["full_name"],
        )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        target = request.POST.get("next", "")
        if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
            return redirect(target)
        return redirect(settings.LOGIN_REDIRECT_URL)
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "next": request.GET.get("next", "")}
    return render(request, "accounts/register.html", context, status=status)


class PasswordResetView(auth_views.PasswordResetView):
    """The same page whether or not the address has an account: no enumeration."""

    template_name = "accounts/password_reset.html"
    form_class = QueuedPasswordResetForm
    email_template_name = "emails/password_reset.txt"
    subject_template_name = "emails/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # Keyed on the address as typed, known or not: the limit itself reveals nothing.
        email = request.POST.get("email", "").strip().lower()
        refused = ratelimit.first_refusal(
            ratelimit.hit_named("reset_ip", client_ip(request)),
            ratelimit.hit_named("reset_target", email),
        )
        if refused:
            return too_many_requests(request, refused.retry_after)
        return super().post(request, *args, **kwargs)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        services.user_password_was_reset(user=form.user)
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"


def _reauth_refused(request: HttpRequest) -> ratelimit.RateResult | None:
    """Pages that check the current password are limited per account, so a session left open
    cannot be used to guess it."""
    if request.method != "POST":
        return None
    return ratelimit.hit_each(("reauth", request.user.pk))


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's view keeps this session (update_session_auth_hash); every other session ends
    because it was tied to the old password hash."""

    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("account")

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        refused = _reauth_refused(request)
        if refused:
            return too_many_requests(request, refused.retry_after)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        messages.success(
            self.request, _("Your password is changed. Other devices have been signed out.")
        )
        return response


@login_required
@require_http_methods(["GET", "POST"])
def delete_account(request: AuthenticatedHttpRequest) -> HttpResponse:
    refused = _reauth_refused(request)
    if refused:
        return too_many_requests(request, refused.retry_after)
    form = DeleteAccountForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.user_delete_account(user=request.user)
        logout(request)
        return redirect("accounts:deleted")
    status = 400 if form.errors else 200
    return render(request, "accounts/delete_account.html", {"form": form}, status=status)


def account_deleted(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/deleted.html")

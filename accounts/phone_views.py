"""Phone numbers verified by SMS, and password reset by SMS code.

Reset: phone number -> 6-digit code -> new password. Every number, known or not, goes through
the same steps, pages, status codes and work (accounts.services.sms_reset_start), so nothing
here says whether a number belongs to an account.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import SetPasswordForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from . import ratelimit, services
from .client_ip import client_ip
from .forms import CodeForm, PhoneForm
from .models import PhoneCode, User
from .responses import too_many_requests
from .typing import AuthenticatedHttpRequest

RESET_KEY = "accounts_sms_reset"
RESET_OK_KEY = "accounts_sms_reset_ok"
VERIFY_KEY = "accounts_phone_verify"


def _send_limits(request: HttpRequest, phone: str) -> ratelimit.RateResult | None:
    """Resend limits for one number (1 a minute, 5 an hour by default) and per client IP.
    Keyed on the number as typed, so known and unknown numbers are limited alike."""
    return ratelimit.hit_each(
        ("sms_send_ip", client_ip(request)),
        ("sms_send_minute", phone),
        ("sms_send_hour", phone),
    )


def _code_error(result: services.CodeCheckResult) -> str:
    if result.outcome is services.CodeCheck.WRONG:
        return ngettext(
            "That code is not right. You can try %(n)d more time.",
            "That code is not right. You can try %(n)d more times.",
            result.guesses_left,
        ) % {"n": result.guesses_left}
    if result.outcome is services.CodeCheck.USED_UP:
        return _("That code was wrong too many times and no longer works. Ask for a new code.")
    return _("That code has expired or was already used. Ask for a new code.")


def _code_page(
    request: HttpRequest, form: CodeForm, *, phone: str, resend_url: str, intro: str, title: str
) -> HttpResponse:
    context = {
        "form": form,
        "phone": phone,
        "resend_url": resend_url,
        "intro": intro,
        "title": title,
        "minutes": settings.SMS_CODE_MINUTES,
    }
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "accounts/sms_code.html", context, status=status)


# --- Reset by SMS ---------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def sms_reset(request: HttpRequest) -> HttpResponse:
    form = PhoneForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        phone = form.cleaned_data["phone"]
        refused = _send_limits(request, phone)
        if refused:
            return too_many_requests(request, refused.retry_after)
        code, clear = services.sms_reset_start(phone=phone)
        services.phone_code_send(code=code, clear_code=clear)
        request.session[RESET_KEY] = {"code_id": code.pk, "phone": phone}
        request.session.pop(RESET_OK_KEY, None)
        return redirect("accounts:sms_reset_code")
    status = 400 if form.errors else 200
    context = {"form": form, "minutes": settings.SMS_CODE_MINUTES}
    return render(request, "accounts/sms_reset.html", context, status=status)


def _check_code(
    request: HttpRequest, state: dict[str, Any], purpose: PhoneCode.Purpose, form: CodeForm
) -> HttpResponse | services.CodeCheckResult:
    """One guess at the code in this session's state, counted against the client's limit."""
    rate = ratelimit.hit_named("code_check_ip", client_ip(request))
    if not rate.allowed:
        return too_many_requests(request, rate.retry_after)
    return services.phone_code_check(
        code_id=state["code_id"], purpose=purpose, guess=form.cleaned_data["code"]
    )


@require_http_methods(["GET", "POST"])
def sms_reset_code(request: HttpRequest) -> HttpResponse:
    state = request.session.get(RESET_KEY)
    if not state:
        return redirect("accounts:sms_reset")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        result = _check_code(request, state, PhoneCode.Purpose.RESET, form)
        if isinstance(result, HttpResponse):
            return result
        if result.outcome is services.CodeCheck.OK and result.code is not None:
            request.session.pop(RESET_KEY, None)
            request.session[RESET_OK_KEY] = {
                "user_id": result.code.user_id,
                "at": timezone.now().timestamp(),
            }
            return redirect("accounts:sms_reset_password")
        form.add_error("code", _code_error(result))
    return _code_page(
        request,
        form,
        phone=state["phone"],
        resend_url="accounts:sms_reset",
        title=_("Enter the code we sent"),
        intro=_(
            "If this number is verified on an account, we have sent it a 6-digit code. "
            "Enter it here to choose a new password."
        ),
    )


def _reset_user(request: HttpRequest) -> User | None:
    state = request.session.get(RESET_OK_KEY)
    if not state:
        return None
    # The right code opens the new-password step for as long as a code itself lives.
    if timezone.now().timestamp() - state["at"] > settings.SMS_CODE_MINUTES * 60:
        request.session.pop(RESET_OK_KEY, None)
        return None
    return User.objects.filter(pk=state["user_id"], is_active=True).first()


@require_http_methods(["GET", "POST"])
def sms_reset_password(request: HttpRequest) -> HttpResponse:
    user = _reset_user(request)
    if user is None:
        messages.error(request, _("That step has expired. Please start again."))
        return redirect("accounts:sms_reset")
    form = SetPasswordForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.sms_reset_finish(user=user, password=form.cleaned_data["new_password1"])
        request.session.pop(RESET_OK_KEY, None)
        return redirect("accounts:password_reset_complete")
    status = 400 if form.errors else 200
    return render(request, "accounts/sms_reset_password.html", {"form": form}, status=status)


# --- Verify a phone number on the profile ----------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def phone_add(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = PhoneForm(request.POST or None, initial={"phone": request.user.phone})
    if request.method == "POST" and form.is_valid():
        phone = form.cleaned_data["phone"]
        refused = _send_limits(request, phone) or ratelimit.hit_each(
            ("sms_send_hour", f"user:{request.user.pk}")
        )
        if refused:
            return too_many_requests(request, refused.retry_after)
        code, clear = services.phone_verify_start(user=request.user, phone=phone)
        services.phone_code_send(code=code, clear_code=clear)
        request.session[VERIFY_KEY] = {"code_id": code.pk, "phone": phone}
        return redirect("accounts:phone_verify")
    status = 400 if form.errors else 200
    return render(request, "accounts/phone.html", {"form": form}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def phone_verify(request: AuthenticatedHttpRequest) -> HttpResponse:
    state = request.session.get(VERIFY_KEY)
    if not state:
        return redirect("accounts:phone")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        result = _check_code(request, state, PhoneCode.Purpose.VERIFY, form)
        if isinstance(result, HttpResponse):
            return result
        code = result.code
        if result.outcome is services.CodeCheck.OK and code and code.user_id == request.user.pk:
            services.phone_verify_confirm(user=request.user, code=code)
            request.session.pop(VERIFY_KEY, None)
            messages.success(request, _("Your phone number is verified and saved."))
            return redirect("account")
        form.add_error("code", _code_error(result))
    return _code_page(
        request,
        form,
        phone=state["phone"],
        resend_url="accounts:phone",
        title=_("Verify your phone number"),
        intro=_("We have sent a 6-digit code to this number. Enter it to save the number."),
    )


@login_required
@require_POST
def phone_remove(request: AuthenticatedHttpRequest) -> HttpResponse:
    services.phone_remove(user=request.user)
    messages.success(request, _("Your phone number is removed."))
    return redirect("account")

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .forms import EmailAuthenticationForm


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass


def locked_out(
    request: HttpRequest, credentials: dict | None = None, *args, **kwargs
) -> HttpResponse:
    """Shown by django-axes when an account is locked; the accounts issue adds the exact wait."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return render(request, "accounts/locked.html", {"minutes": minutes}, status=429)

"""Types for views: what a view behind @login_required (or the admin) really receives."""

from __future__ import annotations

from django.http import HttpRequest

from .models import User


class AuthenticatedHttpRequest(HttpRequest):
    """A request whose user is signed in: @login_required has already sent anyone else to the
    sign-in page, so `request.user` is a User, never AnonymousUser. Annotation only (the
    django-stubs recipe); nothing ever constructs one."""

    user: User

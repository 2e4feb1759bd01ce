"""Refuse requests carrying control characters before any view or query sees them.

A NUL byte (`%00`) in a path, a query string, a form field or a cookie reached PostgreSQL, which
refuses NUL in text, and every such request became a 500 that emailed the admins. No URL,
search or cookie of ours has a use for control characters, so they are one 400 here instead of
a check in every view. Form fields only lose NUL: a textarea legitimately sends tabs and line
breaks (Django's form fields already refuse NUL; this also covers code that reads POST directly,
such as django-axes recording a failed sign-in's username).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.defaults import bad_request

logger = logging.getLogger(__name__)

# The API answers in JSON, the documented error shape (config.api_schema), never an HTML page.
API_PREFIX = "/api/"

# C0 controls and DEL: never part of a path or a cookie.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# In query values a tab or a line break is odd but harmless (a GET form with a textarea).
_QUERY_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class BadInput(Exception):
    """What `bad_request` is given to render; never raised past this module."""


def _any(pattern: re.Pattern[str], values: Iterable[str]) -> bool:
    return any(pattern.search(value) for value in values)


def _query_items(request: HttpRequest) -> Iterable[str]:
    for key, values in request.GET.lists():
        yield key
        yield from values


def _form_items(request: HttpRequest) -> Iterable[str]:
    for key, values in request.POST.lists():
        yield key
        yield from (v for v in values if isinstance(v, str))


def refusal(request: HttpRequest) -> str:
    """Which part of the request carries a character we refuse, or "" when none does."""
    if _CONTROL.search(request.path_info) or _CONTROL.search(request.path):
        return "path"
    if _any(_QUERY_CONTROL, _query_items(request)):
        return "query string"
    if _any(_CONTROL, (*request.COOKIES.keys(), *request.COOKIES.values())):
        return "cookie"
    if request.method == "POST" and request.content_type in _FORM_TYPES:
        # Read the raw body first, so a view that wants it (a webhook) can still have it after
        # the form is parsed here; nothing of ours takes uploads, and the size limit still holds.
        request.body  # noqa: B018
        if any("\x00" in item for item in _form_items(request)):
            return "form data"
    return ""


class RejectControlCharactersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        where = refusal(request)
        if where:
            # A warning, not an error: hostile input is expected and must not page anyone.
            logger.warning("Refused a control character in the %s of %r", where, request.path)
            if request.path_info.startswith(API_PREFIX):
                detail = _("The request contains a control character, which is not allowed.")
                return JsonResponse({"error": "invalid", "detail": detail}, status=400)
            return bad_request(request, BadInput(where))
        return self.get_response(request)

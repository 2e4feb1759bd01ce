"""Request-wide middleware."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase

from .request_context import new_request_id, request_id_bound

REQUEST_ID_HEADER = "X-Request-ID"
# What we accept from outside: a proxy's or a client's id is kept so one id spans the load
# balancer's log and ours, but only a short plain token, so nobody can write newlines, markup
# or megabytes into every log line and Sentry tag.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def incoming_request_id(request: HttpRequest) -> str:
    """The caller's X-Request-ID when it is a sane token, else a new id."""
    given = request.headers.get(REQUEST_ID_HEADER, "")
    return given if _SANE_REQUEST_ID.fullmatch(given) else new_request_id()


class RequestIdMiddleware:
    """Bind one id for the whole request (logs, queued tasks, outbox rows, Sentry events) and
    answer it in X-Request-ID, so a customer's "it failed" can be found in the logs.

    Works in both modes. Django awaits it when everything after it is async; with a sync-only
    middleware after it (as now) it runs in the thread asgiref gives the sync chain under
    daphne. Either way the id is a context variable, so it follows into threads and tasks.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self._async:
            return self._acall(request)
        with request_id_bound(incoming_request_id(request)) as request_id:
            request.request_id = request_id  # type: ignore[attr-defined]
            response: HttpResponseBase = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]] = self.get_response
        with request_id_bound(incoming_request_id(request)) as request_id:
            request.request_id = request_id  # type: ignore[attr-defined]
            response = await get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response
